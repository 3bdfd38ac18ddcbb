"""One test of one submission under native CPython, inside a single-use bubblewrap sandbox.

Run as `python -I -S -B /runner.py EVENT_FD` by `cpython.command()`. Two processes,
because CPython has no inside-the-process secret: a program can reach every
object of its interpreter (frames, `gc`, `/proc/self/mem`), so a nonce kept in
the program's own process could be read and a result forged.

- The supervisor (this file's `main`) keeps the event channel (a pipe on
  EVENT_FD, never stdout) and reads the job with its nonce; it never runs a line
  of the program. It starts the child, says "ready" once the child has loaded
  the prelude, hands the child the job WITHOUT the nonce, collects the child's
  stdout and stderr from pipes (capped at the output limit: past it the child is
  killed and the run is "truncated"), and writes the one result.
- The child (`--child OUTCOME_FD`) loads the prelude shared with the browser,
  refuses new processes (seccomp: no fork, vfork, execve, non-thread clone),
  runs the program with `_babyowl_run` and writes its outcome (exit code and
  error) on OUTCOME_FD. The child never sees the event channel (close_fds) nor
  the nonce: a program can at most misreport its own test's ok/error, which it
  could have chosen honestly by catching its own exception.
Time, memory and the CPU rlimit are enforced from outside (sandbox.py).
"""
import json
import os
import select
import signal
import subprocess
import sys

PRELUDE = "/coding/prelude.py"
LIBRARY = "/babyowl-lib"  # turtle.py, first on the program's sys.path
PACKAGES = "/packages"  # the bundled pure-Python wheels, read-only
READY = b"R"


# -- the child ----------------------------------------------------------------

def _refuse_new_processes():
    """A seccomp filter: threads stay (clone with CLONE_THREAD), new processes and exec are refused (EPERM)."""
    import ctypes
    import platform
    import struct

    if platform.machine() != "x86_64":
        return False  # syscall numbers below are x86_64's; elsewhere the sandbox's pid namespace is the limit
    ld_abs, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, eperm, enosys, kill = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38, 0x80000000
    fork, vfork, execve, execveat, clone, clone3, clone_thread = 57, 58, 59, 322, 56, 435, 0x00010000
    # (code, jump if true, jump if false, value); a jump counts instructions after the next one.
    program = [
        (ld_abs, 0, 0, 4), (jeq, 1, 0, 0xC000003E), (ret, 0, 0, kill),  # 0-2: x86_64 system calls only
        (ld_abs, 0, 0, 0),  # 3: the call's number
        (jge, 7, 0, 0x40000000),  # 4: the x32 numbering (its own execve) → 12
        (jeq, 6, 0, fork), (jeq, 5, 0, vfork), (jeq, 4, 0, execve), (jeq, 3, 0, execveat),  # 5-8 → 12
        (jeq, 3, 0, clone3),  # 9 → 13: glibc then falls back to clone, whose flags can be read
        (jeq, 3, 0, clone),  # 10 → 14
        (ret, 0, 0, allow),  # 11
        (ret, 0, 0, eperm),  # 12
        (ret, 0, 0, enosys),  # 13
        (ld_abs, 0, 0, 16), (jset, 0, 1, clone_thread), (ret, 0, 0, allow), (ret, 0, 0, eperm),  # 14-17
    ]
    raw = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(raw)
    fprog = struct.pack("HxxxxxxP", len(program), ctypes.addressof(buffer))
    fprog_buffer = ctypes.create_string_buffer(fprog)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    # PR_SET_SECCOMP, SECCOMP_MODE_FILTER; the pointer as a pointer (a bare int is passed as a 32-bit C int).
    if libc.prctl(22, 2, ctypes.c_void_p(ctypes.addressof(fprog_buffer)), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")
    return True


def _package_paths(wanted):
    """The wheels of the requested packages and their dependencies; the name of one that is not there."""
    try:
        with open(os.path.join(PACKAGES, "pyodide-lock.json")) as lock_file:
            lock = json.load(lock_file).get("packages") or {}
    except (OSError, ValueError):
        lock = {}
    paths, todo, seen = [], [name.lower() for name in wanted], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        entry = lock.get(name)
        wheel = os.path.join(PACKAGES, str((entry or {}).get("file_name", "")))
        if not isinstance(entry, dict) or not os.path.isfile(wheel) or not wheel.endswith(".whl"):
            return [], name
        paths.append(wheel)  # pure-Python wheels are importable as zip files
        todo += [str(dep).lower() for dep in entry.get("depends") or []]
    return paths, None


class _WatchedSum:
    """The builtin `sum`, noting whether it added floats or complex numbers: 3.12 made that a compensated sum
    (`sum([0.1, 0.2, 0.3])` is 0.6000000000000001 in 3.11, 0.6 in the browser's 3.14), so such a test is
    re-judged by the browser's Python (GRADER_BACKEND=auto). Called and printed, it looks like the builtin."""

    __module__ = "builtins"

    def __init__(self, original):
        self.original, self.seen = original, False
        self.__name__ = self.__qualname__ = "sum"
        self.__doc__ = original.__doc__

    def __call__(self, iterable, /, start=0):
        result = self.original(iterable, start)
        if isinstance(result, (float, complex)):
            self.seen = True
        return result

    def __repr__(self):
        return "<built-in function sum>"


def child(outcome_fd):
    import _sitebuiltins
    import builtins
    import importlib.util
    import io

    outcome = os.fdopen(outcome_fd, "w", encoding="utf-8")
    spec = importlib.util.spec_from_file_location("babyowl_prelude", PRELUDE)
    prelude = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prelude)
    # What `site` would have given (-S leaves it out) and what the browser's Python has.
    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
    builtins.help = _sitebuiltins._Helper()
    builtins.input = prelude._babyowl_input  # the prompt is not output, as in the browser's grader
    watched_sum = builtins.sum = _WatchedSum(builtins.sum)
    sys.path.insert(0, LIBRARY)
    _refuse_new_processes()
    outcome.write(READY.decode())
    outcome.flush()

    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    paths, missing = _package_paths(job.get("packages") or [])
    if missing:
        outcome.write("\n" + json.dumps({"package_missing": missing}) + "\n")
        outcome.flush()
        os._exit(0)
    sys.path[1:1] = paths
    # Line by line, as on a console: what was printed before os._exit() or a kill still counts.
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb"), encoding="utf-8", errors="backslashreplace",
                                  line_buffering=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb"), encoding="utf-8", errors="backslashreplace")
    sys.argv = ["main.py"]
    result = prelude._babyowl_run(job.get("code", ""), job.get("stdin", ""), job.get("testCode", ""))
    try:
        # On a line of its own, last: whatever the program wrote on this descriptor came before it.
        outcome.write("\n" + json.dumps({"exit_code": int(result["exit_code"]),
                                         "error": None if result["error"] is None else str(result["error"]),
                                         "float_sum": watched_sum.seen is True})
                      + "\n")
        outcome.flush()
    except Exception:
        pass
    # Not sys.exit: the program's atexit handlers and threads have nothing more to say.
    os._exit(0)


