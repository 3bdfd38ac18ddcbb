"""The grader's Pyodide memory snapshot: built by the setup, checked before every use.

A restored snapshot starts Python in a fraction of a cold start (DESIGN "The
grader's speed"). It belongs to one exact build: the Pyodide files, Node, and
our own runner, prelude and turtle (all run before it is taken). Their hash is
the snapshot's key; the file's own SHA-256 is written beside it and checked
before the snapshot is bound (read-only) into a sandbox. Anything that does not
match means a cold start, which is always correct, only slower; the runner also
falls back to a cold start when restoring throws.

    python -m babyowl.grading.snapshot build [PYODIDE_DIR] [OUT_DIR]
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from babyowl.grading.sandbox import CODING, RUNNER

log = logging.getLogger(__name__)

PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
OUR_FILES = (RUNNER, CODING / "prelude.py", CODING / "turtle.py")
DEFAULT_DIR = Path(__file__).parent.parent.parent / "instance" / "grader-snapshot"


def _stamp(paths: list[Path]) -> tuple:
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)


@lru_cache(maxsize=8)
def _key(stamp: tuple, node_version: str) -> str:
    digest = hashlib.sha256(node_version.encode())
    for path, _, _ in stamp:
        digest.update(Path(path).name.encode())
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


@lru_cache(maxsize=4)
def _node_version(node: str) -> str:
    return subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()


def build_key(pyodide_dir: Path, node: str = "node") -> str:
    """What the snapshot depends on: the Pyodide build, Node's version, and our code run before it is taken."""
    paths = [pyodide_dir / name for name in PYODIDE_FILES] + list(OUR_FILES)
    return _key(_stamp(paths), _node_version(node))


def paths_for(directory: Path, key: str) -> tuple[Path, Path]:
    return directory / f"pyodide-{key[:20]}.snapshot", directory / f"pyodide-{key[:20]}.json"


@lru_cache(maxsize=8)
def _file_sha256(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def usable_snapshot(pyodide_dir: Path, directory: Path | None, node: str = "node") -> Path | None:
    """The snapshot for exactly this build, if the setup made one and its hash matches; else None (cold start)."""
    if directory is None:
        return None
    try:
        key = build_key(pyodide_dir, node)
        snapshot, manifest_path = paths_for(directory, key)
        if not snapshot.is_file():
            return None
        manifest = json.loads(manifest_path.read_text())
        stat = snapshot.stat()
        if manifest.get("key") != key or manifest.get("sha256") != _file_sha256(str(snapshot), stat.st_mtime_ns,
                                                                                   stat.st_size):
            log.warning("The grader's snapshot %s does not match its manifest: cold starts until the setup "
                        "builds it again", snapshot)
            return None
        return snapshot
    except (OSError, ValueError, subprocess.SubprocessError):
        log.warning("The grader's snapshot cannot be checked: cold starts", exc_info=True)
        return None


def build(pyodide_dir: Path, directory: Path, node: str = "node") -> Path:
    """Take the snapshot (trusted code only: our runner, prelude and turtle) and write its manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    key = build_key(pyodide_dir, node)
    snapshot, manifest = paths_for(directory, key)
    if snapshot.is_file() and usable_snapshot(pyodide_dir, directory, node) == snapshot:
        return snapshot
    partial = snapshot.with_suffix(".partial")
    subprocess.run([node, "--max-old-space-size=512", str(RUNNER), "--make-snapshot", str(pyodide_dir), str(CODING),
                    str(partial)], check=True, timeout=600)
    data = partial.read_bytes()
    os.replace(partial, snapshot)
    version = json.loads((pyodide_dir / "package.json").read_text()).get("version", "?") \
        if (pyodide_dir / "package.json").is_file() else "?"
    manifest.write_text(json.dumps({"key": key, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                                    "pyodide": version, "node": _node_version(node)}, indent=1))
    for old in directory.glob("pyodide-*"):  # snapshots of earlier builds
        if old not in (snapshot, manifest):
            old.unlink(missing_ok=True)
    return snapshot


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "build":
        print(__doc__)
        return 2
    root = Path(__file__).parent.parent
    pyodide_dir = Path(argv[1]) if len(argv) > 1 else root / "static" / "vendor" / "pyodide"
    directory = Path(argv[2]) if len(argv) > 2 else DEFAULT_DIR
    if not (pyodide_dir / "pyodide.mjs").is_file():
        print(f"No Pyodide at {pyodide_dir}: no grader snapshot (the grader starts Python cold).")
        return 0
    path = build(pyodide_dir, directory)
    print(f"Grader snapshot: {path} ({path.stat().st_size // 2**20} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
