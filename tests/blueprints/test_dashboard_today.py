"""The instructor's dashboard opens on "today": the classes meeting today and a way into their sheets."""
from __future__ import annotations

from datetime import timedelta

from babyowl.services.classes import WEEKDAYS
from babyowl.services.school_time import school_today
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import text


def test_an_instructor_sees_todays_classes_with_a_button_to_their_sheets(app, client, db, login_as):
    teacher = login_as("instructor", full_name="Budi Guru")
    with app.test_request_context():
        today = school_today()
    weekday, other_day = WEEKDAYS[today.weekday()], WEEKDAYS[(today.weekday() + 1) % 7]
    meets = make_class(instructor=teacher, name="Python Grup Hari Ini", status="active",
                       schedule={"days": [weekday], "time": "15:00-16:30"})
    make_class(instructor=teacher, name="Kelas Besok", status="active", schedule={"days": [other_day], "time": None})
    make_class(instructor=teacher, name="Sudah Selesai", status="active", schedule={"days": [weekday], "time": None},
               start_date=today - timedelta(days=60), end_date=today - timedelta(days=1))
    make_class(instructor=make_user("instructor"), name="Kelas Guru Lain", status="active",
               schedule={"days": [weekday], "time": None})
    students = [make_enrollment(meets) for _ in range(3)]

    page = text(client.get("/dashboard"))
    today_part = page[page.index('id="today-heading"'):page.index("My classes")]
    assert "Python Grup Hari Ini" in today_part and "15:00-16:30" in today_part
    assert "Kelas Besok" not in today_part and "Sudah Selesai" not in today_part
    assert "Kelas Guru Lain" not in page
    assert f'href="/classes/{meets.id}/attendance"' in today_part
    assert "Open today's attendance" in today_part and "Attendance not taken yet" in today_part

    client.post(f"/classes/{meets.id}/attendance/mark", headers={"HX-Request": "true"},
                data={"enrollment_id": str(students[0].id), "meeting_number": "1", "status": "present"})
    page = text(client.get("/dashboard"))
    assert "Attendance taken: 1 of 3 students" in page and "Review today's attendance" in page


def test_no_class_today_says_so(client, db, login_as):
    login_as("instructor")
    assert "None of your classes meets today." in text(client.get("/dashboard"))
