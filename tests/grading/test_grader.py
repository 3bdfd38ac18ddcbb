"""Trusted grading with real Pyodide under Node inside the bubblewrap sandbox.

Each grading starts a fresh sandboxed process (~3 s to load Pyodide), so the
scenarios are grouped: one grading per behaviour.
"""
from __future__ import annotations

import time

import pytest

from babyowl.extensions import db as _db
from babyowl.grading.compare import normalise, same_output, student_traceback
from babyowl.models import CodingSubmission, Exercise
from babyowl.services import grading
from babyowl.services.errors import InvalidInput, NotAllowed
from tests.factories import make_user
from tests.helpers import reload

SOLUTION = "def kali(a, b):\n    return a * b\n\nn = int(input())\nprint(n * 2)\n"


def coding_exercise(lesson, tests, time_limit=5, order=1, **extra):
    exercise = Exercise(lesson=lesson, title="Kali", type="coding", order_index=order, content={
        "mode": "challenge", "language": "python", "instructions": "", "starterCode": "", "solutionCode": SOLUTION,
        "testCases": tests, "requiredPackages": [], "hints": [], "timeLimit": time_limit,
        "maxPoints": sum(t["points"] for t in tests), "outputType": "console",
        "completionCriteria": "all_tests_pass", **extra})
    _db.session.add(exercise)
    _db.session.commit()
    return exercise


def case(tid, *, stdin="", code="", expected, points=10, hidden=False):
    return {"id": tid, "name": f"Test {tid}", "stdin": stdin, "input": code, "expectedOutput": expected,
            "isHidden": hidden, "points": points}


TESTS = [
    case("double", stdin="21\n", expected="42"),
    case("call", stdin="1\n", code="kali(5, 3)", expected="2\n15"),
    case("secret", stdin="-4\n", code="print(kali(-2, 4))", expected="-8\n-8", points=5, hidden=True),
]


def graded(student, exercise, code):
    submission = grading.submit(student, exercise, code)
    return grading.grade(submission.id)


def by_id(submission):
    return {r["id"]: r for r in submission.test_results}


def test_a_correct_solution_passes_every_test_hidden_ones_included(backend, db, student, lesson):
    exercise = coding_exercise(lesson, TESTS)
    # Output ends with spaces and a newline ("42  \n"); the expected "42" still matches.
    submission = graded(student, exercise, SOLUTION.replace("print(n * 2)", "print(n * 2, end='  \\n')"))
    assert submission.passed is True
    assert (submission.score, submission.max_score) == (25, 25)
    assert all(r["passed"] and r["status"] == "ok" for r in submission.test_results)
    assert by_id(submission)["double"]["output"] == "42  \n"
    assert submission.attempt_number == 1 and submission.execution_time > 0


def test_a_wrong_solution_fails_the_right_cases(backend, db, student, lesson):
    exercise = coding_exercise(lesson, TESTS)
    wrong = SOLUTION.replace("return a * b", "return a + b")
    submission = graded(student, exercise, wrong)
    results = by_id(submission)
    assert (results["double"]["passed"], results["call"]["passed"], results["secret"]["passed"]) == (True, False,
                                                                                                        False)
    assert results["call"]["reason"] == "wrong_output" and results["call"]["output"] == "2\n8\n"
    assert (submission.score, submission.passed) == (10, False)
    shown, hidden_passed, hidden_total = grading.visible_results(submission, staff_view=False)
    assert [r["id"] for r in shown] == ["double", "call"] and (hidden_passed, hidden_total) == (0, 1)
    assert "secret" in {r["id"] for r in grading.visible_results(submission, staff_view=True)[0]}


def test_an_infinite_loop_is_a_time_limit_failure_and_the_other_tests_still_run(backend, db, student, lesson):
    exercise = coding_exercise(lesson, [case("a", stdin="a\n", expected="a"), case("loop", stdin="loop\n",
                                                                                   expected="x"),
                                        case("b", stdin="b\n", expected="b")], time_limit=2)
    code = "word = input()\nwhile word == 'loop':\n    pass\nprint(word)\n"
    submission = graded(student, exercise, code)
    results = by_id(submission)
    assert [results[t]["status"] for t in ("a", "loop", "b")] == ["ok", "time_limit", "ok"]
    assert results["loop"]["reason"] == "time_limit"
    assert 2.0 <= results["loop"]["seconds"] <= 2.0 + 1.0  # the limit plus a small margin
    assert submission.score == 20 and submission.passed is False


