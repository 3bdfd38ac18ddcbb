#!/usr/bin/env bash
# Run the whole suite against a real PostgreSQL and a real Redis.
# They must be reachable: the suite refuses to run (and fails) without them.
set -euo pipefail
cd "$(dirname "$0")/.."
export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/babyowl_test}
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
# Lint first: cheap, and a broken import shows up here rather than as 400 errors.
.venv/bin/ruff check --quiet babyowl tests worker.py migrations
# Two processes by default (the machines have 2 cores): each gets its own
# database (<name>_gw0, _gw1) and Redis database (15, 14). TEST_WORKERS=0 runs
# everything in one process.
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" "$@"
