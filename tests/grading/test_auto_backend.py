"""The default grader (GRADER_BACKEND=auto): CPython grades, and Pyodide, the browser's Python, decides every test
whose CPython verdict could differ from the browser's. Real sandboxes on both sides.

Each scenario says which interpreter decided (the stored `backend`) and checks the verdict is the one the browser's
Python gives, including where the server's CPython 3.11 alone would have given another.
"""
from __future__ import annotations

import time
from dataclasses import replace

import pytest

from babyowl.grading import auto, cpython, sandbox
from babyowl.grading.sandbox import TestInput, run_tests
from babyowl.services import grading
from tests.browser.test_coding_agreement import PROGRAMS
from tests.grading.test_cpython_backend import _verdicts
from tests.grading.test_grader import case, coding_exercise, graded
from tests.helpers import signed_in_client, text


@pytest.fixture
def auto_app(app):
    app.config["GRADER_BACKEND"] = "auto"
    return app


@pytest.fixture
def sandboxes(monkeypatch):
    """The backend of every sandbox started, in order: proves which interpreter ran and how often."""
    started = []
    command = sandbox.command

    def recording(settings, event_fd):
        started.append(settings.backend)
        return command(settings, event_fd)

    monkeypatch.setattr(sandbox, "command", recording)
    return started


def _server_python() -> tuple[int, int]:
    return cpython.interpreter_version("/usr/bin/python3")


def test_auto_is_the_default_and_both_other_backends_stay_selectable(app, monkeypatch, tmp_path):
    from babyowl.config import load_config

    monkeypatch.delenv("GRADER_BACKEND", raising=False)
    assert load_config(str(tmp_path))["GRADER_BACKEND"] == "auto"
    with app.app_context():
        assert grading.sandbox_settings().backend == app.config["GRADER_BACKEND"]
        for backend in ("pyodide", "cpython", "auto"):
            app.config["GRADER_BACKEND"] = backend
            settings = grading.sandbox_settings()
            assert settings.backend == backend
            # The Pyodide side of auto restores the setup's snapshot, as the pyodide backend does.
            assert (settings.snapshot is not None) == (backend != "cpython")


NESTED_FSTRING = 'songs = ["a", "b"]\nprint(f"{", ".join(songs)}")\nprint(f"{"x" * 3}")\n'
TYPE_STATEMENT = ("type Point = tuple[int, int]\ndef first[T](items: list[T]) -> T:\n    return items[0]\n"
                  "print(first([7]))\n")


def test_a_program_in_3_12_syntax_gets_the_browsers_verdict(auto_app, db, student, lesson, sandboxes):
    assert _server_python() < (3, 12), "this test shows the fallback on a server older than 3.12"
    exercise = coding_exercise(lesson, [case("fstring", expected="a, b\nxxx"), case("hidden", expected="a, b\nxxx",
                                                                                      hidden=True)])
    submission = graded(student, exercise, NESTED_FSTRING)
    assert submission.passed and submission.score == 20
    assert [(r["backend"], r["recheck"]) for r in submission.test_results] == [("pyodide", "syntax")] * 2
    assert sandboxes == ["pyodide", "pyodide"]  # no CPython run: it would only have said SyntaxError

    other = coding_exercise(lesson, [case("type", expected="7")], order=2)
    (result,) = graded(student, other, TYPE_STATEMENT).test_results
    assert result["passed"] and result["backend"] == "pyodide", result


BATCHED = '''try:
    from itertools import batched
except ImportError:  # what a careful program does on an older Python: a clean, different answer
    def batched(items, n):
        return ["old python"]
print(list(batched("abcd", 2)))
'''


