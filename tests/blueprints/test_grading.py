"""Grading: the instructor's queue for their classes, grade or return, the student told in the app and by email."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from babyowl.models import AssignmentSubmission, ExerciseProgress, Notification
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import flashes, mails, reload, text
from tests.learning_data import ASSIGNMENT, HX, exercise, make_setup, sign_in


@pytest.fixture
def app(make_app):
    return make_app(MAIL_BACKEND="file")


@pytest.fixture
def setup(db):
    return make_setup(unlocked=1, lessons=2)


@pytest.fixture
def assignment(setup):
    return exercise(setup.lessons[0], "assignment", ASSIGNMENT, "Tugas sapaan")


def hand_in_text(client, setup, assignment, words="print('Halo')", htmx=False):
    return client.post(setup.url(assignment, "submissions"), data={"kind": "text", "text": words},
                       headers=HX if htmx else {})


@pytest.fixture
def submitted(client, db, setup, assignment):
    sign_in(client, setup.student)
    assert hand_in_text(client, setup, assignment).status_code == 303
    return db.session.scalar(select(AssignmentSubmission))


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_text_and_link_hand_ins(client, db, setup, assignment, htmx):
    sign_in(client, setup.student)
    assert hand_in_text(client, setup, assignment, "  Jawaban saya  ", htmx=htmx).status_code in (200, 303)
    link = client.post(setup.url(assignment, "submissions"), data={"kind": "link", "link": "https://replit.com/@andi/x"},
                       headers=HX if htmx else {})
    assert link.status_code in (200, 303)
    rows = list(db.session.scalars(select(AssignmentSubmission).order_by(AssignmentSubmission.version)))
    assert [(r.type, r.text_content, r.link_url, r.version) for r in rows] == [
        ("text", "Jawaban saya", None, 1), ("link", None, "https://replit.com/@andi/x", 2)]


@pytest.mark.parametrize("data, message", [
    ({"kind": "text", "text": "   "}, "Write your answer."),
    ({"kind": "link", "link": "javascript:alert(1)"}, "Give a web address starting with http:// or https://"),
    ({"kind": "link", "link": "https://" + "a" * 600}, "Give a web address starting with http:// or https://"),
    ({"kind": "video"}, "Choose how to hand in your work."),
    ({}, "Choose how to hand in your work."),
    ({"kind": "text", "text": "x" * 50_001}, "Keep the text to at most 50000 characters."),
])
def test_bad_hand_ins_are_refused_with_a_message(client, db, setup, assignment, data, message):
    sign_in(client, setup.student)
    response = client.post(setup.url(assignment, "submissions"), data=data, headers=HX)
    assert response.status_code == 422 and message in text(response)
    assert db.session.scalar(select(func.count()).select_from(AssignmentSubmission)) == 0


def test_a_type_the_assignment_does_not_take_is_refused(client, db, setup):
    text_only = exercise(setup.lessons[0], "assignment", {**ASSIGNMENT, "submissionTypes": ["text"]})
    sign_in(client, setup.student)
    response = client.post(setup.url(text_only, "submissions"), data={"kind": "link", "link": "https://x.id"},
                           headers=HX)
    assert response.status_code == 422 and "Choose how to hand in your work." in text(response)


def test_the_queue_lists_the_latest_work_of_the_instructors_classes(client, db, setup, assignment, submitted):
    hand_in_text(client, setup, assignment, "Versi kedua")
    other_teacher = make_user("instructor")
    other_class = make_class(course=setup.school_class.course, instructor=other_teacher, name="Kelas Lain")
    make_enrollment(other_class, make_user("student"))
    sign_in(client, setup.teacher)
    page = text(client.get("/learn/grading"))
    assert "Andi Siswa" in page and "Tugas sapaan" in page and "1 submission" in page
    assert page.count("Andi Siswa") == 1  # only the latest version waits
    filtered = client.get(f"/learn/grading?class={other_class.id}&status=all", headers=HX)
    assert "Nothing to grade here." in text(filtered) and "<html" not in text(filtered)
    graded = text(client.get("/learn/grading?status=graded"))
    assert "Nothing to grade here." in graded
    sign_in(client, other_teacher)
    assert "Nothing to grade here." in text(client.get("/learn/grading?status=all"))
    sign_in(client, make_user("student"))
    assert client.get("/learn/grading").status_code == 403


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_grading_records_the_grade_and_tells_the_student(app, client, db, setup, assignment, submitted, htmx,
                                                         tmp_path):
    sign_in(client, setup.teacher)
    page = text(client.get(f"/learn/submissions/{submitted.id}"))
    assert "print('Halo')" in page and "Out of 50." in page
    response = client.post(f"/learn/submissions/{submitted.id}", headers=HX if htmx else {},
                           data={"status": "graded", "grade": "45", "feedback": "Rapi sekali."})
    if htmx:
        assert response.status_code == 200 and "Grade: 45 of 50" in text(response) and "<html" not in text(response)
    else:
        assert response.status_code == 303 and response.headers["Location"] == "/learn/grading"
        assert "Andi Siswa has been told." in flashes(client.get(response.headers["Location"]))
    row = reload(db, submitted)
    assert (row.status, row.grade, row.max_grade, row.feedback, row.graded_by) == (
        "graded", 45, 50, "Rapi sekali.", setup.teacher.id)
    note = db.session.scalar(select(Notification))
    assert (note.user_id, note.type, note.title, note.reference_id) == (
        setup.student.id, "assignment_graded", "Graded: Tugas sapaan", submitted.id)
    [mail] = mails(tmp_path / "mail")
    assert mail["To"] == setup.student.email and "was graded 45 of 50" in mail.get_body(("plain",)).get_content()
    sign_in(client, setup.student)
    lesson = text(client.get(setup.lesson_url(setup.lessons[0])))
    assert "Grade: 45 of 50" in lesson and "Rapi sekali." in lesson and "this assignment is finished" in lesson
    refused = hand_in_text(client, setup, assignment, htmx=True)
    assert refused.status_code == 409 and "Your work has been graded, so it cannot be handed in again." in text(
        refused)
    progress = text(client.get("/learn/progress"))
    assert "Tugas sapaan" in progress and "45 / 50" in progress


def test_returned_work_reopens_the_assignment_for_a_new_version(client, db, setup, assignment, submitted):
    assert db.session.scalar(select(ExerciseProgress.completed)) is True
    sign_in(client, setup.teacher)
    response = client.post(f"/learn/submissions/{submitted.id}",
                           data={"status": "returned", "feedback": "Tambahkan nama pengguna."})
    assert response.status_code == 303 and reload(db, submitted).status == "returned"
    db.session.expire_all()
    assert db.session.scalar(select(ExerciseProgress.completed)) is False
    assert reload(db, setup.enrollment).exercises_completed == 0
    assert db.session.scalar(select(Notification.type)) == "assignment_returned"
    sign_in(client, setup.student)
    assert "Tambahkan nama pengguna." in text(client.get(setup.lesson_url(setup.lessons[0])))
    assert hand_in_text(client, setup, assignment, "Versi dua").status_code == 303
    db.session.expire_all()
    assert db.session.scalar(select(func.max(AssignmentSubmission.version))) == 2
    assert db.session.scalar(select(ExerciseProgress.completed)) is True


@pytest.mark.parametrize("data, message", [
    ({"status": "graded", "grade": "51"}, "Give a grade from 0 to 50."),
    ({"status": "graded", "grade": ""}, "Give a grade from 0 to 50."),
    ({"status": "graded", "grade": "banyak"}, "Enter a whole number."),
    ({"status": "returned", "feedback": ""}, "Say what the student should change before handing it in again."),
    ({"status": "lost"}, "Choose one of the options."),
])
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_bad_grades_are_refused_and_change_nothing(client, db, setup, submitted, data, message, htmx):
    sign_in(client, setup.teacher)
    response = client.post(f"/learn/submissions/{submitted.id}", data=data, headers=HX if htmx else {})
    assert response.status_code == 422 and message in text(response)
    assert ("<html" in text(response)) is not htmx
    assert reload(db, submitted).status == "pending"
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_an_older_version_cannot_be_graded(client, db, setup, assignment, submitted):
    hand_in_text(client, setup, assignment, "Versi kedua")
    sign_in(client, setup.teacher)
    response = client.post(f"/learn/submissions/{submitted.id}", data={"status": "graded", "grade": "10"},
                           headers=HX)
    assert response.status_code == 409 and "handed in a newer version (2)" in text(response)
    assert reload(db, submitted).status == "pending"


def test_other_instructors_students_and_staff_cannot_grade(client, db, setup, submitted):
    for user, status in ((make_user("instructor"), 404), (setup.student, 403), (make_user("staff"), 403)):
        sign_in(client, user)
        assert client.post(f"/learn/submissions/{submitted.id}", data={"status": "graded", "grade": "1"}).status_code \
            == status
    assert reload(db, submitted).status == "pending"
