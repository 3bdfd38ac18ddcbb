#!/usr/bin/env bash
# Copy the installed npm packages the app serves into babyowl/static/vendor/,
# each with its licence beside it. No CDN at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=babyowl/static/vendor
rm -rf "$dest"
mkdir -p "$dest/htmx"
cp node_modules/htmx.org/dist/htmx.min.js "$dest/htmx/"
cp node_modules/htmx.org/LICENSE "$dest/htmx/LICENSE"
node -e 'console.log(require("./node_modules/htmx.org/package.json").version)' > "$dest/htmx/VERSION"