def test_itertools_batched_is_judged_by_the_browsers_python(auto_app, db, student, lesson, sandboxes):
    exercise = coding_exercise(lesson, [case("pairs", expected="[('a', 'b'), ('c', 'd')]")])
    (result,) = graded(student, exercise, BATCHED).test_results
    assert result["passed"], result
    assert (result["backend"], result["recheck"]) == ("pyodide", "newer:itertools.batched")
    assert sandboxes == ["pyodide"]
    # CPython 3.11 alone runs it cleanly and gives another answer: the reason the static check exists.
    with auto_app.app_context():
        settings = grading.sandbox_settings()
    (alone,) = run_tests(replace(settings, backend="cpython"), BATCHED, [TestInput()], 5)
    assert (alone.status, alone.stdout) == ("ok", "['old python']\n")


def test_a_test_that_ends_in_an_exception_is_rejudged_by_pyodide(auto_app, db, student, lesson, sandboxes):
    # int.is_integer() is new in 3.12: an AttributeError under CPython 3.11, True in the browser.
    code = "n = int(input())\nprint((n * n).is_integer())\nprint(10 // n)\n"
    exercise = coding_exercise(lesson, [case("five", stdin="5\n", expected="True\n2"),
                                        case("zero", stdin="0\n", expected="True\n0", hidden=True)])
    submission = graded(student, exercise, code)
    results = {r["id"]: r for r in submission.test_results}
    assert results["five"]["passed"] and results["five"]["backend"] == "pyodide"
    assert results["five"]["recheck"] == "cpython_error"
    # A real error stays an error, now with the browser's traceback: only the student's own lines.
    zero = results["zero"]
    assert (zero["passed"], zero["status"], zero["backend"]) == (False, "error", "pyodide")
    assert "ZeroDivisionError" in zero["error"] and zero["errorLine"] == 3 and "runner" not in zero["error"]
    assert zero["output"] == "True\n"
    assert sandboxes == ["cpython", "cpython", "pyodide", "pyodide"]  # both CPython runs, then only these two


def test_a_plain_wrong_answer_stays_with_cpython_and_pyodide_never_runs(auto_app, db, student, lesson, sandboxes):
    exercise = coding_exercise(lesson, [case("double", stdin="21\n", expected="42"),
                                        case("again", stdin="2\n", expected="4", hidden=True),
                                        case("wrong", stdin="3\n", expected="7")])
    submission = graded(student, exercise, "n = int(input())\nprint(n * 2)\n")
    assert (submission.score, submission.passed) == (20, False)
    assert [(r["backend"], r["recheck"], r["reason"]) for r in submission.test_results] == [
        ("cpython", None, None), ("cpython", None, None), ("cpython", None, "wrong_output")]
    assert sandboxes == ["cpython"] * 3


def test_adding_floats_with_sum_is_judged_by_pyodide(auto_app, db, student, lesson, sandboxes):
    code = "prices = [0.1, 0.2, 0.3]\nprint(sum(prices))\nprint(sum([1, 2]), sum)\n"
    exercise = coding_exercise(lesson, [case("total", expected="0.6\n3 <built-in function sum>")])
    (result,) = graded(student, exercise, code).test_results
    assert result["passed"], result  # CPython 3.11 prints 0.6000000000000001
    assert (result["backend"], result["recheck"]) == ("pyodide", "float_sum")
    assert sandboxes == ["cpython", "pyodide"]
    # Whole numbers add the same everywhere: CPython's verdict stands, and `sum` still looks like the builtin.
    ints = coding_exercise(lesson, [case("ints", expected="6 <built-in function sum> sum")], order=2)
    (result,) = graded(student, ints, "print(sum([1, 2, 3]), sum, sum.__name__)\n").test_results
    assert result["passed"] and result["backend"] == "cpython", result


def test_an_ordered_dicts_repr_is_the_browsers(auto_app, db, student, lesson, sandboxes):
    exercise = coding_exercise(lesson, [case("repr", expected="OrderedDict({'a': 1})")])
    (result,) = graded(student, exercise, "from collections import OrderedDict\nprint(OrderedDict(a=1))\n").test_results
    assert result["passed"], result  # CPython 3.11 prints OrderedDict([('a', 1)])
    assert (result["backend"], result["recheck"]) == ("pyodide", "differs:collections.OrderedDict")
    assert sandboxes == ["pyodide"]


