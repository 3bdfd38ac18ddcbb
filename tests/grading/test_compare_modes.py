"""Issue 16 #8: how a test's output is compared is chosen per test by its author and shown to the student."""
from __future__ import annotations

import pytest

from babyowl.exercise_types import get_type
from babyowl.exercise_types.base import InvalidContent
from babyowl.grading.compare import same_output
from babyowl.services import grading
from tests.factories import make_open_lesson, make_user
from tests.grading.test_grader import case, coding_exercise
from tests.helpers import signed_in_client, text


@pytest.mark.parametrize("actual, expected, mode, same", [
    ("225.0\n", "225", "numbers", True),
    ("225.0\n", "225", "exact", False),
    ("Luas: 3.14159 m2", "Luas: 3.1416 m2", "numbers", False),  # beyond the default tolerance
    ("x = 1e3", "x = 1000", "numbers", True),
    ("x = 1000", "y = 1000", "numbers", False),  # the words still count
    ("1 2", "1 2 3", "numbers", False),
    ("HALO Dunia", "halo dunia", "ignore_case", True),
    ("halo dunia", "halo  dunia", "ignore_case", False),
    ("1 2\n3 ", "123", "ignore_whitespace", True),
    ("a  \nb\t\n\n", "a\nb", "exact", True),
    ("15\n16", "15", "exact", False),
])
def test_each_mode(actual, expected, mode, same):
    assert same_output(actual, expected, mode) is same


def test_a_tolerance_of_the_authors_choosing():
    assert same_output("3.14159", "3.1416", "numbers", 0.001) is True
    assert same_output("3.2", "3.1416", "numbers", 0.001) is False


def test_the_author_chooses_the_mode_and_a_wrong_one_is_refused(db):
    coding = get_type("coding")
    content = {"mode": "challenge", "language": "python", "instructionsSource": "Hitung.", "starterCode": "",
               "solutionCode": "", "requiredPackages": [], "hints": [], "timeLimit": 5, "outputType": "console",
               "testCases": [{"id": "a", "name": "A", "input": "", "stdin": "", "expectedOutput": "225",
                              "isHidden": False, "points": 1, "compare": "numbers", "tolerance": 0.01},
                             {"id": "b", "name": "B", "input": "", "stdin": "", "expectedOutput": "x",
                              "isHidden": False, "points": 1}]}
    stored = coding.validate(content)["testCases"]
    assert [(t["compare"], t["tolerance"]) for t in stored] == [("numbers", 0.01), ("exact", None)]
    content["testCases"][1]["compare"] = "roughly"
    with pytest.raises(InvalidContent):
        coding.validate(content)
    content["testCases"][1].update(compare="numbers", tolerance=-1)
    with pytest.raises(InvalidContent):
        coding.validate(content)


def test_the_server_grades_each_test_in_its_mode_and_the_student_is_told_how(backend, app, db):
    student = make_user("student")
    lesson = make_open_lesson(student)
    tests = [dict(case("area", stdin="15\n", expected="225"), compare="numbers"),
             dict(case("area_exact", stdin="15\n", expected="225"), compare="exact"),
             dict(case("shout", stdin="HALO\n", expected="halo"), compare="ignore_case"),
             dict(case("spaced", stdin="1 2 3\n", expected="123", hidden=True), compare="ignore_whitespace")]
    exercise = coding_exercise(lesson, tests)
    code = "word = input()\nprint(float(word) ** 2 if word.isdigit() else word)\n"
    submission = grading.grade(grading.submit(student, exercise, code).id)
    passed = {r["id"]: r["passed"] for r in submission.test_results}
    assert passed == {"area": True, "area_exact": False, "shout": True, "spaced": True}
    client = signed_in_client(app, student)
    page = text(client.get(f"/exercises/{exercise.id}/code"))
    assert "numbers compared with a small tolerance (225.0 matches 225)" in page
    assert "upper and lower case count as the same" in page
    assert "spaces and line breaks are ignored" not in page.split("Example tests")[1].split("</ol>")[0]
    result_page = text(client.get(f"/submissions/{submission.id}"))
    assert "output compared exactly (trailing spaces ignored)" in result_page
