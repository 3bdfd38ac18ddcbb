"""The CPython grader backend (GRADER_BACKEND=cpython): each test in a fresh native CPython process.

The same bubblewrap sandbox as the Pyodide backend (`sandbox.py`: no network,
uid 65534, a size-capped tmpfs, the CPU rlimit, the memory watch, the output
cap, the per-test time limit and the submission's time budget, all enforced by
`sandbox._Sandbox`), but it binds read-only only the interpreter, its standard
library directories and shared libraries, the runner, the prelude and turtle
shared with the browser, and the bundled pure-Python wheels. Python starts
with -I -S -B: no user site, no site-packages, no bytecode written. A CPython
start is ~20 ms where a Pyodide restore costs ~0.45 CPU-s (Jobe, Moodle
CodeRunner's sandbox, runs CPython natively for the same reason). The runner
(`cpython_runner.py`) keeps the result channel and the nonce in a supervisor
process the program never runs in.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

RUNNER = Path(__file__).with_name("cpython_runner.py")
CODING = Path(__file__).parent.parent / "static" / "coding"


@lru_cache(maxsize=4)
def interpreter_dirs(python: str) -> tuple[str, tuple[str, ...]]:
    """(the interpreter's real path, the directories it needs): its stdlib, lib-dynload and libpython's."""
    executable = os.path.realpath(shutil.which(python) or python)
    probe = ("import json, sys, sysconfig; print(json.dumps([sys.path, sysconfig.get_config_var('LIBDIR') or '', "
             "sysconfig.get_config_var('LDLIBRARY') or '']))")
    out = subprocess.run([executable, "-I", "-S", "-c", probe], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    paths, libdir, ldlibrary = json.loads(out)
    dirs = [p for p in paths if os.path.isdir(p)]
    if libdir and (ldlibrary.endswith(".so") or ".so." in ldlibrary):
        dirs.append(libdir)  # a shared libpython (pyenv, a source build); Debian's python3 has it built in
    return executable, tuple(dict.fromkeys(dirs))


@lru_cache(maxsize=4)
def interpreter_version(python: str) -> tuple[int, int]:
    """(major, minor) of the interpreter the backend runs (GRADER_PYTHON)."""
    executable = os.path.realpath(shutil.which(python) or python)
    out = subprocess.run([executable, "-I", "-S", "-c", "import sys; print(*sys.version_info[:2])"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    major, minor = out.split()
    return int(major), int(minor)


def _library_dirs() -> list[str]:
    return [d for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64") if os.path.isdir(d)]


def command(settings, event_fd: int, tmpfs_bytes: int) -> list[str]:
    executable, dirs = interpreter_dirs(settings.python)
    args = [settings.bwrap, "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
            "--die-with-parent", "--new-session", "--clearenv", "--setenv", "HOME", "/tmp",
            "--setenv", "LANG", "C.UTF-8", "--proc", "/proc", "--dev", "/dev",
            "--size", str(tmpfs_bytes), "--tmpfs", "/tmp", "--chdir", "/tmp"]
    for directory in _library_dirs():
        args += ["--ro-bind", directory, directory]
    args += ["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64"]
    for directory in dirs:
        args += ["--ro-bind", directory, directory]
    args += ["--ro-bind", executable, executable, "--ro-bind", str(RUNNER), "/runner.py",
             "--ro-bind", str(CODING / "prelude.py"), "/coding/prelude.py",
             "--ro-bind", str(CODING / "turtle.py"), "/babyowl-lib/turtle.py"]
    if settings.packages_dir is not None and Path(settings.packages_dir).is_dir():
        args += ["--ro-bind", str(settings.packages_dir), "/packages"]
    return args + [executable, "-I", "-S", "-B", "/runner.py", str(event_fd)]


def check_available(settings) -> None:
    from babyowl.grading.sandbox import SandboxUnavailable

    for program in (settings.bwrap, settings.python):
        if shutil.which(program) is None:
            raise SandboxUnavailable(f"{program} is not installed (Debian packages bubblewrap and python3)")
