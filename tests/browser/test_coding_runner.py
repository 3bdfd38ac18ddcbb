"""The coding page's runner as a student meets it: time limits per test, the server's result, big output."""
from __future__ import annotations

import time

import pytest

from babyowl.extensions import db as _db
from babyowl.models import Exercise
from tests.browser.conftest import sign_in
from tests.browser.test_coding_in_browser import LAPTOP, run, wait_text
from tests.factories import PASSWORD, make_open_lesson, make_user


def _exercise(tests: list[dict], time_limit: int = 3) -> Exercise:
    student = make_user("student", email="murid@example.com")
    exercise = Exercise(lesson=make_open_lesson(student), title="Fungsi", type="coding", order_index=1, content={
        "mode": "challenge", "language": "python", "instructions": "<p>Tulis fungsi.</p>",
        "starterCode": "", "requiredPackages": [], "hints": [], "timeLimit": time_limit, "maxPoints": 10,
        "outputType": "console", "completionCriteria": "all_tests_pass",
        "testCases": [dict(test, id=str(i), isHidden=False, points=5) for i, test in enumerate(tests)]})
    _db.session.add(exercise)
    _db.session.commit()
    return exercise


def _open(page, base_url: str, exercise: Exercise) -> None:
    sign_in(page, base_url, "murid@example.com", PASSWORD)
    page.goto(f"{base_url}/exercises/{exercise.id}/code")
    page.locator("#editor .monaco-editor").wait_for(timeout=30_000)


@pytest.fixture
def page(open_page):
    return open_page(LAPTOP)


def test_each_example_test_gets_its_own_time_limit(live_server, page, db):
    # Two tests of ~1.5 s each under a 2 s limit: one limit shared by both would stop the second.
    exercise = _exercise([{"name": "Pertama", "stdin": "3\n", "input": "", "expectedOutput": "6"},
                          {"name": "Kedua", "stdin": "4\n", "input": "", "expectedOutput": "8"}], time_limit=2)
    _open(page, live_server, exercise)
    run(page, "import time\nn = int(input())\nstart = time.time()\nwhile time.time() - start < 1.5:\n"
              "    pass\nprint(n * 2, end='')\n", "5")
    wait_text(page, "#output", "10")
    wait_text(page, "#browser-tests", "2 of 2 example tests passed here", seconds=60)


def test_a_looping_test_fails_alone_and_the_next_test_still_runs(live_server, page, db):
    exercise = _exercise([{"name": "Berhenti", "stdin": "0\n", "input": "", "expectedOutput": "0"},
                          {"name": "Berputar", "stdin": "1\n", "input": "", "expectedOutput": "1"},
                          {"name": "Lagi", "stdin": "2\n", "input": "", "expectedOutput": "2"}], time_limit=2)
    _open(page, live_server, exercise)
    run(page, "n = int(input())\nwhile n == 1:\n    pass\nprint(n)\n", "0")
    wait_text(page, "#browser-tests", "2 of 3 example tests passed here", seconds=90)
    tests = page.locator("#browser-tests li")
    assert "✓ Berhenti" in tests.nth(0).text_content()
    assert "✗ Berputar" in tests.nth(1).text_content() and "Time limit exceeded" in tests.nth(1).text_content()
    assert "✓ Lagi" in tests.nth(2).text_content()


def test_the_servers_result_clears_the_example_tests_of_an_earlier_run(live_server, page, db):
    # The example test calls a function; the first version misnames it (NameError in the panel), the
    # fixed version is submitted without Run: no NameError may stay beside the server's "passed".
    exercise = _exercise([{"name": "Dobel", "stdin": "", "input": "print(dobel(3))", "expectedOutput": "6"}])
    _open(page, live_server, exercise)
    run(page, "def double(n):\n    return n * 2\n")
    wait_text(page, "#browser-tests", "0 of 1 example tests passed here")
    assert "NameError" in page.locator("#browser-tests").text_content()

    page.evaluate("window.babyowlCoding.setCode('def dobel(n):\\n    return n * 2\\n')")
    page.click("#submit-form button[type=submit]")
    wait_text(page, "#submission-panel", "Score: 5 of 5", seconds=90)
    deadline = time.monotonic() + 5
    while "NameError" in page.locator("#browser-tests").text_content() and time.monotonic() < deadline:
        time.sleep(0.1)
    tests = page.locator("#browser-tests").text_content()
    assert "NameError" not in tests and "0 of 1" not in tests
    assert "Dobel" in tests
