"""The JSON API for learning: quizzes without their answers, assignments with uploads and grades, coding."""
from __future__ import annotations

import io
import json
import uuid

import pytest

from tests.api.test_api import _data, _refusal
from tests.factories import make_user
from tests.grading.test_grader import TESTS, coding_exercise
from tests.learning_data import ASSIGNMENT, QUIZ, QUIZ_RIGHT_ANSWERS, exercise, make_setup


def _run(test_id, passed, hidden, points):
    """One test's result as the grader stores it."""
    return {"id": test_id, "name": test_id, "hidden": hidden, "points": points if passed else 0, "maxPoints": points,
            "passed": passed, "status": "ok", "reason": None if passed else "wrong_output", "output": "",
            "error": None, "errorLine": None, "seconds": 0.01, "compare": "exact"}


@pytest.fixture
def setup(db):
    return make_setup(unlocked=1)


def _quiz_url(setup, quiz, tail=""):
    return f"/api/v1/classes/{setup.school_class.id}/exercises/{quiz.id}/quiz{tail}"


def test_the_quiz_comes_without_its_answers(client, setup, bearer):
    quiz = exercise(setup.lessons[0], "quiz", QUIZ)
    response = client.get(_quiz_url(setup, quiz), headers=bearer(setup.student))
    data = _data(response)
    assert [q["id"] for q in data["questions"]] == ["q1", "q2", "q3", "q4"] and data["attempts_allowed"] == 2
    text = response.get_data(as_text=True)
    assert "correct" not in text and "explanation" not in text and "Numbers are added" not in text


def test_submitting_a_quiz_scores_it_and_counts_attempts(client, setup, bearer):
    quiz = exercise(setup.lessons[0], "quiz", QUIZ)
    headers = bearer(setup.student)
    first = client.post(_quiz_url(setup, quiz, "/attempts"), headers=headers, json={"answers": {"q1": ["b"]}})
    assert first.status_code == 201 and _data(first)["score"] == 0 and _data(first)["passed"] is False
    second = _data(client.post(_quiz_url(setup, quiz, "/attempts"), headers=headers,
                               json={"answers": QUIZ_RIGHT_ANSWERS}))
    assert (second["score"], second["max_score"], second["passed"], second["attempt_number"]) == (5, 5, True, 2)
    _refusal(client.post(_quiz_url(setup, quiz, "/attempts"), headers=headers,
                         json={"answers": QUIZ_RIGHT_ANSWERS}), 409)  # two attempts allowed
    attempts = _data(client.get(_quiz_url(setup, quiz, "/attempts"), headers=headers))
    assert [a["score"] for a in attempts] == [0, 5]


def test_quiz_refusals(client, setup, bearer, api_as):
    quiz = exercise(setup.lessons[0], "quiz", QUIZ)
    locked = exercise(setup.lessons[1], "quiz", QUIZ)
    headers = bearer(setup.student)
    _refusal(client.get(_quiz_url(setup, locked), headers=headers), 403)
    _refusal(client.get(_quiz_url(setup, quiz), headers=api_as("student")[1]), 403)
    _refusal(client.get(_quiz_url(setup, quiz), headers=bearer(setup.teacher)), 403)
    _refusal(client.post(_quiz_url(setup, quiz, "/attempts"), headers=headers, json={"answers": {}}), 422)
    material = exercise(setup.lessons[0], "material", {"format": "markdown", "source": "# Hi"})
    _refusal(client.get(_quiz_url(setup, material), headers=headers), 404)


def test_an_assignment_is_handed_in_with_a_file_and_graded(client, setup, bearer, api_as):
    assignment = exercise(setup.lessons[0], "assignment", ASSIGNMENT)
    url = f"/api/v1/classes/{setup.school_class.id}/exercises/{assignment.id}/submissions"
    response = client.post(url, headers=bearer(setup.student), content_type="multipart/form-data",
                           data={"kind": "file", "file": (io.BytesIO(b"print('halo')\n"), "tugas.py")})
    submission = _data(response)
    assert response.status_code == 201 and submission["file_name"] == "tugas.py" and submission["version"] == 1
    _refusal(client.post(url, headers=bearer(setup.student), content_type="multipart/form-data",
                         data={"kind": "file", "file": (io.BytesIO(b"MZ\x90\x00"), "virus.exe")}), 422)
    grade_url = f"/api/v1/submissions/{submission['id']}/grade"
    _refusal(client.post(grade_url, headers=api_as("instructor")[1], json={"status": "graded", "grade": 40}), 404)
    _refusal(client.post(grade_url, headers=bearer(setup.teacher), json={"status": "graded", "grade": 60}), 422)
    graded = _data(client.post(grade_url, headers=bearer(setup.teacher),
                               json={"status": "graded", "grade": 45, "feedback": "Bagus"}))
    assert (graded["status"], graded["grade"], graded["max_grade"]) == ("graded", 45, 50)
    _refusal(client.post(url, headers=bearer(setup.student), content_type="multipart/form-data",
                         data={"kind": "text", "text": "Lagi"}), 409)  # graded work is not handed in again
    _refusal(client.post(grade_url, headers=bearer(setup.student), json={"status": "graded", "grade": 50}), 403)


