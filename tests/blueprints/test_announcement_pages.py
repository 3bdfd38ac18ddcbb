"""Announcement pages: writing, scheduling, editing and cancelling as plain posts and through htmx;
who may see what; unread markers and read counts."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from babyowl.models import Announcement, AnnouncementRead, Notification
from babyowl.models.base import utcnow
from babyowl.services import announcements
from babyowl.services.school_time import in_school_time
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import flashes, reload, signed_in_client, text

HTMX = {"HX-Request": "true"}


@pytest.fixture
def teacher(db):
    return make_user("instructor", full_name="Budi Santoso")


@pytest.fixture
def school_class(db, teacher):
    return make_class(instructor=teacher, name="Python Dasar A")


@pytest.fixture
def students(db, school_class):
    return [make_enrollment(school_class, make_user("student", full_name=f"Siswa {n}")).student for n in range(3)]


@pytest.fixture
def teacher_client(app, teacher):
    return signed_in_client(app, teacher)


def url(school_class) -> str:
    return f"/classes/{school_class.id}/announcements"


def count(db, model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def later_form(**fields) -> dict:
    # Tomorrow at the school (SCHOOL_TIMEZONE is left at its default in tests).
    local = datetime.now(ZoneInfo("Asia/Jakarta")) + timedelta(days=1)
    return {"title": "Ujian", "content": "Bawa laptop.", "when": "later", "send_date": local.strftime("%Y-%m-%d"),
            "send_time": "19:00", **fields}


def test_send_now_as_a_plain_form_post(teacher_client, db, school_class, students):
    response = teacher_client.post(url(school_class), data={"title": "Libur", "content": "Jumat *libur*.",
                                                            "when": "now"})
    assert response.status_code == 303 and response.headers["Location"] == url(school_class)
    page = teacher_client.get(url(school_class))
    assert flashes(page) == ["“Libur” is sent to the class."]
    assert "0 of 3 read" in text(page) and "sent" in text(page)
    assert count(db, Notification) == 3


def test_schedule_through_htmx(teacher_client, db, school_class, students):
    response = teacher_client.post(url(school_class), data=later_form(), headers=HTMX)
    assert response.status_code == 200 and "HX-Request" in response.vary
    fragment = text(response)
    assert fragment.lstrip().startswith('<div id="announcements-panel">') and "<html" not in fragment
    assert "will be sent on" in fragment and "7:00" in fragment  # 19:00 school time, in English
    assert "scheduled" in fragment and "3 students" in fragment
    [announcement] = db.session.scalars(select(Announcement)).all()
    assert in_school_time(announcement.scheduled_at).strftime("%H:%M") == "19:00"
    assert announcement.sent_at is None and count(db, Notification) == 0


@pytest.mark.parametrize("form, message", [
    ({"title": "", "content": "x", "when": "now"}, "This field is required."),
    ({"title": "T", "content": "", "when": "now"}, "This field is required."),
    ({"title": "x" * 256, "content": "x", "when": "now"}, "Use at most 255 characters."),
    ({"title": "T", "content": "x", "when": "someday"}, "Choose one of the options."),
    ({"title": "T", "content": "x", "when": "later"}, "Choose the day to send it."),
    (later_form(send_date="31-12-2026"), "Enter a date such as 2026-12-31."),
    (later_form(send_time="7pm"), "Enter a time such as 19:00."),
    (later_form(send_date="2020-01-01"), "Choose a time in the future, or send it now."),
    (later_form(send_date="2999-01-01"), "Choose a time within the next year."),
])
@pytest.mark.parametrize("headers", [{}, HTMX])
def test_bad_input_is_refused_with_a_message_and_nothing_changes(teacher_client, db, school_class, students, form,
                                                                 message, headers):
    response = teacher_client.post(url(school_class), data=form, headers=headers)
    assert response.status_code == 422
    assert message in text(response)
    assert count(db, Announcement) == 0 and count(db, Notification) == 0


def test_edit_a_scheduled_one(teacher_client, db, school_class, students, teacher):
    announcement = announcements.create_announcement(teacher, school_class, title="Lama", content="Teks lama",
                                                     send_at=utcnow() + timedelta(hours=2))
    page = teacher_client.get(f"/announcements/{announcement.id}/edit")
    assert page.status_code == 200 and 'value="Lama"' in text(page) and '<input checked id="when-1"' in text(page)
    bad = teacher_client.post(f"/announcements/{announcement.id}/edit", data=later_form(title=""), headers=HTMX)
    assert bad.status_code == 422 and "This field is required." in text(bad)
    response = teacher_client.post(f"/announcements/{announcement.id}/edit",
                                   data=later_form(title="Baru", content="Teks baru", send_time="20:30"))
    assert response.status_code == 303
    announcement = reload(db, announcement)
    assert (announcement.title, announcement.content) == ("Baru", "Teks baru")
    assert in_school_time(announcement.scheduled_at).strftime("%H:%M") == "20:30"
    # Sending it now from the edit page.
    teacher_client.post(f"/announcements/{announcement.id}/edit", data={"title": "Baru", "content": "x",
                                                                       "when": "now"})
    assert reload(db, announcement).sent_at is not None and count(db, Notification) == 3
    gone = teacher_client.get(f"/announcements/{announcement.id}/edit", follow_redirects=True)
    assert "already been sent; it can no longer change" in text(gone)


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_cancel_a_scheduled_one(teacher_client, db, school_class, students, teacher, headers):
    announcement = announcements.create_announcement(teacher, school_class, title="Batal", content="x",
                                                     send_at=utcnow() + timedelta(hours=2))
    response = teacher_client.post(f"/announcements/{announcement.id}/cancel", headers=headers)
    if headers:
        assert response.status_code == 200
        assert text(response).lstrip().startswith('<section id="announcement-list"')
        assert "“Batal” is cancelled" in text(response) and "cancelled" in text(response)
    else:
        assert response.status_code == 303
        assert flashes(teacher_client.get(url(school_class))) == ["“Batal” is cancelled; it will not be sent."]
    assert reload(db, announcement).cancelled_at is not None
    again = teacher_client.post(f"/announcements/{announcement.id}/cancel", headers=headers)
    assert again.status_code == (409 if headers else 303)
    assert announcements.send_due_announcements() == 0 and count(db, Notification) == 0


def test_an_instructor_of_another_class_gets_403(app, db, school_class, teacher, students):
    sent = announcements.create_announcement(teacher, school_class, title="Rahasia", content="x")
    later = announcements.create_announcement(teacher, school_class, title="Nanti", content="x",
                                              send_at=utcnow() + timedelta(hours=1))
    other = signed_in_client(app, make_user("instructor"))
    assert other.get(url(school_class)).status_code == 403
    assert other.post(url(school_class), data={"title": "T", "content": "x", "when": "now"}).status_code == 403
    assert other.get(f"/announcements/{sent.id}").status_code == 403
    assert other.get(f"/announcements/{later.id}/edit").status_code == 403
    assert other.post(f"/announcements/{later.id}/edit", data=later_form()).status_code == 403
    assert other.post(f"/announcements/{later.id}/cancel").status_code == 403
    later = reload(db, later)
    assert count(db, Announcement) == 2 and later.title == "Nanti" and later.cancelled_at is None


def test_students_read_their_class_only_and_cannot_write(app, db, school_class, teacher, students):
    sent = announcements.create_announcement(teacher, school_class, title="Untuk kelas", content="x")
    outsider = signed_in_client(app, make_enrollment(make_class(), make_user("student")).student)
    assert outsider.get(url(school_class)).status_code == 404
    assert outsider.get(f"/announcements/{sent.id}").status_code == 404
    member = signed_in_client(app, students[0])
    assert member.post(url(school_class), data={"title": "T", "content": "x", "when": "now"}).status_code == 403
    assert member.post(f"/announcements/{sent.id}/cancel").status_code == 403
    assert count(db, AnnouncementRead) == 0


def test_unread_markers_on_the_class_page_and_dashboard_and_reads_counted_once(app, db, school_class, teacher,
                                                                             students, teacher_client):
    first = announcements.create_announcement(teacher, school_class, title="Pertama", content="**Halo**")
    announcements.create_announcement(teacher, school_class, title="Kedua", content="x")
    announcements.create_announcement(teacher, school_class, title="Belum", content="x",
                                      send_at=utcnow() + timedelta(hours=1))
    student = signed_in_client(app, students[0])
    for page in (student.get(f"/classes/{school_class.id}"), student.get("/dashboard"), student.get(url(school_class))):
        assert page.status_code == 200
        assert text(page).count('class="badge unread-marker"') == 2
        assert "Pertama" in text(page) and "Kedua" in text(page) and "Belum" not in text(page)

    for _ in range(3):
        opened = student.get(f"/announcements/{first.id}")
        assert opened.status_code == 200 and "<strong>Halo</strong>" in text(opened)
    assert count(db, AnnouncementRead) == 1
    page = text(student.get(f"/classes/{school_class.id}"))
    assert page.count('class="badge unread-marker"') == 1

    signed_in_client(app, students[1]).get(f"/announcements/{first.id}")
    listing = text(teacher_client.get(url(school_class)))
    assert "2 of 3 read" in listing and "0 of 3 read" in listing
    detail = text(teacher_client.get(f"/announcements/{first.id}"))
    assert "Siswa 0" in detail and "Siswa 1" in detail and "Siswa 2" not in detail


def test_the_list_runs_as_many_queries_for_20_announcements_as_for_2(teacher_client, db, school_class, teacher,
                                                                      students, count_queries):
    def add(n):
        for i in range(n):
            announcements.create_announcement(teacher, school_class, title=f"A{i}", content="x")
            announcements.open_announcement(students[i % 3], db.session.scalars(
                select(Announcement.id).order_by(Announcement.created_at.desc())).first())

    add(2)
    with count_queries() as few:
        assert teacher_client.get(url(school_class)).status_code == 200
    add(18)
    with count_queries() as many:
        response = teacher_client.get(url(school_class))
    assert text(response).count("1 of 3 read") == 20
    assert len(many) == len(few)
