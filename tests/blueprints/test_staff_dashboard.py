"""Staff's dashboard and the landing page: what they show, and the dashboard's statements whatever the school's size."""
from __future__ import annotations

import io
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert

from babyowl.models import ClassAttendance, ClassEnrollment, User
from babyowl.services import payments
from babyowl.services.school_time import school_today
from tests.factories import make_class, make_course, make_enrollment, make_user
from tests.helpers import text

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def open_class(**fields):
    return make_class(status="enrollment_open", package_price=Decimal("1500000"),
                      enrollment_deadline=date.today() + timedelta(days=3), **fields)


def test_staff_see_payments_waiting_overdue_revenue_and_low_credits(client, db, login_as):
    staff = login_as("staff")
    waiting = payments.choose_class(make_user("student"), open_class(name="Python Sabtu"))
    payments.submit_proof(waiting.student, waiting, payments.ProofUpload("b.png", io.BytesIO(PNG)))
    paid = payments.choose_class(make_user("student"), open_class())
    payments.verify(staff, paid, "1.500.000")
    late = payments.choose_class(make_user("student"), open_class())
    late.status, late.due_at = "partially_paid", late.due_at - timedelta(days=10)
    running = make_class(name="Scratch Rabu", status="active", schedule={"days": [
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")[school_today().weekday()]]},
        start_date=school_today() - timedelta(days=7))
    low = make_enrollment(running, make_user("student", full_name="Budi Santoso"), credits_used=9)
    db.session.add(ClassAttendance(class_id=running.id, enrollment_id=low.id, meeting_number=1,
                                   meeting_date=school_today(), status="present"))
    db.session.commit()

    page = text(client.get("/dashboard"))

    assert "1 proof waiting for verification" in page and "1 invoice overdue" in page
    assert "Budi Santoso" in page and "1 student at or below 1 credit" in page
    assert "Scratch Rabu" in page and "Attendance taken: 1 of 1 students" in page
    assert "This week: 100%" in page
    assert "<svg" in page and "1.500.000" in page.replace(",", ".")  # this month's bar
    assert "Python Sabtu" in page  # its deadline is this week or it is filling up


def test_the_student_dashboard_is_unchanged(client, login_as):
    login_as("student")
    assert "My classes" in text(client.get("/dashboard"))


def _school(db, students: int, course, classes: list) -> None:
    """`students` students spread over the classes, each with a mark today, in bulk."""
    password = make_user("student").password_hash
    users = [{"id": uuid.uuid4(), "email": f"s{n}-{uuid.uuid4().hex[:6]}@example.com", "full_name": f"Siswa {n}",
              "role": "student", "password_hash": password, "onboarding_completed": True, "email_verified": True}
             for n in range(students)]
    db.session.execute(insert(User), users)
    enrollments = [{"id": uuid.uuid4(), "class_id": classes[n % len(classes)].id, "student_id": u["id"],
                    "meeting_credits": 10, "credits_used": n % 11} for n, u in enumerate(users)]
    db.session.execute(insert(ClassEnrollment), enrollments)
    db.session.execute(insert(ClassAttendance), [
        {"id": uuid.uuid4(), "class_id": e["class_id"], "enrollment_id": e["id"], "meeting_number": 1,
         "meeting_date": school_today(), "status": "present"} for e in enrollments])
    db.session.commit()


@pytest.mark.parametrize("sizes", [(100, 3000)])
def test_the_dashboard_runs_the_same_statements_for_100_and_3000_students(client, db, login_as, count_queries,
                                                                          sizes):
    login_as("staff")
    course = make_course()
    today = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")[school_today().weekday()]
    classes = [make_class(course=course, status="active", max_capacity=500, schedule={"days": [today]},
                          start_date=school_today() - timedelta(days=1)) for _ in range(4)]
    _school(db, sizes[0], course, classes)
    with count_queries() as small:
        assert client.get("/dashboard").status_code == 200
    _school(db, sizes[1] - sizes[0], course, classes)
    for _ in range(20):
        payments.choose_class(make_user("student"), open_class(max_capacity=5))
    with count_queries() as big:
        assert client.get("/dashboard").status_code == 200
    assert len(big) == len(small)


def test_the_landing_page_shows_open_classes_how_to_pay_and_its_tags(client, db):
    make_course(title="Python untuk Remaja", status="published")
    listed = open_class(name="Python Sabtu Pagi", schedule={"days": ["Saturday"], "time": "09:00-11:00"})
    make_class(name="Kelas Draf", status="draft", package_price=Decimal("1"))
    page = text(client.get("/", headers={"Accept-Language": "en"}))
    assert "Python untuk Remaja" in page and "Python Sabtu Pagi" in page and "Kelas Draf" not in page
    assert f"/enroll/{listed.id}" in page and "10 seats left" in page
    assert '<meta name="description"' in page and 'property="og:title"' in page
    assert "How enrolling and paying works" in page and "Contact" in page
