"""The browser's runner and the server's grader agree: the same programs, the same verdicts and output.

Each program runs as an example test on the coding page (headless Chromium, the runner frame's worker)
and through the grader's sandbox (Node + Pyodide under bubblewrap), with the same input and time limit.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from babyowl.grading.compare import normalise, same_output
from babyowl.grading.sandbox import TestInput, run_tests
from babyowl.services import grading
from tests.browser.conftest import sign_in
from tests.browser.test_coding_in_browser import LAPTOP, exercise  # noqa: F401  (the fixture)
from tests.factories import PASSWORD

TIME_LIMIT = 3  # the exercise fixture's limit, used on both sides

# (name, program, input lines, expected output)
PROGRAMS = [
    ("plain print", 'print("halo")\n', "", "halo"),
    ("last line without a newline", 'print("satu")\nprint("dua", end="")\n', "", "satu\ndua"),
    ("write without a newline", 'import sys\nsys.stdout.write("a\\nb")\n', "", "a\nb"),
    ("exit() at the end", 'print("selesai")\nexit()\n', "", "selesai"),
    ("sys.exit(0) at the end", 'import sys\nprint("selesai")\nsys.exit(0)\n', "", "selesai"),
    ("exit() inside a loop", 'for i in range(10):\n    print(i)\n    if i == 2:\n        exit()\n', "", "0\n1\n2"),
    ("input()", "n = int(input())\nprint(n * 2)\n", "21\n", "42"),
    ("input() with a prompt", 'nama = input("Nama? ")\nprint("Halo", nama)\n', "Budi\n", "Halo Budi"),
    ("input() past the end", "a = input()\nb = input()\nprint(a, b)\n", "1\n", "1 2"),
    ("sys.stdin read whole", "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n", "1 2\n3\n", "6"),
    ("an exception after output", 'print("sebelum")\nprint(1 / 0)\n', "", "sebelum"),
    ("a loop that times out", "while True:\n    pass\n", "", "never"),
    ("unicode", 'print("héllo ☃ 你好 🦉")\n', "", "héllo ☃ 你好 🦉"),
    ("trailing whitespace", 'print("a   ")\nprint("b\\t")\nprint()\nprint()\n', "", "a\nb"),
    ("a float is not an int (exact mode)", "print(15 * 15.0)\n", "", "225"),
    ("stderr is not output", 'import sys\nprint("ok")\nsys.stderr.write("peringatan\\n")\n', "", "ok"),
    ("many lines", "for i in range(1, 6):\n    print(i, i * i)\n", "", "1 1\n2 4\n3 9\n4 16\n5 25"),
    ("wrong answer", 'print("tiga")\n', "", "3"),
]


def _browser_results(page, base_url: str, exercise_id) -> dict[str, dict]:
    page.goto(f"{base_url}/exercises/{exercise_id}/code")
    deadline = time.monotonic() + 90
    while not page.evaluate("window.babyowlCoding.ready()"):
        assert time.monotonic() < deadline, "the runner never became ready"
        time.sleep(0.2)
    results = {}
    for name, code, stdin, expected in PROGRAMS:
        page.evaluate(f"window.babyowlCoding.setCode({json.dumps(code)})")
        page.evaluate("tests => window.babyowlCoding.runTests(tests)",
                      [{"name": name, "stdin": stdin, "input": "", "expectedOutput": expected}])
        deadline = time.monotonic() + TIME_LIMIT + 60
        while (shown := page.evaluate("window.babyowlCoding.testResults()")) is None:
            assert time.monotonic() < deadline, f"{name}: the browser never answered"
            time.sleep(0.1)
        results[name] = shown[0]
    return results


def _server_results(app) -> dict[str, dict]:
    results = {}
    with app.app_context():
        settings = grading.sandbox_settings()
        for name, code, stdin, expected in PROGRAMS:
            run = run_tests(settings, code, [TestInput(stdin=stdin)], TIME_LIMIT)[0]
            results[name] = {"passed": run.status == "ok" and same_output(run.stdout, expected),
                             "stdout": run.stdout, "error": run.status == "error",
                             "timeout": run.status == "time_limit"}
    return results




def test_browser_and_server_agree(live_server, browser_app, open_page, exercise, db):  # noqa: F811
    page = open_page(LAPTOP)
    sign_in(page, live_server, "siswa@example.com", PASSWORD)
    with ThreadPoolExecutor(1) as pool:  # the grader's sandboxes run meanwhile
        server_runs = pool.submit(_server_results, browser_app)
        browser = _browser_results(page, live_server, exercise.id)
        server = server_runs.result()

    disagreements = []
    for name, _code, _stdin, _expected in PROGRAMS:
        b, s = browser[name], server[name]
        seen = {"passed": (b["passed"], s["passed"]), "error": (bool(b["error"]), s["error"]),
                "timeout": (b["timeout"], s["timeout"])}
        if not b["timeout"] and not s["timeout"]:
            seen["output"] = (normalise(b["stdout"]), normalise(s["stdout"]))
        disagreements += [f"{name}: {what} browser={pair[0]!r} server={pair[1]!r}"
                          for what, pair in seen.items() if pair[0] != pair[1]]
    assert not disagreements, "\n".join(disagreements)

    # And both are right: what CPython would say.
    verdicts = {name: browser[name]["passed"] for name, *_ in PROGRAMS}
    assert [name for name, passed in verdicts.items() if not passed] == [
        "input() past the end", "an exception after output", "a loop that times out",
        "a float is not an int (exact mode)", "wrong answer"]
    assert browser["an exception after output"]["stdout"].strip() == "sebelum"
    assert browser["a loop that times out"]["timeout"]
