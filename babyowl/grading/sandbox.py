"""Running untrusted Python (Pyodide under Node.js) in single-use bubblewrap sandboxes: one per test.

Pyodide under Node is not a sandbox by itself: a program that reaches Node can
reach `child_process` and `fs`. So:
- Every test runs in its own fresh process under bubblewrap (no network, an
  unprivileged uid, read-only binds of only Node, its libraries, the Pyodide
  files, the runner and the optional memory snapshot, a size-capped tmpfs, a
  CPU-time rlimit). No test sees another's interpreter, modules or output, and
  a hidden test's code and input only ever enter its own process; expected
  outputs never enter any.
- The runner reports on a pipe of its own (not stdout). Every event after the
  job carries a nonce the program never sees; only the first well-formed result
  of the process counts, and only for the test that process was started for.
  Anything else (a forged, malformed or missing result) fails that one test with
  a reason; nothing a process writes can crash the grading.
- Limits are enforced from here: a test's time limit (wall clock), the memory
  of the process tree (`ulimit -v` would break WebAssembly's memory, so it is
  watched, not limited), the bytes it reports, and the submission's total time
  budget, which always fits inside the job's timeout: tests left when it is
  spent are "not run".
The next tests' sandboxes start loading while a test runs (`prestart` of them:
pre-started, single-use), which hides most of the start-up on a machine with
cores to spare.
"""
from __future__ import annotations

import json
import logging
import os
import resource
import secrets
import select
import shutil
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

RUNNER = Path(__file__).with_name("runner.mjs")
CODING = Path(__file__).parent.parent / "static" / "coding"  # the browser's prelude and turtle, for grading too
LOAD_SECONDS = 60  # a cold Pyodide start takes ~3 s; a loaded machine can take much longer
POLL_SECONDS = 0.05
MARGIN_SECONDS = 0.5
TMPFS_BYTES = 16 * 2**20  # Pyodide's own files live in its memory; the sandbox's /tmp needs next to nothing
STATUSES = ("ok", "error", "time_limit", "memory_limit", "output_limit", "crashed", "package_missing",
            "not_run", "budget_spent")


@dataclass
class SandboxSettings:
    pyodide_dir: Path
    node: str = "/usr/bin/node"
    bwrap: str = "bwrap"
    memory_mb: int = 512
    output_limit: int = 64 * 1024
    packages_dir: Path | None = None  # a full Pyodide release (lock file + wheels), bound read-only
    snapshot: Path | None = None  # the setup's memory snapshot of this Pyodide; a cold start without it
    time_budget: float = 450.0  # seconds for a whole submission, loading included
    prestart: int = 2  # sandboxes loading ahead of the test that runs (0: each starts when its test's turn comes)
    # "auto": CPython first, Pyodide for any test whose verdict could differ (auto.py); "pyodide" (the browser's
    # Python under Node); "cpython": native CPython in the same sandbox (cpython.py)
    backend: str = "auto"
    python: str = "/usr/bin/python3"  # the cpython backend's interpreter


@dataclass
class TestRun:
    """What one test case's run produced; `status` is one of STATUSES."""

    __test__ = False  # not a pytest class, whatever its name

    index: int
    status: str
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # as the runner reported it: for the benchmark, never for a verdict
    backend: str = ""  # the backend whose run this is: "pyodide" or "cpython"
    recheck: str | None = None  # why the auto backend asked Pyodide (auto.py), or CPython's flag asking for it


@dataclass(frozen=True)
class TestInput:
    __test__ = False
    stdin: str = ""  # lines for input()
    code: str = ""  # Python run after the program in its namespace


class SandboxUnavailable(RuntimeError):
    """bubblewrap, Node or the Pyodide files are missing: grading cannot run here."""


