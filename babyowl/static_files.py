"""Static files: where the coding page's runner gets its files from."""
from __future__ import annotations

from flask import url_for

from babyowl.grading.packages import LOCK_FILE, packages_dir

PYODIDE = "vendor/pyodide/"
# What the coding page fetches and hands to the runner frame (runner.js): name → file under static/.
RUNNER_FILES = {
    "mjs": PYODIDE + "pyodide.mjs",
    "asmMjs": PYODIDE + "pyodide.asm.mjs",
    "wasm": PYODIDE + "pyodide.asm.wasm",
    "stdlib": PYODIDE + "python_stdlib.zip",
    "prelude": "coding/prelude.py",
    "turtle": "coding/turtle.py",
}


def runner_files() -> dict[str, str]:
    """URLs of the files the runner needs, the lock file of the packages it may load included."""
    urls = {name: url_for("static", filename=filename) for name, filename in RUNNER_FILES.items()}
    urls["lock"] = (url_for("coding.package_file", filename=LOCK_FILE) if packages_dir()
                    else url_for("static", filename=PYODIDE + LOCK_FILE))
    return urls


def runner_locations() -> dict[str, str]:
    """Absolute URLs the runner frame gives Pyodide: its indexURL, and where the lock file's wheels are."""
    index = url_for("static", filename=RUNNER_FILES["mjs"], _external=True).rsplit("/", 1)[0] + "/"
    packages = (url_for("coding.package_file", filename=LOCK_FILE, _external=True).rsplit("/", 1)[0] + "/"
                if packages_dir() else index)
    return {"index": index, "packages": packages}