def test_a_program_allocating_without_end_is_stopped(backend, app, db, student, lesson):
    app.config["GRADER_MEMORY_MB"] = 300
    exercise = coding_exercise(lesson, [case("hog", expected="done")], time_limit=60)
    started = time.monotonic()
    submission = graded(student, exercise, "blocks = []\nwhile True:\n    blocks.append(bytearray(20_000_000))\n")
    (result,) = submission.test_results
    assert (result["status"], result["reason"], result["passed"]) == ("memory_limit", "memory_limit", False)
    assert time.monotonic() - started < 60


def test_errors_show_only_the_students_own_lines(backend, db, student, lesson):
    exercise = coding_exercise(lesson, [case("one", stdin="x\n", expected="1")])
    submission = graded(student, exercise, "word = input()\n\nprint(int(word))\n")
    (result,) = submission.test_results
    assert result["status"] == "error" and result["errorLine"] == 3
    assert 'File "main.py", line 3' in result["error"] and "ValueError: invalid literal" in result["error"]
    assert "_pyodide" not in result["error"] and "_babyowl" not in result["error"]


def test_network_writes_and_processes_are_refused_and_the_host_is_unchanged(pyodide_backend, db, student, lesson,
                                                                            tmp_path, listener):
    port = listener.port
    target = tmp_path / "escaped.txt"
    code = f'''
import js
def attempt(label, fn):
    try:
        fn()
        print(label, "DONE")
    except BaseException as error:
        print(label, "REFUSED")
builtin = lambda name: js.process.getBuiltinModule(name)
attempt("net", lambda: builtin("net").connect({port}, "127.0.0.1"))
attempt("fetch", lambda: js.fetch("http://127.0.0.1:{port}/"))
attempt("write", lambda: builtin("fs").writeFileSync("{target}", "x"))
attempt("write-pyodide", lambda: builtin("fs").writeFileSync("/pyodide/escaped.txt", "x"))
attempt("spawn", lambda: builtin("child_process").execSync("touch {target}"))
attempt("spawn-binding", lambda: js.process.binding("spawn_sync"))
with open("/tmp/inside.txt", "w") as own:
    own.write("fine")
print("own file", open("/tmp/inside.txt").read())
'''
    exercise = coding_exercise(lesson, [case("escape", expected="")])
    submission = graded(student, exercise, code)
    (result,) = submission.test_results
    lines = result["output"].splitlines()
    # Python sees no Node at all: `js` holds only timers.
    assert lines[:6] == ["net REFUSED", "fetch REFUSED", "write REFUSED", "write-pyodide REFUSED", "spawn REFUSED",
                         "spawn-binding REFUSED"]
    assert lines[6] == "own file fine"
    assert listener.connections == [] and not target.exists()
    assert not (grading.sandbox_settings().pyodide_dir / "escaped.txt").exists()


def test_grading_twice_changes_nothing(db, student, lesson, monkeypatch):
    exercise = coding_exercise(lesson, [case("double", stdin="2\n", expected="4")])
    submission = graded(student, exercise, SOLUTION)
    first = (submission.score, submission.test_results)

    def refuse(*args, **kwargs):
        raise AssertionError("a graded submission was graded again")

    monkeypatch.setattr(grading, "run_tests", refuse)
    again = grading.grade(submission.id)
    assert (again.score, again.test_results) == first


def test_submissions_are_numbered_and_refused_when_the_lesson_is_locked(db, student, lesson):
    exercise = coding_exercise(lesson, [case("double", stdin="2\n", expected="4")])
    assert [grading.submit(student, exercise, "print(4)").attempt_number for _ in range(3)] == [1, 2, 3]
    stranger = make_user("student")
    with pytest.raises(NotAllowed):
        grading.submit(stranger, exercise, "print(4)")
    with pytest.raises(InvalidInput):
        grading.submit(student, exercise, "   ")
    assert db.session.query(CodingSubmission).count() == 3
    assert reload(db, exercise).content["testCases"][0]["expectedOutput"] == "4"