def _library_dirs() -> list[str]:
    # Node's shared libraries live here on Debian (merged /usr); bound read-only, with no executable.
    return [d for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64") if os.path.isdir(d)]


def command(settings: SandboxSettings, event_fd: int) -> list[str]:
    if settings.backend == "cpython":
        from babyowl.grading import cpython

        return cpython.command(settings, event_fd, TMPFS_BYTES)
    node = os.path.realpath(shutil.which(settings.node) or settings.node)
    args = [settings.bwrap, "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
            "--die-with-parent", "--new-session", "--clearenv", "--setenv", "HOME", "/tmp",
            "--proc", "/proc", "--dev", "/dev", "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp",
            "--ro-bind", node, "/usr/bin/node"]
    for directory in _library_dirs():
        args += ["--ro-bind", directory, directory]
    args += ["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
             "--ro-bind", str(settings.pyodide_dir), "/pyodide", "--ro-bind", str(RUNNER), "/runner.mjs",
             "--ro-bind", str(CODING), "/coding"]
    snapshot = ""
    if settings.snapshot is not None:
        args += ["--ro-bind", str(settings.snapshot), "/snapshot.bin"]
        snapshot = "/snapshot.bin"
    if settings.packages_dir is not None:
        args += ["--ro-bind", str(settings.packages_dir), "/packages"]
    # No eval, no `new Function`: a JS object reached from Python cannot be turned into Node's `process`.
    args += ["/usr/bin/node", "--max-old-space-size=256", "--disallow-code-generation-from-strings",
             "/runner.mjs", "/pyodide", "/coding", str(event_fd), snapshot]
    if settings.packages_dir is not None:
        args.append("/packages")
    return args


def check_available(settings: SandboxSettings) -> None:
    if settings.backend == "auto":  # both: CPython grades, Pyodide re-judges
        from dataclasses import replace

        check_available(replace(settings, backend="cpython"))
        return check_available(replace(settings, backend="pyodide"))
    if settings.backend == "cpython":
        from babyowl.grading import cpython

        return cpython.check_available(settings)
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


def _limit_cpu(seconds: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))

    return apply


def parse_event(line: bytes, nonce: str | None) -> dict | None:
    """A well-formed event, or None. A result must carry the job's nonce and fields of the right types."""
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(event, dict):
        return None
    kind = event.get("event")
    if kind == "ready" and nonce is None:
        return event
    if nonce is None or event.get("nonce") != nonce:
        return None
    if kind == "started":
        return event
    if kind != "result" or event.get("status") not in ("ok", "error", "package_missing"):
        return None
    texts = ("stdout", "stderr", "package")
    if any(key in event and not isinstance(event[key], str) for key in texts):
        return None
    if "truncated" in event and not isinstance(event["truncated"], bool):
        return None
    if "cpuSeconds" in event and (isinstance(event["cpuSeconds"], bool)
                                  or not isinstance(event["cpuSeconds"], (int, float))):
        return None
    if "error" in event and event["error"] is not None and not isinstance(event["error"], str):
        return None
    if "recheck" in event and event["recheck"] is not None and not isinstance(event["recheck"], str):
        return None
    return event


