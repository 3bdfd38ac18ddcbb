#!/usr/bin/env bash
# Copy the installed npm packages the app serves into babyowl/static/vendor/,
# each with its licence beside it. No CDN at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=babyowl/static/vendor
# Unchanged packages keep their copy (and the snapshot and compressed files built from it).
stamp=$(cat package-lock.json scripts/vendor_static.sh 2>/dev/null | sha256sum | cut -c1-16)
if [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$stamp" ]; then
  exit 0
fi
rm -rf "$dest"
mkdir -p "$dest/htmx"
cp node_modules/htmx.org/dist/htmx.min.js "$dest/htmx/"
cp node_modules/htmx.org/LICENSE "$dest/htmx/LICENSE"
node -e 'console.log(require("./node_modules/htmx.org/package.json").version)' > "$dest/htmx/VERSION"
# Pyodide: the interpreter only (the npm package carries no package wheels).
# The server's grader runs these very files under Node, so browser and grader
# are the same version.
mkdir -p "$dest/pyodide"
for f in pyodide.mjs pyodide.js pyodide.asm.mjs pyodide.asm.wasm python_stdlib.zip pyodide-lock.json package.json; do
  cp "node_modules/pyodide/$f" "$dest/pyodide/"
done
cp node_modules/pyodide/README.md "$dest/pyodide/README.md"
node -e 'console.log(require("./node_modules/pyodide/package.json").version)' > "$dest/pyodide/VERSION"
# Monaco editor: the minified AMD build (loader.js + vs/), used by the coding page only.
mkdir -p "$dest/monaco"
cp -r node_modules/monaco-editor/min/vs "$dest/monaco/vs"
cp node_modules/monaco-editor/LICENSE "$dest/monaco/LICENSE"
cp node_modules/monaco-editor/ThirdPartyNotices.txt "$dest/monaco/ThirdPartyNotices.txt"
node -e 'console.log(require("./node_modules/monaco-editor/package.json").version)' > "$dest/monaco/VERSION"
# Swagger UI: the API's docs page (/api/v1/docs), the standalone bundle and its stylesheet.
mkdir -p "$dest/swagger-ui"
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css "$dest/swagger-ui/"
cp node_modules/swagger-ui-dist/LICENSE node_modules/swagger-ui-dist/NOTICE "$dest/swagger-ui/"
node -e 'console.log(require("./node_modules/swagger-ui-dist/package.json").version)' > "$dest/swagger-ui/VERSION"
# Each package also under its pinned version (vendor/pyodide@314.0.7 -> pyodide): the URLs the app
# builds, cached for a year (babyowl/static_files.py), served from disk by WhiteNoise or nginx alike.
for version_file in "$dest"/*/VERSION; do
  name=$(basename "$(dirname "$version_file")")
  ln -sfn "$name" "$dest/$name@$(cat "$version_file")"
done
echo "$stamp" > "$dest/.stamp"