# -- the supervisor -------------------------------------------------------------

def main(event_fd):
    def emit(event):
        os.write(event_fd, (json.dumps(event) + "\n").encode())

    outcome_read, outcome_write = os.pipe()
    process = subprocess.Popen([sys.executable, "-I", "-S", "-B", __file__, "--child", str(outcome_write)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               pass_fds=(outcome_write,), close_fds=True, cwd="/tmp")
    os.close(outcome_write)
    ready = os.read(outcome_read, 1)
    if ready != READY:
        os._exit(3)  # the child did not start: no result, the host says "crashed"
    emit({"event": "ready"})

    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    nonce = str(job.pop("nonce"))
    limit = int(job.get("outputLimit") or 65536)

    def emit_with_nonce(event):
        emit({**event, "nonce": nonce})

    try:
        process.stdin.write(json.dumps(job).encode("utf-8"))
        process.stdin.close()
    except OSError:
        pass
    emit_with_nonce({"event": "started"})

    streams = {process.stdout.fileno(): bytearray(), process.stderr.fileno(): bytearray(), outcome_read: bytearray()}
    caps = {process.stdout.fileno(): limit * 4, process.stderr.fileno(): limit * 4, outcome_read: 2 * limit + 4096}
    open_fds, truncated = set(streams), False
    while open_fds:
        ready_fds, _, _ = select.select(list(open_fds), [], [])
        for fd in ready_fds:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                continue
            streams[fd] += chunk
            if len(streams[fd]) > caps[fd]:
                del streams[fd][caps[fd]:]
                if fd == process.stdout.fileno():
                    truncated = True
                os.kill(process.pid, signal.SIGKILL)  # enough output: the rest is not read
                open_fds.clear()
                break
    process.wait()

    stdout = streams[process.stdout.fileno()].decode("utf-8", "replace")
    stderr = streams[process.stderr.fileno()].decode("utf-8", "replace")[:limit]
    if len(stdout) > limit:
        truncated, stdout = True, stdout[:limit]
    try:
        # The runner's own line is the last one: a program writing here first can only garble its own test.
        outcome = json.loads(bytes(streams[outcome_read]).rstrip(b"\n").rsplit(b"\n", 1)[-1].decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        outcome = None
    usage = os.times()
    cpu = usage.user + usage.system + usage.children_user + usage.children_system
    if isinstance(outcome, dict) and isinstance(outcome.get("package_missing"), str):
        emit_with_nonce({"event": "result", "status": "package_missing", "package": outcome["package_missing"]})
        return
    if (not truncated and isinstance(outcome, dict) and isinstance(outcome.get("exit_code"), int)
            and (outcome.get("error") is None or isinstance(outcome.get("error"), str))):
        status, error = ("ok" if outcome["error"] is None else "error"), outcome["error"]
    elif truncated:
        status, error = "ok", None
    else:
        # os._exit(), a signal or a crash of the interpreter: what was printed so far still counts.
        code = process.returncode
        status, error = "error", (f"the program ended Python (exit code {code})" if code >= 0
                                  else f"the program was stopped by signal {-code}")
    recheck = "float_sum" if isinstance(outcome, dict) and outcome.get("float_sum") is True else None
    emit_with_nonce({"event": "result", "status": status, "stdout": stdout, "stderr": stderr,
                     "truncated": truncated, "cpuSeconds": cpu, "error": error, "recheck": recheck})


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        child(int(sys.argv[2]))
    else:
        main(int(sys.argv[1]))
