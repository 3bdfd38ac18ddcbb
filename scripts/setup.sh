#!/usr/bin/env bash
# Install everything Baby Owl needs into this checkout: a Python virtualenv with
# the package and its test tools, the front-end packages from npm, and the
# compiled translations. Safe to run again; it redoes only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Baby Owl needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi

stamp=.setup-stamp
inputs=$(cat pyproject.toml package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$inputs" ] || [ ! -d node_modules ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --silent; else npm install --no-audit --no-fund --silent; fi
  echo "$inputs" > "$stamp"
fi
# Browser tests drive Debian's Chromium through Playwright (Playwright's own
# browser download is not available here); PDF reports use the DejaVu fonts so
# that names outside Latin-1 print. All come from Debian's packages.
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$missing fonts-dejavu-core"
# The grader runs every submission in a bubblewrap sandbox.
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
# The scale-out test (tests/ops) runs Debian's nginx, with its brotli modules, in
# front of two app servers, and PgBouncer in front of PostgreSQL: deploy/ as deployed.
[ -x /usr/sbin/nginx ] || missing="$missing nginx"
[ -f /usr/lib/nginx/modules/ngx_http_brotli_filter_module.so ] || missing="$missing libnginx-mod-http-brotli-filter"
[ -f /usr/lib/nginx/modules/ngx_http_brotli_static_module.so ] || missing="$missing libnginx-mod-http-brotli-static"
[ -x /usr/sbin/pgbouncer ] || missing="$missing pgbouncer"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing$missing (apt-get)..."
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq $missing >/dev/null
  else
    echo "Missing Debian packages:$missing (browser tests need chromium, grading needs bubblewrap, tests/ops need nginx and pgbouncer; PDFs fall back to Helvetica)." >&2
  fi
fi
bash scripts/vendor_static.sh
# The coding page restores Python from a memory snapshot made for this exact Pyodide, and every vendored
# file is sent compressed (.br/.gz made here, once).
if [ ! -f babyowl/static/vendor/pyodide/browser-snapshot.bin.gz ]; then
  node scripts/make_browser_snapshot.mjs babyowl/static/vendor/pyodide
fi
.venv/bin/python scripts/compress_static.py --quiet babyowl/static/vendor
.venv/bin/python scripts/vendor_packages.py
# The grader's Pyodide memory snapshot for this exact build (skipped when it is already there).
.venv/bin/python -m babyowl.grading.snapshot build
.venv/bin/pybabel compile -d babyowl/translations -f >/dev/null