def test_a_tests_own_code_in_newer_python_sends_that_test_alone(auto_app, db, student, lesson, sandboxes):
    exercise = coding_exercise(lesson, [
        case("plain", stdin="3\n", expected="6"),
        case("checked", stdin="3\n", code='print(f"{"ok" if hasil == 6 else "no"}")', expected="6\nok")])
    submission = graded(student, exercise, "hasil = int(input()) * 2\nprint(hasil)\n")
    assert submission.passed, submission.test_results
    assert [(r["backend"], r["recheck"]) for r in submission.test_results] == [
        ("cpython", None), ("pyodide", "test_syntax")]
    assert sandboxes == ["cpython", "pyodide"]


def test_staff_see_which_interpreter_judged_each_test_and_students_do_not(auto_app, db):
    from tests.factories import make_open_lesson, make_user

    teacher, student = make_user("instructor"), make_user("student")
    exercise = coding_exercise(make_open_lesson(student, teacher), [case("a", expected="0.6"),
                                                                   case("b", expected="x")])
    submission = graded(student, exercise, "print(sum([0.1, 0.2, 0.3]))\n")
    teacher_page = text(signed_in_client(auto_app, teacher).get(f"/submissions/{submission.id}"))
    assert teacher_page.count("judged by Pyodide (sum() added decimal numbers, which newer Python adds more "
                              "precisely)") == 2, teacher_page
    student_page = text(signed_in_client(auto_app, student).get(f"/submissions/{submission.id}"))
    assert "judged by" not in student_page and "Pyodide" not in student_page


def test_the_static_check_finds_newer_names_however_they_are_imported():
    old = (3, 11)
    assert auto.why_browser_python("import itertools as it\nprint(list(it.batched('ab', 1)))", old) \
        == "newer:itertools.batched"
    assert auto.why_browser_python("from math import sumprod as sp\n", old) == "newer:math.sumprod"
    assert auto.why_browser_python("import string.templatelib\n", old) == "newer:string.templatelib"
    assert auto.why_browser_python("x = t'hi {1}'\n", old) == "syntax"
    assert auto.why_browser_python("try:\n    pass\nexcept ValueError, TypeError:\n    pass\n", old) == "syntax"
    assert auto.why_browser_python("return 5\n", old) == "syntax"  # found after parsing, by the compiler
    assert auto.why_browser_python("((((" * 300 + "1" + "))))" * 300, old) == "syntax"  # too deep for the parser
    assert auto.why_browser_python("1+" * 24_999 + "1", old) == "syntax"  # too deep for the compiler: no crash
    # Names that merely look alike, and everything 3.11 has, stay with CPython.
    assert auto.why_browser_python("batched = 1\nimport math\nprint(math.prod([2, 3]), batched)\n", old) is None
    assert auto.why_browser_python("import itertools\nprint(list(itertools.pairwise('abc')))\n", old) is None
    # An interpreter as new as the browser's needs no list of newer names.
    assert auto.why_browser_python("import itertools\nitertools.batched\n", (3, 14)) is None
    # What answers differently on both: the interpreter's version and platform, a changed repr.
    assert auto.why_browser_python("import sys\nif sys.version_info >= (3, 12):\n    print(1)\n", old) \
        == "differs:sys.version_info"
    assert auto.why_browser_python("import platform as p\nprint(p.system())\n", old) == "differs:platform.system"
    assert auto.why_browser_python("from collections import OrderedDict\n", old) == "differs:collections.OrderedDict"
    assert auto.why_browser_python("import sys\nprint(sys.stdin.readline())\nsys.exit(0)\n", old) is None


