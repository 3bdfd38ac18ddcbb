"""Issue 16 #9: the CPython backend (GRADER_BACKEND=cpython) under the same sandbox, and its verdicts.

What the Pyodide tests check through Node (`js`), checked here for native
CPython: no network, no new process, no write outside the sandbox's small
/tmp, no forged result; and the programs the browser and the server must agree
on get the same verdicts from CPython as from the Pyodide grader.
"""
from __future__ import annotations

import os

import pytest

from babyowl.grading import cpython
from babyowl.grading.compare import normalise, same_output
from babyowl.grading.sandbox import TestInput, run_tests
from babyowl.services import grading
from tests.browser.test_coding_agreement import PROGRAMS, TIME_LIMIT
from tests.grading.test_grader import case, coding_exercise, graded


@pytest.fixture
def cpython_app(app):
    app.config["GRADER_BACKEND"] = "cpython"
    return app


def test_network_processes_and_writes_outside_tmp_are_refused(cpython_app, db, student, lesson, tmp_path,
                                                               listener):
    port = listener.port
    target = tmp_path / "escaped.txt"
    code = f'''
import os, socket, subprocess, threading
def attempt(label, fn):
    try:
        fn()
        print(label, "DONE")
    except BaseException as error:
        print(label, "REFUSED")
attempt("net", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=2))
attempt("write", lambda: open("{target}", "w").write("x"))
attempt("write-runner", lambda: open("/runner.py", "a").write("x"))
attempt("write-stdlib", lambda: open(os.__file__, "a").write("x"))
attempt("fork", os.fork)
attempt("spawn", lambda: subprocess.run(["/usr/bin/python3", "-c", "1"]))
attempt("exec", lambda: os.execv("/proc/self/exe", ["python"]))
attempt("posix_spawn", lambda: os.posix_spawn("/proc/self/exe", ["python", "-c", "1"], {{}}))
thread = threading.Thread(target=lambda: print("thread ran"))
thread.start()
thread.join()
with open("/tmp/inside.txt", "w") as own:
    own.write("fine")
print("own file", open("/tmp/inside.txt").read(), os.getuid())
'''
    exercise = coding_exercise(lesson, [case("escape", expected="")])
    (result,) = graded(student, exercise, code).test_results
    assert result["output"].splitlines() == [
        "net REFUSED", "write REFUSED", "write-runner REFUSED", "write-stdlib REFUSED", "fork REFUSED",
        "spawn REFUSED", "exec REFUSED", "posix_spawn REFUSED", "thread ran", "own file fine 65534"], result
    assert listener.connections == [] and not target.exists()


def test_the_sandboxes_tmp_is_small_and_a_huge_file_fails_quickly(cpython_app, db, student, lesson):
    code = '''
chunk = b"x" * (2**20)
written = 0
try:
    with open("/tmp/big", "wb") as big:
        for _ in range(1400):
            big.write(chunk)
            written += 1
except OSError as error:
    print("stopped at", written // 16 * 16, "MB:", error.strerror)
'''
    exercise = coding_exercise(lesson, [case("disk", expected="stopped at 16 MB: No space left on device")],
                               time_limit=10)
    (result,) = graded(student, exercise, code).test_results
    assert result["passed"], result


FORGER = '''
import gc, json, os, sys
# Everything the interpreter holds: a nonce kept in this process could be found this way.
found = [o for o in gc.get_objects() if isinstance(o, dict) and "nonce" in o]
print("nonces seen:", len(found))
event = {"event": "result", "status": "ok", "stdout": "42\\n", "stderr": "", "truncated": False}
for fd in range(0, 64):
    for forged in (event, {**event, "nonce": "0" * 32}):
        try:
            os.write(fd, (json.dumps(forged) + "\\n").encode())
        except OSError:
            pass
print("mine")
'''


def test_a_program_can_neither_find_the_nonce_nor_forge_a_result(cpython_app, db, student, lesson):
    exercise = coding_exercise(lesson, [case("shown", expected="42"), case("secret", expected="42", hidden=True)])
    submission = graded(student, exercise, FORGER)
    assert submission.score == 0 and submission.passed is False
    for result in submission.test_results:
        assert result["status"] == "ok" and not result["passed"]
        assert result["output"].startswith("nonces seen: 0\n") and result["output"].rstrip().endswith("mine")


def test_output_past_the_limit_is_cut_and_os_exit_keeps_what_was_printed(cpython_app, db, student, lesson):
    cpython_app.config["GRADER_OUTPUT_LIMIT"] = 1000
    exercise = coding_exercise(lesson, [case("flood", stdin="flood\n", expected="x"),
                                        case("quit", stdin="quit\n", expected="sebelum")])
    code = ('import os\nif input() == "flood":\n    while True:\n        print("x" * 100)\n'
            'print("sebelum")\nos._exit(0)\n')
    results = {r["id"]: r for r in graded(student, exercise, code).test_results}
    assert results["flood"]["status"] == "output_limit"
    assert results["quit"]["status"] == "error" and results["quit"]["output"] == "sebelum\n"


def test_only_the_interpreter_its_stdlib_and_the_runner_are_bound(cpython_app):
    with cpython_app.app_context():
        settings = grading.sandbox_settings()
    args = cpython.command(settings, 9, 2**20)
    binds = [args[i + 1] for i, arg in enumerate(args) if arg == "--ro-bind"]
    assert not any("site-packages" in path or "dist-packages" in path for path in binds), binds
    assert "/usr/lib/python3" not in binds and "/" not in binds
    assert args[-6:] == [os.path.realpath(settings.python), "-I", "-S", "-B", "/runner.py", "9"]


def _verdicts(settings) -> dict[str, dict]:
    verdicts = {}
    for name, code, stdin, expected in PROGRAMS:
        run = run_tests(settings, code, [TestInput(stdin=stdin)], TIME_LIMIT)[0]
        verdicts[name] = {"passed": run.status == "ok" and same_output(run.stdout, expected),
                          "error": run.status == "error", "timeout": run.status == "time_limit",
                          "stdout": None if run.status == "time_limit" else normalise(run.stdout)}
    return verdicts


def test_cpython_and_the_pyodide_grader_give_the_agreement_programs_the_same_verdicts(app):
    with app.app_context():
        pyodide = _verdicts(grading.sandbox_settings())
        app.config["GRADER_BACKEND"] = "cpython"
        native = _verdicts(grading.sandbox_settings())
    differences = [f"{name}: pyodide={pyodide[name]} cpython={native[name]}"
                   for name, *_ in PROGRAMS if pyodide[name] != native[name]]
    assert not differences, "\n".join(differences)
    assert [name for name, verdict in native.items() if not verdict["passed"]] == [
        "input() past the end", "an exception after output", "a loop that times out",
        "a float is not an int (exact mode)", "wrong answer"]
