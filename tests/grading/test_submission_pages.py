"""Submitting code over HTTP: the server's grading decides, whatever the form claims."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from babyowl.models import ClassEnrollment, CodingSubmission, SchoolClass
from babyowl.services import grading
from tests.factories import make_class, make_course, make_enrollment, make_open_lesson, make_user
from tests.grading.test_grader import SOLUTION, case, coding_exercise
from tests.helpers import signed_in_client, text

HTMX = {"HX-Request": "true"}
TESTS = [case("double", stdin="21\n", expected="42"),
         case("secret", stdin="5\n", code="print(kali(2, 3))", expected="10\n6", points=5, hidden=True)]


@pytest.fixture
def setting(db):
    teacher, student = make_user("instructor"), make_user("student")
    return teacher, student, coding_exercise(make_open_lesson(student, teacher), TESTS)


@pytest.fixture
def worker_busy(monkeypatch):
    """No worker has picked the grading up yet (without Redis, grading would run at once)."""
    import babyowl.jobs.grading

    monkeypatch.setattr(babyowl.jobs.grading, "queue_grading", lambda submission_id: None)


def submissions(db):
    return db.session.scalars(select(CodingSubmission)).all()


def test_a_forged_pass_changes_nothing(app, db, setting):
    teacher, student, exercise = setting
    client = signed_in_client(app, student)
    response = client.post(f"/exercises/{exercise.id}/submissions", headers=HTMX, data={
        "code": "print('wrong')", "passed": "true", "score": "15", "max_score": "15",
        "test_results": '[{"id": "double", "passed": true}]'})
    assert response.status_code == 200
    (submission,) = submissions(db)
    assert (submission.passed, submission.score, submission.max_score) == (False, 0, 15)
    page = text(response)
    assert "Not passed yet" in page and "Score: 0 of 15" in page and "wrong output" in page
    assert "Hidden tests: 0 of 1 passed." in page
    assert "kali(2, 3)" not in page and "10\n6" not in page  # a hidden test's details stay on the server


def test_a_plain_post_goes_to_the_graded_submission(app, db, setting):
    teacher, student, exercise = setting
    client = signed_in_client(app, student)
    response = client.post(f"/exercises/{exercise.id}/submissions", data={"code": SOLUTION})
    (submission,) = submissions(db)
    assert response.status_code == 303 and response.headers["Location"] == f"/submissions/{submission.id}"
    page = text(client.get(response.headers["Location"]))
    assert "✓ Passed" in page and "Score: 15 of 15" in page
    # The class's instructor sees the hidden test too; another instructor or student does not see it at all.
    teacher_page = text(signed_in_client(app, teacher).get(f"/submissions/{submission.id}"))
    assert "Test secret" in teacher_page and "10\n6" in teacher_page
    assert signed_in_client(app, make_user("instructor")).get(f"/submissions/{submission.id}").status_code == 404
    assert signed_in_client(app, make_user("student")).get(f"/submissions/{submission.id}").status_code == 404


def test_an_ungraded_submission_polls(app, db, setting, worker_busy):
    teacher, student, exercise = setting
    submission = grading.submit(student, exercise, "print(42)")
    fragment = text(signed_in_client(app, student).get(f"/submissions/{submission.id}", headers=HTMX))
    assert 'hx-trigger="every 1s"' in fragment and "being graded" in fragment and "<html" not in fragment


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_empty_code_is_refused_and_stores_nothing(app, db, setting, headers):
    teacher, student, exercise = setting
    response = signed_in_client(app, student).post(f"/exercises/{exercise.id}/submissions", data={"code": "  "},
                                                   headers=headers)
    assert response.status_code == 422 and "Write some code before submitting." in text(response)
    assert submissions(db) == []


def test_a_student_whose_lesson_is_locked_cannot_submit(app, db, setting):
    teacher, student, exercise = setting
    other_class_student = make_user("student")
    make_enrollment(make_class(course=make_course()), other_class_student)
    response = signed_in_client(app, other_class_student).post(f"/exercises/{exercise.id}/submissions",
                                                               data={"code": SOLUTION})
    assert response.status_code == 403 and submissions(db) == []
    withdrawn = db.session.scalars(select(ClassEnrollment).where(ClassEnrollment.student_id == student.id)).one()
    withdrawn.status = "withdrawn"
    db.session.commit()
    assert signed_in_client(app, student).post(f"/exercises/{exercise.id}/submissions",
                                               data={"code": SOLUTION}).status_code == 403


def test_history_code_solution_and_restore(app, db, setting, worker_busy):
    teacher, student, exercise = setting
    first = grading.submit(student, exercise, "print('pertama')")
    grading.submit(student, exercise, "print('kedua')")
    classmate = make_user("student", full_name="Teman Sekelas")
    class_id = db.session.scalars(select(ClassEnrollment.class_id)
                                  .where(ClassEnrollment.student_id == student.id)).one()
    make_enrollment(db.session.get(SchoolClass, class_id), classmate)
    own = signed_in_client(app, student)
    page = text(own.get(f"/exercises/{exercise.id}/submissions"))
    assert page.count("/submissions/") == 2 and "being graded" in page
    view = text(own.get(f"/submissions/{first.id}"))
    assert "print('pertama')" in view and "Restore into the editor" in view
    assert "return a * b" not in view and "Solution (staff only)" not in view
    editor = text(own.get(f"/exercises/{exercise.id}/code?from={first.id}"))
    assert "print('pertama')</textarea>" in editor
    assert "print('kedua')</textarea>" in text(own.get(f"/exercises/{exercise.id}/code"))
    teacher_client = signed_in_client(app, teacher)
    teacher_view = text(teacher_client.get(f"/submissions/{first.id}"))
    assert "Solution (staff only)" in teacher_view and "return a * b" in teacher_view
    assert student.full_name in text(teacher_client.get(f"/exercises/{exercise.id}/submissions"))
    stranger_teacher = signed_in_client(app, make_user("instructor"))
    assert "/submissions/" not in text(stranger_teacher.get(f"/exercises/{exercise.id}/submissions")).split(
        "<h1>")[1]
    other = signed_in_client(app, classmate)
    assert other.get(f"/submissions/{first.id}").status_code == 404
    assert other.get(f"/exercises/{exercise.id}/code?from={first.id}").status_code == 404