class _Sandbox:
    """One single-use sandbox process, for one test."""

    def __init__(self, settings: SandboxSettings, cpu_seconds: int):
        self.settings = settings
        read_end, write_end = os.pipe()
        try:
            self.popen = subprocess.Popen(
                command(settings, write_end), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(write_end,), start_new_session=True,
                preexec_fn=_limit_cpu(cpu_seconds))
        finally:
            os.close(write_end)
        self.events = read_end
        os.set_blocking(read_end, False)
        self.started = time.monotonic()
        self.buffer = b""
        self.read_bytes = 0
        self.closed = False
        self.nonce: str | None = None
        self.snapshot = False

    # -- reading ------------------------------------------------------------

    def _read(self, timeout: float) -> list[dict]:
        """Well-formed events that arrived within `timeout`; sets `closed` once the process closed the pipe."""
        if self.closed:
            time.sleep(timeout)
            return []
        ready, _, _ = select.select([self.events], [], [], timeout)
        if not ready:
            return []
        try:
            chunk = os.read(self.events, 65536)
        except BlockingIOError:
            return []
        if not chunk:
            self.closed = True
            return []
        self.read_bytes += len(chunk)
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        if len(self.buffer) > self.settings.output_limit * 8 + 65536:
            self.buffer = b""  # a line this long is not an event
        return [event for line in lines if (event := parse_event(line, self.nonce)) is not None]

    def _over_limits(self) -> str | None:
        # JSON escaping can make the program's output several times longer on the channel.
        if self.read_bytes > self.settings.output_limit * 8 + 65536:
            return "output_limit"
        if _tree_rss_mb(self.popen.pid) > self.settings.memory_mb:
            return "memory_limit"
        return None

    def wait_ready(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            for event in self._read(POLL_SECONDS):
                if event["event"] == "ready":
                    self.snapshot = bool(event.get("snapshot"))
                    return True
            if self.closed or self._over_limits():
                return False
        return False

    def run(self, index: int, job: dict, time_limit: float, budget_end: float) -> TestRun:
        """Send the job and follow the process until its result or a limit; always one TestRun."""
        self.nonce = secrets.token_hex(16)
        try:
            self.popen.stdin.write(json.dumps({**job, "nonce": self.nonce}).encode())
            self.popen.stdin.close()
        except (BrokenPipeError, OSError):
            return TestRun(index, "crashed", stderr="the runner stopped before the test")
        sent = time.monotonic()
        # Loading packages has the start-up's allowance; the test's own time starts with "started".
        started, deadline, cut_by_budget = sent, min(sent + LOAD_SECONDS, budget_end), False
        while True:
            for event in self._read(POLL_SECONDS):
                if event["event"] == "started":
                    started = time.monotonic()
                    limit_end = started + time_limit + MARGIN_SECONDS
                    cut_by_budget = budget_end < limit_end
                    deadline = min(limit_end, budget_end)
                    continue
                seconds = round(time.monotonic() - started, 3)
                if event["status"] == "package_missing":
                    return TestRun(index, "package_missing", stderr=event.get("package", ""), seconds=seconds)
                stderr = event.get("stderr", "")
                error = event.get("error")
                if error and error not in stderr:
                    stderr += error
                status = "output_limit" if event.get("truncated") else event["status"]
                return TestRun(index, status, event.get("stdout", ""), stderr, seconds,
                               float(event.get("cpuSeconds", 0.0)), recheck=event.get("recheck"))
            now = time.monotonic()
            over = self._over_limits()
            if over:
                return TestRun(index, over, seconds=round(now - started, 3))
            if now > deadline:
                if now >= budget_end and (cut_by_budget or started == sent):
                    return TestRun(index, "budget_spent", stderr="time budget spent", seconds=round(now - started, 3))
                return TestRun(index, "time_limit", seconds=round(now - started, 3))
            if self.closed and self.popen.poll() is not None:
                return TestRun(index, "crashed", stderr=f"the program stopped Python without a result "
                                                        f"(exit code {self.popen.returncode})",
                               seconds=round(now - started, 3))

    def kill(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()
        for stream in (self.popen.stdin,):
            try:
                stream.close()
            except OSError:
                pass
        if self.events is not None:
            os.close(self.events)
            self.events = None


def run_tests(settings: SandboxSettings, code: str, inputs: list[TestInput], time_limit: float,
              packages: list[str] | None = None) -> list[TestRun]:
    """Run `code` once per test input, each in a fresh sandbox; one TestRun per input, in order, always."""
    if settings.backend == "auto":
        from babyowl.grading import auto

        return auto.run_tests(settings, code, inputs, time_limit, packages)
    check_available(settings)
    budget_end = time.monotonic() + settings.time_budget
    cpu = int(LOAD_SECONDS + time_limit + 5)
    runs: list[TestRun] = []
    warm: deque[_Sandbox] = deque()

    def top_up(tests_left: int) -> None:
        while len(warm) < min(max(settings.prestart, 1), tests_left):
            warm.append(_Sandbox(settings, cpu))

    try:
        for index, test in enumerate(inputs):
            if time.monotonic() >= budget_end:
                runs.append(TestRun(index, "not_run", stderr="time budget spent"))
                continue
            top_up(len(inputs) - index)
            sandbox = warm.popleft()
            try:
                ready = sandbox.wait_ready(min(sandbox.started + LOAD_SECONDS, budget_end))
                if settings.prestart:
                    top_up(len(inputs) - index - 1)  # the next ones load while this test runs
                if not ready:
                    spent = time.monotonic() >= budget_end
                    runs.append(TestRun(index, "not_run" if spent else "crashed",
                                        stderr="time budget spent" if spent else "the runner did not start"))
                    continue
                job = {"code": code, "stdin": test.stdin, "testCode": test.code, "packages": packages or [],
                       "outputLimit": settings.output_limit}
                runs.append(sandbox.run(index, job, time_limit, budget_end))
            finally:
                sandbox.kill()
    finally:
        for sandbox in warm:
            sandbox.kill()
    for run in runs:
        run.backend = settings.backend
    return runs
