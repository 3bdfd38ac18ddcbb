"""Python packages for coding exercises, beyond the interpreter.

Pyodide's npm package carries the interpreter only: no package wheels, and the
registries reachable here have none for numpy or matplotlib at its platform. A
school that wants them unpacks the full Pyodide release of the same version on
its server and points `PYODIDE_PACKAGES_DIR` at it: the browser then loads
packages from `/pyodide-packages/`, the grader from the same directory bound
read-only into its sandbox. A package is "served" when the directory's
`pyodide-lock.json` lists it and its wheel is there.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from flask import current_app

LOCK_FILE = "pyodide-lock.json"


def packages_dir() -> Path | None:
    configured = current_app.config.get("PYODIDE_PACKAGES_DIR")
    return Path(configured) if configured else None


@lru_cache(maxsize=8)
def _served(directory: str, lock_mtime: float) -> tuple[frozenset[str], frozenset[str]]:
    """(package names, package and import names) whose wheel is in `directory`."""
    try:
        lock = json.loads((Path(directory) / LOCK_FILE).read_text())
    except (OSError, ValueError):
        return frozenset(), frozenset()
    names, known = set(), set()
    for name, entry in (lock.get("packages") or {}).items():
        file_name = entry.get("file_name") if isinstance(entry, dict) else None
        if isinstance(file_name, str) and "/" not in file_name and (Path(directory) / file_name).is_file():
            names.add(name.lower())
            known.update(str(module).lower() for module in entry.get("imports") or [])
    return frozenset(names), frozenset(names | known)


def _lookup() -> tuple[frozenset[str], frozenset[str]]:
    directory = packages_dir()
    try:
        mtime = os.stat(directory / LOCK_FILE).st_mtime if directory else None
    except OSError:
        mtime = None
    return _served(str(directory), mtime) if mtime is not None else (frozenset(), frozenset())


def served_packages() -> frozenset[str]:
    """Package names, and the names they are imported by (beautifulsoup4 and bs4)."""
    return _lookup()[1]


def package_names() -> list[str]:
    return sorted(_lookup()[0])


def unavailable(names: list[str]) -> list[str]:
    served = served_packages()
    return [name for name in names if name.lower() not in served]
