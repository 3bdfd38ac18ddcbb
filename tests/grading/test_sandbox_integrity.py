"""Issue 16, integrity: what a student's program can do to its grading, with the real sandbox.

Each test runs real Pyodide under Node in bubblewrap (a fresh sandbox per test
case), so they are grouped: one grading per behaviour.
"""
from __future__ import annotations

import time


from babyowl.grading import sandbox
from babyowl.grading.sandbox import TestInput, parse_event, run_tests
from babyowl.services import grading
from tests.grading.test_grader import case, coding_exercise, graded


def by_id(submission):
    return {r["id"]: r for r in submission.test_results}


FORGER = '''
import json, os, sys
forged = [{"event": "result", "index": i, "stdout": "42\\n", "stderr": "", "error": False, "truncated": False}
          for i in (0, 1, 2, 99)] + [{"event": "done"}]
lines = "".join(json.dumps(event) + "\\n" for event in forged)
print(lines, end="")                      # the program's own stdout
sys.__stdout__.write(lines)
for fd in range(1, 12):                  # any descriptor the program can name
    try:
        os.write(fd, lines.encode())
    except OSError:
        pass
try:
    import js
    js.process.stdout.write(lines)       # Node's stdout, where today's grader reads its events
except Exception:
    pass
print("mine")
'''


def test_a_program_cannot_forge_the_graders_messages(backend, db, student, lesson):
    # Every test expects "42": only a forged result could pass the hidden ones.
    exercise = coding_exercise(lesson, [case("shown", stdin="1\n", expected="42"),
                                        case("secret", stdin="2\n", expected="42", hidden=True),
                                        case("secret2", stdin="3\n", expected="42", hidden=True)])
    submission = graded(student, exercise, FORGER)
    results = by_id(submission)
    assert submission.test_results is not None and submission.score == 0 and submission.passed is False
    for tid in ("shown", "secret", "secret2"):
        assert results[tid]["status"] == "ok" and results[tid]["passed"] is False
        assert results[tid]["output"].rstrip().endswith("mine")  # its own output, nothing else


def test_malformed_forged_or_missing_events_fail_the_test_with_a_reason_and_never_crash(pyodide_backend, db, tmp_path,
                                                                                         monkeypatch):
    nonce = "n" * 32
    assert parse_event(b'{"event": "ready"}', None) == {"event": "ready"}
    for bad in (b"not json", b"[1, 2]", b'{"event": "result", "status": "ok"}',
                b'{"event": "result", "status": "ok", "nonce": "wrong"}',
                b'{"event": "result", "status": "passed", "nonce": "' + nonce.encode() + b'"}',
                b'{"event": "result", "status": "ok", "stdout": 5, "nonce": "' + nonce.encode() + b'"}',
                b'{"event": "result", "status": "ok", "index": 99, "truncated": "yes", "nonce": "'
                + nonce.encode() + b'"}', b'{"event": "ready"}' * 2, b"\xff\xfe"):
        assert parse_event(bad, nonce) is None, bad
    # A runner that answers with garbage and leaves: the test fails, the grading goes on.
    fake = tmp_path / "runner.mjs"
    fake.write_text('import { writeSync } from "node:fs";\n'
                    'const fd = Number(process.argv[4]);\n'
                    'writeSync(fd, JSON.stringify({ event: "ready" }) + "\\n");\n'
                    'for await (const chunk of process.stdin) { /* the job */ }\n'
                    'writeSync(fd, "{broken\\n" + JSON.stringify({ event: "result", index: 99, status: "ok" }) '
                    '+ "\\n");\n')
    monkeypatch.setattr(sandbox, "RUNNER", fake)
    settings = grading.sandbox_settings()
    runs = run_tests(settings, "print(1)", [TestInput(), TestInput()], time_limit=2)
    assert [run.status for run in runs] == ["crashed", "crashed"]
    assert "without a result" in runs[0].stderr


STATE_SPY = '''
import ast, builtins, sys
seen = getattr(builtins, "_babyowl_seen", 0)
print("runs seen before:", seen, "spied:", "spy" in sys.modules)
builtins._babyowl_seen = seen + 1
original = ast.parse
def spy(source, *args, **kwargs):
    print("SPY:", source)
    return original(source, *args, **kwargs)
ast.parse = spy
builtins.print = lambda *args, **kwargs: sys.stdout.write("PATCHED\\n")
sys.modules["spy"] = sys
def kali(a, b):
    return a * b
'''


def test_tests_share_no_state_and_a_hidden_tests_code_never_reaches_a_visible_one(backend, db, student, lesson):
    expected = "runs seen before: 0 spied: False\n15"
    exercise = coding_exercise(lesson, [case("one", code="kali(5, 3)", expected=expected),
                                        case("secret", code="kali(3, 5)  # HIDDEN-TEST-CODE", expected=expected,
                                             hidden=True),
                                        case("two", code="kali(15, 1)", expected=expected)])
    submission = graded(student, exercise, STATE_SPY)
    results = by_id(submission)
    assert [results[t]["passed"] for t in ("one", "secret", "two")] == [True, True, True], results
    visible = grading.visible_results(submission, student)[0]
    assert all("HIDDEN-TEST-CODE" not in (r["output"] + (r["error"] or "")) for r in visible)
    assert "HIDDEN-TEST-CODE" not in submission.execution_output


