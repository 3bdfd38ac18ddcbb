"""Running untrusted Python (Pyodide under Node.js) in a single-use bubblewrap sandbox.

Pyodide under Node is not a sandbox by itself: a program can reach Node's
`child_process` and `fs`. Every grading therefore runs in a fresh process under
bubblewrap: no network, an unprivileged uid, read-only binds of only Node, its
libraries, the Pyodide files and the runner, a private tmpfs, a CPU-time
rlimit. This module watches the process from outside and kills it when a test
runs past its time limit, when its memory passes the cap (`ulimit -v` would
break WebAssembly's memory, so memory is watched, not limited), or when it
prints too much. The test that was running gets the failure; the process is
started again for the tests after it.
"""
from __future__ import annotations

import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

RUNNER = Path(__file__).with_name("runner.mjs")
CODING = Path(__file__).parent.parent / "static" / "coding"  # the browser's prelude and turtle, for grading too
LOAD_SECONDS = 60  # Pyodide takes ~2.5 s to load; a loaded machine can take much longer
POLL_SECONDS = 0.05
MARGIN_SECONDS = 0.5


@dataclass
class SandboxSettings:
    pyodide_dir: Path
    node: str = "/usr/bin/node"
    bwrap: str = "bwrap"
    memory_mb: int = 512
    output_limit: int = 64 * 1024
    packages_dir: Path | None = None  # a full Pyodide release (lock file + wheels), bound read-only


@dataclass
class TestRun:
    """What one test case's run produced; `status` is ok, error, time_limit, memory_limit, output_limit or crashed."""

    index: int
    status: str
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0


@dataclass
class _Process:
    popen: subprocess.Popen
    buffer: bytes = b""
    read_bytes: int = 0
    events: list[dict] = field(default_factory=list)


class SandboxUnavailable(RuntimeError):
    """bubblewrap, Node or the Pyodide files are missing: grading cannot run here."""


