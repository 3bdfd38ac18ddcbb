"""Bundle the pure-Python packages Pyodide can use, fetched from PyPI, with a lock file of their own.

Pyodide's npm package carries the interpreter only. Packages with compiled code
(numpy, matplotlib, pandas) have no wheel for its platform on the registries
reachable here: a school gets them by unpacking the full Pyodide release and
setting PYODIDE_PACKAGES_DIR. Pure-Python wheels are the same for every
platform, so the ones listed below are downloaded (the versions Pyodide's lock
file names), checked against the lock's sha256, and described in a lock file
the browser runner and the grader both load.

    .venv/bin/python scripts/vendor_packages.py   (run by scripts/setup.sh)
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYODIDE_LOCK = ROOT / "node_modules" / "pyodide" / "pyodide-lock.json"
# Not under static/vendor (copied afresh by vendor_static.sh): served by the app at /pyodide-packages/.
DEST = ROOT / "babyowl" / "pyodide-packages"
# Useful when teaching, pure Python, with their dependencies.
BUNDLE = ("sympy", "mpmath", "beautifulsoup4", "soupsieve", "typing-extensions", "more-itertools",
          "python-dateutil", "six", "pytz", "attrs")


def main() -> int:
    lock = json.loads(PYODIDE_LOCK.read_text())
    entries = {name: lock["packages"][name] for name in BUNDLE}
    wanted = {entry["file_name"] for entry in entries.values()}
    if DEST.is_dir() and wanted <= {p.name for p in DEST.iterdir()} and (DEST / "pyodide-lock.json").is_file():
        current = json.loads((DEST / "pyodide-lock.json").read_text())
        if current.get("info") == lock["info"] and set(current.get("packages", {})) == set(BUNDLE):
            return 0  # already bundled for this Pyodide
    with tempfile.TemporaryDirectory() as download:
        requirements = [f"{name}=={entry['version']}" for name, entry in entries.items()]
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.14", "--dest", download, *requirements], check=True)
        if DEST.exists():
            shutil.rmtree(DEST)
        DEST.mkdir(parents=True)
        bundled, rebuilt = {}, []
        for name, entry in entries.items():
            wheel = Path(download) / entry["file_name"]
            if not wheel.is_file():
                print(f"vendor_packages: PyPI gave no {entry['file_name']}; {name} is not bundled", file=sys.stderr)
                continue
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            if digest != entry["sha256"]:
                rebuilt.append(name)  # Pyodide repacks wheels (tests removed): the lock names PyPI's file
            shutil.copy(wheel, DEST / wheel.name)
            bundled[name] = {**entry, "sha256": digest,
                             "depends": [d for d in entry.get("depends", []) if d in entries]}
    (DEST / "pyodide-lock.json").write_text(json.dumps({"info": lock["info"], "packages": bundled}, indent=1))
    print(f"vendor_packages: {len(bundled)} pure-Python packages bundled in {DEST.relative_to(ROOT)}"
          + (f" ({len(rebuilt)} as PyPI's wheel rather than Pyodide's repack)" if rebuilt else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