def test_every_listed_name_is_missing_from_the_servers_python_and_present_in_the_browsers(app):
    names = [(module, name) for module, entries in auto.NEWER.items() for name in entries]
    probe = ("import importlib\nfor module, name in {!r}:\n"
             "    print(module, name, hasattr(importlib.import_module(module), name))\n"
             "for module in {!r}:\n"
             "    try:\n        importlib.import_module(module); print(module, True)\n"
             "    except ImportError:\n        print(module, False)\n").format(names, list(auto.NEWER_MODULES))
    with app.app_context():
        settings = grading.sandbox_settings()
    results = {}
    for backend in ("cpython", "pyodide"):
        (run,) = run_tests(replace(settings, backend=backend), probe, [TestInput()], 30)
        assert run.status == "ok", run
        results[backend] = run.stdout.split("\n")
    server = _server_python()
    expected_server = [f"{module} {name} {added <= server}" for module, entries in auto.NEWER.items()
                       for name, added in entries.items()]
    expected_server += [f"{module} {added <= server}" for module, added in auto.NEWER_MODULES.items()]
    assert results["cpython"][:-1] == expected_server
    assert all(line.endswith(" True") for line in results["pyodide"][:-1]), results["pyodide"]


def test_auto_gives_the_agreement_programs_the_browsers_verdicts(app):
    with app.app_context():
        app.config["GRADER_BACKEND"] = "pyodide"
        pyodide = _verdicts(grading.sandbox_settings())
        app.config["GRADER_BACKEND"] = "auto"
        chosen = _verdicts(grading.sandbox_settings())
    differences = [f"{name}: pyodide={pyodide[name]} auto={chosen[name]}"
                   for name, *_ in PROGRAMS if pyodide[name] != chosen[name]]
    assert not differences, "\n".join(differences)


def test_both_runs_share_one_time_budget(auto_app, db, student, lesson, sandboxes):
    # Loops of 2 s in a 16 s budget: CPython may spend half (time limits until the budget cuts a loop or leaves
    # the last unstarted); Pyodide re-judges them in order with the other half. Every verdict is Pyodide's,
    # the first a time limit, the last "not run", and the whole stays within the budget.
    auto_app.config["GRADER_TIME_BUDGET"] = 16
    exercise = coding_exercise(lesson, [case(f"loop{i}", expected="x") for i in range(4)], time_limit=2)
    started = time.monotonic()
    submission = graded(student, exercise, "while True:\n    pass\n")
    took = time.monotonic() - started
    results = submission.test_results
    assert [r["backend"] for r in results] == ["pyodide"] * 4, results
    rechecks = [r["recheck"] for r in results]
    assert rechecks[0] == "cpython_time_limit" and rechecks[-1] in ("cpython_budget_spent", "cpython_not_run")
    assert set(rechecks) <= {"cpython_time_limit", "cpython_budget_spent", "cpython_not_run"}, rechecks
    statuses = [r["status"] for r in results]
    assert statuses[0] == "time_limit" and statuses[-1] == "not_run", statuses
    assert set(statuses) <= {"time_limit", "budget_spent", "not_run"}
    assert took < 16 + 3, took
    assert sandboxes[0] == "cpython" and "pyodide" in sandboxes and submission.score == 0


def test_a_clean_but_slow_cpython_run_is_rejudged(auto_app, db, student, lesson, sandboxes):
    # Pyodide runs pure-Python loops up to ~4x slower than native CPython: near its limit, the browser decides.
    code = "import time\nstart = time.monotonic()\nwhile time.monotonic() - start < 1.2:\n    pass\nprint('ok')\n"
    exercise = coding_exercise(lesson, [case("slow", expected="ok")], time_limit=5)
    (result,) = graded(student, exercise, code).test_results
    assert (result["passed"], result["backend"], result["recheck"]) == (True, "pyodide", "cpython_slow")
    assert sandboxes == ["cpython", "pyodide"]