def _library_dirs() -> list[str]:
    # Node's shared libraries live here on Debian (merged /usr); bound read-only, with no executable.
    return [d for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64") if os.path.isdir(d)]


def command(settings: SandboxSettings) -> list[str]:
    node = os.path.realpath(shutil.which(settings.node) or settings.node)
    args = [settings.bwrap, "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
            "--die-with-parent", "--new-session", "--clearenv", "--setenv", "HOME", "/tmp",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            "--ro-bind", node, "/usr/bin/node"]
    for directory in _library_dirs():
        args += ["--ro-bind", directory, directory]
    args += ["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
             "--ro-bind", str(settings.pyodide_dir), "/pyodide", "--ro-bind", str(RUNNER), "/runner.mjs",
             "--ro-bind", str(CODING), "/coding"]
    if settings.packages_dir is not None:
        args += ["--ro-bind", str(settings.packages_dir), "/packages"]
    args += ["/usr/bin/node", "--max-old-space-size=256", "/runner.mjs", "/pyodide", "/coding"]
    if settings.packages_dir is not None:
        args.append("/packages")
    return args


def check_available(settings: SandboxSettings) -> None:
    if not (settings.pyodide_dir / "pyodide.mjs").is_file():
        raise SandboxUnavailable(f"Pyodide is not installed at {settings.pyodide_dir} (run scripts/setup.sh)")
    for program in (settings.bwrap, settings.node):
        if shutil.which(program) is None:
            raise SandboxUnavailable(f"{program} is not installed (Debian packages bubblewrap and nodejs)")


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (bwrap → node), in MB."""
    total, todo, page = 0, [pid], os.sysconf("SC_PAGE_SIZE")
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm") as statm:
                total += int(statm.read().split()[1]) * page
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo += [int(child) for child in children.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total / 2**20


def _kill(process: _Process) -> None:
    try:
        os.killpg(process.popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.popen.wait()


def _limit_cpu(seconds: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))

    return apply


def _start(settings: SandboxSettings, job: dict, cpu_seconds: int) -> _Process:
    popen = subprocess.Popen(command(settings), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=_limit_cpu(cpu_seconds))
    popen.stdin.write(json.dumps(job).encode())
    popen.stdin.close()
    os.set_blocking(popen.stdout.fileno(), False)
    return _Process(popen)


def _read(process: _Process, selector: selectors.BaseSelector, timeout: float) -> bool:
    """Read what is available into events; False once the process closed its output."""
    if not selector.select(timeout):
        return True
    chunk = process.popen.stdout.read(65536)
    if not chunk:
        return False
    process.read_bytes += len(chunk)
    process.buffer += chunk
    *lines, process.buffer = process.buffer.split(b"\n")
    for line in lines:
        try:
            process.events.append(json.loads(line))
        except ValueError:
            continue  # a stray line is not an event
    return True


@dataclass(frozen=True)
class TestInput:
    stdin: str = ""  # lines for input()
    code: str = ""  # Python run after the program in its namespace


def run_tests(settings: SandboxSettings, code: str, inputs: list[TestInput], time_limit: float,
              packages: list[str] | None = None) -> list[TestRun]:
    """Run `code` once per test input; one TestRun per input, in order, whatever happens to the process."""
    check_available(settings)
    results: dict[int, TestRun] = {}
    pending = list(range(len(inputs)))
    while pending:
        job = {"code": code, "tests": [{"input": inputs[i].stdin, "code": inputs[i].code} for i in pending],
               "packages": packages or [],
               "outputLimit": settings.output_limit}
        cpu = int(LOAD_SECONDS + len(pending) * (time_limit + 1) * 2)
        process = _start(settings, job, cpu)
        failed = _watch(settings, process, pending, results, time_limit)
        pending = [i for i in pending if i not in results]
        if failed is not None:
            results[failed.index] = failed
            pending = [i for i in pending if i != failed.index]
    return [results[i] for i in range(len(inputs))]


def _watch(settings: SandboxSettings, process: _Process, pending: list[int], results: dict[int, TestRun],
           time_limit: float) -> TestRun | None:
    """Follow one sandbox process; returns the failure that ended it early, if any."""
    selector = selectors.DefaultSelector()
    selector.register(process.popen.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + LOAD_SECONDS
    current: int | None = None
    started = time.monotonic()
    open_output = True
    try:
        while True:
            if open_output:
                open_output = _read(process, selector, POLL_SECONDS)
            else:
                time.sleep(POLL_SECONDS)
            for event in process.events:
                kind = event.get("event")
                if kind == "start":
                    current = pending[event["index"]]
                    started = time.monotonic()
                    deadline = started + time_limit + MARGIN_SECONDS
                elif kind == "result":
                    index = pending[event["index"]]
                    status = "output_limit" if event.get("truncated") else ("error" if event.get("error") else "ok")
                    results[index] = TestRun(index, status, event.get("stdout", ""), event.get("stderr", ""),
                                             round(time.monotonic() - started, 3))
                    current = None
                elif kind == "fatal":
                    for index in pending:
                        results.setdefault(index, TestRun(index, "package_missing",
                                                          stderr=event.get("package", "")))
                    return None
                elif kind == "done":
                    return None
            process.events.clear()
            now = time.monotonic()
            victim = current if current is not None else next((i for i in pending if i not in results), None)
            if process.read_bytes > settings.output_limit * 4 + 65536:
                _kill(process)
                return TestRun(victim, "output_limit", seconds=round(now - started, 3))
            if now > deadline:
                _kill(process)
                return TestRun(victim, "time_limit" if current is not None else "crashed",
                               stderr="" if current is not None else "the runner did not start",
                               seconds=round(now - started, 3))
            if _tree_rss_mb(process.popen.pid) > settings.memory_mb:
                _kill(process)
                return TestRun(victim, "memory_limit", seconds=round(now - started, 3))
            if not open_output and process.popen.poll() is not None:
                if victim is None:
                    return None
                return TestRun(victim, "crashed", stderr=f"the program stopped (exit code {process.popen.returncode})",
                               seconds=round(now - started, 3))
    finally:
        selector.close()
        if process.popen.poll() is None:
            _kill(process)
