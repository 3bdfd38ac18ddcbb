"""Static files: served by WhiteNoise in front of the app, cached for a year where the URL says the version.

- A request for a file never reaches Flask: no session is opened, no cookie set, no `Vary: Cookie`, no
  rate-limit counter spent (the coding page alone loads ~100 of Monaco's files).
- Vendored packages are served under their pinned version (`/static/vendor/pyodide@314.0.7/...`: a link
  `scripts/vendor_static.sh` makes from the package's `VERSION`) with `Cache-Control: public, max-age=31536000,
  immutable`: a new version is a new URL. `url_for("static", filename="vendor/<name>/...")` builds that URL.
- Our own files (a few small ones that change with every deploy) are revalidated (`max-age=0` with an ETag).
- Files compressed ahead of time by `scripts/compress_static.py` (`.br`, `.gz` beside the file) are sent
  with `Content-Encoding` to a browser that accepts it; students are on mobile data.
"""
from __future__ import annotations

import re
from pathlib import Path

from flask import Flask, url_for

from babyowl.grading.packages import LOCK_FILE, packages_dir

VERSIONED = re.compile(r"^/static/vendor/[^/]+@[^/]+/")
PYODIDE = "vendor/pyodide/"
# The browser's memory snapshot of Python, made for this exact Pyodide by scripts/make_browser_snapshot.mjs;
# gzip-compressed, unpacked by the runner's worker.
SNAPSHOT = "browser-snapshot.bin.gz"
# What the coding page fetches and hands to the runner frame (runner.js): name → file under static/.
RUNNER_FILES = {
    "mjs": PYODIDE + "pyodide.mjs",
    "asmMjs": PYODIDE + "pyodide.asm.mjs",
    "wasm": PYODIDE + "pyodide.asm.wasm",
    "stdlib": PYODIDE + "python_stdlib.zip",
    "prelude": "coding/prelude.py",
    "turtle": "coding/turtle.py",
}


def vendor_versions(static_folder: str | Path) -> dict[str, str]:
    """{package: pinned version} of the vendored packages served under a versioned path.

    `scripts/vendor_static.sh` links `vendor/<name>@<version>` to `vendor/<name>`: the same path on disk
    for WhiteNoise and for nginx (deploy/nginx serves /static/ from disk). Without the link, a package's
    URLs stay unversioned (revalidated, never wrong).
    """
    versions = {}
    for version_file in sorted(Path(static_folder, "vendor").glob("*/VERSION")):
        name, version = version_file.parent.name, version_file.read_text().strip()
        if "@" not in name and re.fullmatch(r"[0-9A-Za-z.+-]+", version) and \
                Path(static_folder, "vendor", f"{name}@{version}").is_dir():
            versions[name] = version
    return versions


def serve_static(app: Flask) -> None:
    from whitenoise import WhiteNoise

    from babyowl.security import static_headers

    static_folder = Path(app.static_folder)
    versions = vendor_versions(static_folder)
    production = app.config["ENV_NAME"] == "production"
    server = WhiteNoise(app.wsgi_app, root=str(static_folder), prefix=app.static_url_path, max_age=0,
                        autorefresh=not production, immutable_file_test=lambda path, url: bool(VERSIONED.match(url)),
                        add_headers_function=lambda headers, path, url: static_headers(headers, production))
    server.FOREVER = 365 * 24 * 3600  # a year, as browsers and proxies cap it anyway
    app.wsgi_app = server

    @app.url_defaults
    def versioned_vendor_url(endpoint: str, values: dict) -> None:
        filename = values.get("filename") if endpoint == "static" else None
        if not filename or not filename.startswith("vendor/"):
            return
        _, name, *rest = filename.split("/", 2)
        if name in versions:
            values["filename"] = f"vendor/{name}@{versions[name]}/" + (rest[0] if rest else "")


def runner_files() -> dict[str, str | None]:
    """URLs of the files the runner needs, the lock file of the packages it may load included."""
    from flask import current_app

    urls = {name: url_for("static", filename=filename) for name, filename in RUNNER_FILES.items()}
    urls["lock"] = (url_for("coding.package_file", filename=LOCK_FILE) if packages_dir()
                    else url_for("static", filename=PYODIDE + LOCK_FILE))
    snapshot = Path(current_app.static_folder, PYODIDE, SNAPSHOT)
    urls["snapshot"] = url_for("static", filename=PYODIDE + SNAPSHOT) if snapshot.is_file() else None
    return urls


def runner_locations() -> dict[str, str]:
    """Absolute URLs the runner frame gives Pyodide: its indexURL, and where the lock file's wheels are."""
    index = url_for("static", filename=RUNNER_FILES["mjs"], _external=True).rsplit("/", 1)[0] + "/"
    packages = (url_for("coding.package_file", filename=LOCK_FILE, _external=True).rsplit("/", 1)[0] + "/"
                if packages_dir() else index)
    return {"index": index, "packages": packages}
