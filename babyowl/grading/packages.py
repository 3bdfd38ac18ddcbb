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
def _served(directory: str, lock_mtime: float) -> frozenset[str]:
    try:
        lock = json.loads((Path(directory) / LOCK_FILE).read_text())
    except (OSError, ValueError):
        return frozenset()
    names = set()
    for name, entry in (lock.get("packages") or {}).items():
        file_name = entry.get("file_name") if isinstance(entry, dict) else None
        if isinstance(file_name, str) and "/" not in file_name and (Path(directory) / file_name).is_file():
            names.add(name.lower())
            names.update(str(module).lower() for module in entry.get("imports") or [])
    return frozenset(names)


def served_packages() -> frozenset[str]:
    directory = packages_dir()
    if directory is None:
        return frozenset()
    try:
        mtime = os.stat(directory / LOCK_FILE).st_mtime
    except OSError:
        return frozenset()
    return _served(str(directory), mtime)


def unavailable(names: list[str]) -> list[str]:
    served = served_packages()
    return [name for name in names if name.lower() not in served]