def test_coding_without_hidden_tests_submit_history_and_result(client, setup, bearer, monkeypatch, db):
    import babyowl.jobs.grading
    from babyowl.services import grading

    monkeypatch.setattr(babyowl.jobs.grading, "queue_grading", lambda submission_id: None)
    coding = coding_exercise(setup.lessons[0], TESTS)
    student = bearer(setup.student)
    data = _data(client.get(f"/api/v1/exercises/{coding.id}/coding", headers=student))
    text = json.dumps(data)
    assert data["solution"] is None and "secret" not in text and "kali(-2, 4)" not in text
    assert _data(client.get(f"/api/v1/exercises/{coding.id}/coding", headers=bearer(setup.teacher)))["solution"]
    response = client.post(f"/api/v1/exercises/{coding.id}/coding/submit", headers=student,
                           json={"code": "print('x')"})
    submitted = _data(response)
    assert response.status_code == 202 and submitted["graded"] is False and submitted["attempt_number"] == 1
    grading.store(uuid.UUID(submitted["id"]), [_run("double", True, False, 10), _run("call", False, False, 10),
                                               _run("secret", True, True, 5)], 0.2)
    result = _data(client.get(f"/api/v1/coding/submissions/{submitted['id']}", headers=student))
    assert result["graded"] and [r["id"] for r in result["results"]] == ["double", "call"]
    assert (result["hidden_passed"], result["hidden_total"]) == (1, 1)
    teacher_view = _data(client.get(f"/api/v1/coding/submissions/{submitted['id']}", headers=bearer(setup.teacher)))
    assert len(teacher_view["results"]) == 3
    history = _data(client.get(f"/api/v1/exercises/{coding.id}/coding/submissions", headers=student))
    assert [h["id"] for h in history] == [submitted["id"]]
    _refusal(client.get(f"/api/v1/coding/submissions/{submitted['id']}", headers=bearer(make_user("student"))), 404)
    _refusal(client.post(f"/api/v1/exercises/{coding.id}/coding/submit", headers=student, json={"code": "  "}), 422)
    locked = coding_exercise(setup.lessons[1], TESTS)
    _refusal(client.get(f"/api/v1/exercises/{locked.id}/coding", headers=student), 403)
    _refusal(client.post(f"/api/v1/exercises/{coding.id}/coding/submit", headers=bearer(setup.teacher),
                         json={"code": "print(1)"}), 403)


def test_marking_done_reporting_progress_and_reading_it(client, setup, bearer, api_as):
    from tests.learning_data import MATERIAL, VIDEO

    material = exercise(setup.lessons[0], "material", MATERIAL)
    video = exercise(setup.lessons[0], "video", VIDEO)
    headers = bearer(setup.student)
    base = f"/api/v1/classes/{setup.school_class.id}/exercises"
    assert _data(client.post(f"{base}/{material.id}/complete", headers=headers))["completed"] is True
    _refusal(client.post(f"{base}/{video.id}/complete", headers=headers), 409)  # videos: watched, not ticked
    watched = _data(client.post(f"{base}/{video.id}/progress", headers=headers, json={"seconds": 30}))
    assert watched["watched_seconds"] == 30 and watched["completed"] is False
    lesson = _data(client.get(f"/api/v1/classes/{setup.school_class.id}/lessons/{setup.lessons[0].id}/progress",
                              headers=headers))
    assert (lesson["done"], lesson["total"]) == (1, 2)
    _refusal(client.get(f"/api/v1/classes/{setup.school_class.id}/lessons/{setup.lessons[1].id}/progress",
                        headers=headers), 403)  # still locked
    mine = _data(client.get(f"/api/v1/users/{setup.student.id}/progress", headers=headers))
    theirs = _data(client.get(f"/api/v1/users/{setup.student.id}/progress", headers=api_as("staff")[1]))
    assert mine == theirs and mine[0]["exercises_completed"] == 1
    _refusal(client.get(f"/api/v1/users/{setup.student.id}/progress", headers=api_as("student")[1]), 404)
