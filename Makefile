# Baby Owl. `make run` installs everything and serves the demo school on the
# embedded default (SQLite, jobs inline); `make test` runs the whole suite
# against PostgreSQL and Redis.
.PHONY: setup run test translations

HOST ?= 127.0.0.1
PORT ?= 5000
FLASK = .venv/bin/flask --app babyowl

setup:
	@bash scripts/setup.sh

run: setup
	@$(FLASK) db upgrade
	@$(FLASK) seed-demo
	@echo "Baby Owl is running at http://$(HOST):$(PORT)/  (Ctrl+C to stop)"
	@$(FLASK) run --host $(HOST) --port $(PORT)

test: setup
	@bash scripts/test.sh

# Re-extract strings after changing templates or code, then translate babyowl/translations/id.
translations:
	.venv/bin/pybabel extract -F babel.cfg -k _l --no-location --sort-output -w 120 -o babyowl/translations/messages.pot babyowl
	.venv/bin/pybabel update -i babyowl/translations/messages.pot -d babyowl/translations --no-fuzzy-matching -w 120