def test_output_comparison_rules():
    assert same_output("15\n", "15") and same_output("a  \nb\t\n\n", "a\nb")
    assert not same_output("1 5", "15") and not same_output("15\n16", "15")
    assert normalise("x\r\ny  \r\n") == "x\ny"
    trace = ('Traceback (most recent call last):\n  File "/lib/python314.zip/_pyodide/_base.py", line 1, in run\n'
             '    eval(code)\n  File "main.py", line 2, in <module>\n    print(1/0)\n'
             'ZeroDivisionError: division by zero\n')
    text, line = student_traceback(trace)
    assert line == 2 and "_pyodide" not in text and text.endswith("ZeroDivisionError: division by zero")


def test_the_servers_grading_completes_the_exercise_and_never_uncompletes_it(db, student, lesson):
    from babyowl.models import ClassEnrollment, ExerciseProgress

    exercise = coding_exercise(lesson, [case("double", stdin="2\n", expected="4")])
    playground = coding_exercise(lesson, [], order=2, mode="playground", completionCriteria="run_once")

    def progress(of):
        db.session.expire_all()
        row = db.session.query(ExerciseProgress).filter_by(user_id=student.id, exercise_id=of.id).first()
        return row.completed if row else False

    graded(student, exercise, "print(5)")
    assert progress(exercise) is False
    graded(student, exercise, SOLUTION)
    assert progress(exercise) is True
    graded(student, exercise, "print(5)")
    assert progress(exercise) is True  # a later failing try keeps it done
    graded(student, playground, "raise SystemExit('x')")
    assert progress(playground) is False
    graded(student, playground, "print('halo')")
    assert progress(playground) is True
    enrollment = db.session.query(ClassEnrollment).filter_by(student_id=student.id).one()
    assert enrollment.exercises_completed == 2


def test_a_turtle_program_and_a_package_from_the_schools_pyodide_release(backend, app, db, student, lesson, tmp_path):
    """PYODIDE_PACKAGES_DIR: a lock file and a pure-Python wheel, as a school's full release would hold."""
    import hashlib
    import json
    import zipfile

    wheel = tmp_path / "babyowlhello-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("babyowlhello/__init__.py", "GREETING = 'halo dari paket'\n")
        archive.writestr("babyowlhello-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: babyowlhello\n"
                                                                "Version: 1.0\n")
        archive.writestr("babyowlhello-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
                                                             "Tag: py3-none-any\n")
        archive.writestr("babyowlhello-1.0.dist-info/RECORD", "")
    # The release's own lock header (ABI, platform): Pyodide refuses a lock of another ABI.
    info = json.loads((grading.sandbox_settings().pyodide_dir / "pyodide-lock.json").read_text())["info"]
    lock = {"info": info,
            "packages": {"babyowlhello": {
                "name": "babyowlhello", "version": "1.0", "file_name": wheel.name, "install_dir": "site",
                "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(), "package_type": "package",
                "imports": ["babyowlhello"], "depends": []}}}
    (tmp_path / "pyodide-lock.json").write_text(json.dumps(lock))
    app.config["PYODIDE_PACKAGES_DIR"] = str(tmp_path)
    code = ("import turtle, babyowlhello\nturtle.forward(50)\nturtle.left(90)\nturtle.forward(20)\n"
            "print(babyowlhello.GREETING)\nprint(len(turtle._drawing()['lines']), turtle.position())\n")
    exercise = coding_exercise(lesson, [case("draw", expected="halo dari paket\n2 (50.0, 20.0)")],
                               requiredPackages=["babyowlhello"])
    submission = graded(student, exercise, code)
    (result,) = submission.test_results
    assert result["passed"], result
    app.config["PYODIDE_PACKAGES_DIR"] = None
    missing = graded(student, exercise, code)
    assert missing.test_results[0]["status"] == "package_missing" and not missing.passed


def test_bundled_pure_python_packages_are_served_by_default(backend, app, db, student, lesson):
    from babyowl.grading.packages import served_packages

    assert {"sympy", "bs4", "beautifulsoup4", "dateutil"} <= served_packages()
    # Importing sympy takes seconds in Pyodide: a realistic time limit.
    exercise = coding_exercise(lesson, [case("factor", expected="(x - 1)*(x + 1)\nhi")], time_limit=30,
                               requiredPackages=["sympy", "beautifulsoup4"])
    code = ("import sympy, bs4\nx = sympy.symbols('x')\nprint(sympy.factor(x**2 - 1))\n"
            "print(bs4.BeautifulSoup('<b>hi</b>', 'html.parser').b.text)\n")
    assert graded(student, exercise, code).passed is True
