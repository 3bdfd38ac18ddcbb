"""The coding page in headless Chromium: Monaco, Pyodide in the sandboxed runner frame, turtle, limits, submit."""
from __future__ import annotations

import json
import time

import pytest

from babyowl.extensions import db as _db
from babyowl.models import Exercise
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_open_lesson, make_user

LAPTOP = {"width": 1280, "height": 900}
SOLUTION = "n = int(input())\nprint(n * 2)\n"


@pytest.fixture
def exercise(db):
    student = make_user("student", email="siswa@example.com")
    lesson = make_open_lesson(student)
    exercise = Exercise(lesson=lesson, title="Dobel", type="coding", order_index=1, content={
        "mode": "challenge", "language": "python", "instructions": "<p>Kalikan dua.</p>",
        "starterCode": "# tulis di sini\n",
        "solutionCode": "SECRET_SOLUTION = 1", "requiredPackages": [], "hints": ["Pakai int()", "Kalikan 2"],
        "timeLimit": 3, "maxPoints": 15, "outputType": "auto", "completionCriteria": "all_tests_pass",
        "testCases": [
            {"id": "a", "name": "Contoh", "stdin": "3\n", "input": "", "expectedOutput": "6", "isHidden": False,
             "points": 10},
            {"id": "b", "name": "Rahasia", "stdin": "50\n", "input": "", "expectedOutput": "100-HIDDEN-EXPECTED",
             "isHidden": True, "points": 5}]})
    _db.session.add(exercise)
    _db.session.commit()
    return exercise


def wait_text(page, selector: str, needle: str, seconds: float = 60):
    # Polled from Python: wait_for_function evaluates a string, which the page's CSP forbids.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if needle in (page.locator(selector).text_content() or ""):
            return
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never appeared in {selector}: {page.locator(selector).text_content()!r}")


def run(page, code: str, program_input: str = ""):
    page.evaluate(f"window.babyowlCoding.setCode({json.dumps(code)})")
    page.fill("#program-input", program_input)
    page.locator("#run-button:not([disabled])").wait_for(timeout=60_000)
    page.click("#run-button")


def test_run_draw_stop_and_submit(live_server, open_page, exercise, db):
    page = open_page(LAPTOP)
    sign_in(page, live_server, "siswa@example.com", PASSWORD)
    page.goto(f"{live_server}/exercises/{exercise.id}/code")
    html = page.content()
    assert "100-HIDDEN-EXPECTED" not in html and "SECRET_SOLUTION" not in html
    page.locator("#editor .monaco-editor").wait_for(timeout=30_000)
    assert page.evaluate("window.babyowlCoding.code()") == "# tulis di sini\n"

    # Output and input(): prompts and the lines read are shown.
    run(page, 'name = input("Nama? ")\nprint("Halo", name)\nprint(int(input()) * 2)\n', "Budi\n21")
    wait_text(page, "#output", "Halo Budi")
    wait_text(page, "#output", "42")
    assert "Nama? Budi" in page.locator("#output").text_content()
    wait_text(page, "#runner-status", "Python is ready.")

    # Turtle: a square drawn as SVG.
    run(page, "import turtle\nt = turtle.Turtle()\nfor _ in range(4):\n    t.forward(100)\n    t.left(90)\n"
              "turtle.done()\n")
    page.locator("#visual svg line").nth(3).wait_for(state="attached", timeout=30_000)
    assert page.locator("#visual svg line").count() == 4

    # An infinite loop ends with the time-limit message; a fresh runner takes the next run.
    run(page, "while True:\n    pass\n")
    wait_text(page, "#output", "Time limit exceeded", seconds=30)
    run(page, "print('lagi')\n")
    wait_text(page, "#output", "lagi")

    # Student code cannot read the app: fetch from the frame gets nothing.
    run(page, "import js\ntry:\n    response = await js.fetch('/dashboard')\n    body = await response.text()\n"
              "    print('GOT', len(body))\nexcept Exception as error:\n    print('BLOCKED', type(error).__name__)\n")
    wait_text(page, "#output", "BLOCKED")
    assert "GOT" not in page.locator("#output").text_content()

    # An error: the traceback shows only the student's lines, and the line is marked in the editor.
    run(page, "x = 1\nprint(x / 0)\n")
    wait_text(page, "#output", "ZeroDivisionError")
    output = page.locator("#output").text_content()
    assert 'File "main.py", line 2' in output and "_pyodide" not in output
    page.locator("#editor .squiggly-error").first.wait_for(state="attached", timeout=10_000)

    # Hints one at a time; reset asks first, then brings the starter code back.
    assert page.locator("#hints li:visible").count() == 0
    page.click("#hint-button")
    assert page.locator("#hints li:visible").count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reset-button")
    assert page.evaluate("window.babyowlCoding.code()") == "# tulis di sini\n"

    # The example test runs in the browser; Submit gets the server's score.
    run(page, SOLUTION, "4")
    wait_text(page, "#browser-tests", "1 of 1 example tests passed here")
    page.click("#submit-form button[type=submit]")
    wait_text(page, "#submission-panel", "Score: 10 of 15", seconds=90)
    assert "Hidden tests: 0 of 1 passed." in page.locator("#submission-panel").text_content()
