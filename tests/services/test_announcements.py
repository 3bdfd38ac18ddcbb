"""Announcements: who may write them, what a send does, and that racing senders send once."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from babyowl.extensions import db as _db
from babyowl.models import Announcement, AnnouncementRead, Notification
from babyowl.models.base import utcnow
from babyowl.services import announcements
from babyowl.services.errors import InvalidInput, NotAllowed
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import reload


@pytest.fixture
def school(db):
    teacher = make_user("instructor")
    school_class = make_class(instructor=teacher)
    students = [make_enrollment(school_class).student for _ in range(3)]
    return teacher, school_class, students


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_sending_now_notifies_every_active_student_once(db, school):
    teacher, school_class, students = school
    make_enrollment(school_class, status="withdrawn")
    make_enrollment(make_class(), make_user("student"))  # another class hears nothing
    announcement = announcements.create_announcement(teacher, school_class, title=" Ujian ",
                                                     content="Bawa **laptop**.\n<script>alert(1)</script>")
    announcement = reload(db, announcement)
    assert announcement.title == "Ujian" and announcement.sent_at is not None
    assert announcement.content_html.startswith("<p>Bawa <strong>laptop</strong>.")
    assert "<script>" not in announcement.content_html  # typed HTML is shown as text, never run
    notes = db.session.scalars(select(Notification).where(Notification.reference_id == announcement.id)).all()
    assert sorted(n.user_id for n in notes) == sorted(s.id for s in students)
    assert {(n.type, n.title, n.link) for n in notes} == {("announcement", "Ujian",
                                                           f"/announcements/{announcement.id}")}
    # Without Redis the email job ran inline (console backend).
    assert {n.email_status for n in notes} == {"sent"}
    assert announcements.deliver(announcement.id) is None
    assert count(db, Notification) == 3


def test_a_scheduled_one_waits_for_its_time(db, school):
    teacher, school_class, students = school
    announcement = announcements.create_announcement(teacher, school_class, title="Besok", content="Libur.",
                                                     send_at=utcnow() + timedelta(hours=1))
    assert announcements.deliver(announcement.id) is None
    assert announcements.send_due_announcements() == 0
    db.session.execute(Announcement.__table__.update().values(scheduled_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert announcements.send_due_announcements() == 1
    assert count(db, Notification) == 3 and announcements.send_due_announcements() == 0


def test_a_job_for_an_old_time_does_nothing_after_an_edit(db, school):
    teacher, school_class, students = school
    first_time = utcnow() + timedelta(hours=1)
    announcement = announcements.create_announcement(teacher, school_class, title="A", content="a",
                                                     send_at=first_time)
    announcements.update_announcement(teacher, announcement, title="B", content="b",
                                      send_at=utcnow() + timedelta(hours=2))
    db.session.execute(Announcement.__table__.update().values(scheduled_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert announcements.deliver(announcement.id, first_time) is None
    new_time = reload(db, announcement).scheduled_at
    assert announcements.deliver(announcement.id, new_time) == 3
    assert {n.title for n in db.session.scalars(select(Notification))} == {"B"}


def test_racing_senders_send_once(app, db, school):
    teacher, school_class, students = school
    announcement = Announcement(class_id=school_class.id, instructor_id=teacher.id, title="Balapan",
                                content="x", content_html="<p>x</p>")
    db.session.add(announcement)
    db.session.commit()
    announcement_id = announcement.id  # read here: the threads must not touch this session
    barrier = threading.Barrier(8)
    results = []

    def send():
        with app.app_context():  # each sender its own session and connection
            barrier.wait(timeout=10)
            results.append(announcements.deliver(announcement_id))
            _db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results, key=lambda r: r is None) == [3] + [None] * 7
    assert count(db, Notification, Notification.reference_id == announcement.id) == 3


def test_bad_input_is_refused_and_nothing_is_written(db, school):
    teacher, school_class, _students = school
    for title, content, send_at, message in (
            ("", "x", None, "Enter a title."),
            ("x" * 256, "x", None, "at most 255"),
            ("T", "  ", None, "Write the announcement."),
            ("T", "x", utcnow() - timedelta(minutes=1), "in the future"),
            ("T", "x", utcnow() + timedelta(days=400), "within the next year")):
        with pytest.raises(InvalidInput, match=message):
            announcements.create_announcement(teacher, school_class, title=title, content=content, send_at=send_at)
    assert count(db, Announcement) == 0


def test_only_the_classes_instructor_and_staff_write_and_read_the_list(db, school):
    teacher, school_class, students = school
    other = make_user("instructor")
    with pytest.raises(NotAllowed):
        announcements.create_announcement(other, school_class, title="T", content="x")
    with pytest.raises(NotAllowed):
        announcements.class_announcements(other, school_class)
    with pytest.raises(NotAllowed):
        announcements.create_announcement(students[0], school_class, title="T", content="x")
    staff = make_user("staff")
    written = announcements.create_announcement(staff, school_class, title="Dari staf", content="x")
    assert written.instructor_id == staff.id
    with pytest.raises(NotAllowed):
        announcements.cancel_announcement(other, written)


def test_sent_and_cancelled_ones_no_longer_change(db, school):
    teacher, school_class, _students = school
    sent = announcements.create_announcement(teacher, school_class, title="T", content="x")
    with pytest.raises(announcements.AnnouncementClosed, match="already been sent"):
        announcements.cancel_announcement(teacher, sent)
    later = announcements.create_announcement(teacher, school_class, title="L", content="x",
                                              send_at=utcnow() + timedelta(hours=1))
    announcements.cancel_announcement(teacher, later)
    with pytest.raises(announcements.AnnouncementClosed, match="cancelled"):
        announcements.update_announcement(teacher, later, title="L2", content="y", send_at=None)
    assert reload(db, later).title == "L" and reload(db, later).state == "cancelled"


def test_reads_are_recorded_once_and_counted(db, school):
    teacher, school_class, students = school
    announcement = announcements.create_announcement(teacher, school_class, title="T", content="x")
    for _ in range(3):
        announcements.open_announcement(students[0], announcement.id)
    announcements.open_announcement(students[1], announcement.id)
    announcements.open_announcement(teacher, announcement.id)  # a teacher's look is not a read
    assert count(db, AnnouncementRead) == 2
    [row] = announcements.class_announcements(teacher, school_class)
    assert (row.reads, row.recipients) == (2, 3)
    assert [read for _a, read in announcements.for_student(students[0])] == [True]
    assert [read for _a, read in announcements.for_student(students[2])] == [False]
    # Opening it reads its notification too: the bell goes down.
    assert reload(db, db.session.scalar(select(Notification).where(Notification.user_id == students[0].id))).read


def test_students_see_only_what_was_sent_in_their_classes(db, school):
    teacher, school_class, students = school
    later = announcements.create_announcement(teacher, school_class, title="L", content="x",
                                              send_at=utcnow() + timedelta(hours=1))
    with pytest.raises(announcements.AnnouncementNotFound):
        announcements.open_announcement(students[0], later.id)
    sent = announcements.create_announcement(teacher, school_class, title="S", content="x")
    outsider = make_enrollment(make_class(), make_user("student")).student
    with pytest.raises(announcements.AnnouncementNotFound):
        announcements.open_announcement(outsider, sent.id)
    assert [a.title for a, _read in announcements.for_student(students[0])] == ["S"]
    assert announcements.for_student(outsider) == []