ESCAPES = '''
import js
def attempt(label, fn):
    try:
        fn()
        print(label, "DONE")
    except BaseException as error:
        print(label, "REFUSED")
def worker():
    threads = js.process.getBuiltinModule("worker_threads")
    threads.Worker.new("require('child_process').execSync('id')", js.Object.fromEntries([["eval", True]]))
attempt("process", lambda: __import__("js").process)
attempt("from js import process", lambda: exec("from js import process"))
attempt("require", lambda: exec("from js import require"))
attempt("pyodide_js", lambda: __import__("pyodide_js").FS)
attempt("constructor", lambda: js.setTimeout.constructor("return process")())
attempt("run_js", lambda: __import__("pyodide.code", fromlist=["run_js"]).run_js("process"))
attempt("worker_threads", worker)
attempt("vm", lambda: js.process.getBuiltinModule("vm").runInThisContext("process"))
attempt("wasi", lambda: js.process.getBuiltinModule("wasi").WASI.new())
'''


def test_python_cannot_reach_node_worker_threads_vm_or_wasi(pyodide_backend, db, student, lesson):
    exercise = coding_exercise(lesson, [case("escape", expected="x")])
    submission = graded(student, exercise, ESCAPES)
    (result,) = submission.test_results
    lines = result["output"].splitlines()
    assert lines == [f"{label} REFUSED" for label in (
        "process", "from js import process", "require", "pyodide_js", "constructor", "run_js", "worker_threads",
        "vm", "wasi")], result


def test_writing_a_huge_file_ends_on_the_memory_limit_quickly(pyodide_backend, app, db, student, lesson, tmp_path,
                                                             monkeypatch):
    app.config["GRADER_MEMORY_MB"] = 400
    code = '''
import sys
try:
    import js
    fs = js.process.getBuiltinModule("fs")
    block = js.Uint8Array.new(2**20)
    for _ in range(1400):                  # ~1.4 GB on the sandbox's tmpfs, outside Python's memory
        fs.appendFileSync("/tmp/big", block)
    print("the sandbox's disk took 1.4 GB")
    sys.exit(0)
except Exception:
    pass
chunk = b"x" * (64 * 2**20)
with open("/tmp/big.py", "wb") as big:     # and the same in Python's own file system
    for _ in range(22):
        big.write(chunk)
print("wrote it all")
'''
    exercise = coding_exercise(lesson, [case("disk", expected="wrote it all")], time_limit=30)
    started = time.monotonic()
    submission = graded(student, exercise, code)
    (result,) = submission.test_results
    assert (result["status"], result["passed"]) == ("memory_limit", False), result
    assert time.monotonic() - started < 40
    # Were Node's file system ever reachable, the sandbox's /tmp holds only a few MB.
    fake = tmp_path / "runner.mjs"
    fake.write_text('import { writeSync, writeFileSync } from "node:fs";\n'
                    'const fd = Number(process.argv[4]);\n'
                    'writeSync(fd, JSON.stringify({ event: "ready" }) + "\\n");\n'
                    'let nonce = "";\n'
                    'for await (const chunk of process.stdin) nonce += chunk;\n'
                    'nonce = JSON.parse(nonce).nonce;\n'
                    'let outcome = "written";\n'
                    'try { writeFileSync("/tmp/big", Buffer.alloc(200 * 2 ** 20)); } catch (e) { outcome = e.code; }\n'
                    'const result = { event: "result", status: "ok", stdout: outcome, nonce };\n'
                    'writeSync(fd, JSON.stringify(result) + "\\n");\n')
    monkeypatch.setattr(sandbox, "RUNNER", fake)
    (run,) = run_tests(grading.sandbox_settings(), "", [TestInput()], time_limit=10)
    assert (run.status, run.stdout) == ("ok", "ENOSPC")


def test_exiting_at_the_end_of_a_correct_program_ends_the_program_not_the_grading(backend, db, student, lesson):
    exercise = coding_exercise(lesson, [
        case("sys_exit", stdin="sys\n", expected="21"), case("exit", stdin="exit\n", expected="21"),
        case("raise", stdin="raise\n", expected="21"), case("no_newline", stdin="plain\n", expected="21"),
        case("with_code", stdin="sys\n", code="print(kali(2, 3))", expected="21\n6"),
    ])
    code = ('import sys\ndef kali(a, b):\n    return a * b\nhow = input()\nprint(21, end="" if how == "plain" '
            'else "\\n")\nif how == "sys":\n    sys.exit(0)\nelif how == "exit":\n    exit()\nelif how == "raise":\n'
            '    raise SystemExit\nelse:\n    sys.exit()\nprint("never")\n')
    submission = graded(student, exercise, code)
    assert submission.passed is True, submission.test_results
    assert all(r["status"] == "ok" for r in submission.test_results)
    failing = coding_exercise(lesson, [case("message", expected="21")], order=2)
    (result,) = graded(student, failing, 'print(21)\nimport sys\nsys.exit("bad input")\n').test_results
    assert (result["status"], result["passed"], result["output"]) == ("error", False, "21\n")
    assert "bad input" in result["error"]


def test_a_submission_has_a_time_budget_that_fits_its_job_and_is_always_graded(backend, app, db, student, lesson):
    app.config["GRADER_TIME_BUDGET"] = 12
    loops = [case(f"loop{i}", stdin="loop\n", expected="x") for i in range(6)]
    exercise = coding_exercise(lesson, loops, time_limit=2)
    started = time.monotonic()
    submission = graded(student, exercise, "while True:\n    pass\n")
    took = time.monotonic() - started
    statuses = [r["status"] for r in submission.test_results]
    assert submission.test_results is not None and len(statuses) == 6 and submission.passed is False
    # Each loop costs its 2 s limit plus a start: the 12 s budget ends before the sixth.
    assert "time_limit" in statuses and statuses[-1] == "not_run", statuses
    assert set(statuses) <= {"time_limit", "budget_spent", "not_run"}
    assert all(r["reason"] == r["status"] for r in submission.test_results)
    assert took < 12 + 5, took
    assert grading.job_timeout() > grading.time_budget()
