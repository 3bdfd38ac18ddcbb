"""Compress static files ahead of time: a `.br` and a `.gz` beside each, which WhiteNoise sends to browsers
that accept them (babyowl/static_files.py). Students are on mobile data: Pyodide's wasm goes from 9.4 MB
to ~3 MB, the browser snapshot from 30 MB to ~5 MB.

Usage: python scripts/compress_static.py DIR...   (a file whose .br and .gz are newer is skipped)
"""
from __future__ import annotations

import gzip
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import brotli

COMPRESSIBLE = {".js", ".mjs", ".css", ".wasm", ".json", ".svg", ".html", ".py", ".ttf", ".bin", ".txt", ".map"}


def quality(size: int) -> int:
    # Brotli's best (11) takes over a minute on the 9 MB wasm on a busy 2-core machine; 9 is within ~10 %.
    return 11 if size < 2 * 2**20 else 9


def compress(path: Path) -> str:
    data = path.read_bytes()
    stat = path.stat()
    written = []
    for suffix, packed in ((".br", lambda: brotli.compress(data, quality=quality(len(data)))),
                           (".gz", lambda: gzip.compress(data, compresslevel=9, mtime=0))):
        out = path.with_name(path.name + suffix)
        if out.exists() and out.stat().st_mtime >= stat.st_mtime:
            continue
        result = packed()
        if len(result) > 0.95 * len(data):  # not worth it (an already compressed file)
            continue
        out.write_bytes(result)
        os.utime(out, (stat.st_atime, stat.st_mtime))
        written.append(f"{out.name} {len(data) // 1024}K → {len(result) // 1024}K")
    return "; ".join(written)


def main(directories: list[str]) -> None:
    files = [p for d in directories for p in sorted(Path(d).rglob("*"))
             if p.is_file() and p.suffix in COMPRESSIBLE and p.stat().st_size > 1024]
    files.sort(key=lambda p: -p.stat().st_size)  # the big ones first, so the pool ends together
    with ProcessPoolExecutor() as pool:
        for line in pool.map(compress, files):
            if line and "--quiet" not in sys.argv:
                print(line)


if __name__ == "__main__":
    main([arg for arg in sys.argv[1:] if not arg.startswith("--")])
