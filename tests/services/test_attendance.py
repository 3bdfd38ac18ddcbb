"""Credit rules of attendance, every transition of a mark, and races on PostgreSQL."""
from __future__ import annotations

import itertools
import threading
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from babyowl.models import AttendanceChange, ClassAttendance, ClassEnrollment, SchoolClass, XPTransaction
from babyowl.services import attendance, credits
from babyowl.services.classes import ClassNotFound
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import reload


@pytest.fixture
def teacher(db):
    return make_user("instructor")


@pytest.fixture
def school_class(db, teacher):
    return make_class(instructor=teacher, status="active", total_meetings=10)


def numbers(db, enrollment, school_class):
    e, c = reload(db, enrollment), reload(db, school_class)
    return e.credits_used, e.attendance_rate, c.meetings_completed


def tap(teacher, school_class, enrollment, status, meeting=1, **extra):
    return attendance.mark(teacher, school_class, enrollment_id=enrollment.id, meeting_number=meeting,
                           status=status, **extra)


@pytest.mark.parametrize("first, second", list(itertools.permutations(("present", "late", "absent"), 2)))
def test_every_change_of_a_mark_moves_the_credit(db, teacher, school_class, first, second):
    enrollment = make_enrollment(school_class)
    tap(teacher, school_class, enrollment, first)
    used = int(first != "absent")
    assert numbers(db, enrollment, school_class) == (used, Decimal(100 * used), 1)
    record = tap(teacher, school_class, enrollment, second)
    used = int(second != "absent")
    assert numbers(db, enrollment, school_class) == (used, Decimal(100 * used), 1)
    assert record.credit_deducted is bool(used) and record.updated_by == teacher.id
    changes = db.session.scalars(select(AttendanceChange).order_by(AttendanceChange.changed_at)).all()
    assert [(c.old_status, c.new_status) for c in changes] == [(None, first), (first, second)]


def test_rates_and_meetings_over_several_meetings(db, teacher, school_class):
    enrollment = make_enrollment(school_class)
    for meeting, status in enumerate(("present", "absent", "late", "absent"), start=1):
        tap(teacher, school_class, enrollment, status, meeting=meeting)
    assert numbers(db, enrollment, school_class) == (2, Decimal("50.00"), 4)
    tap(teacher, school_class, enrollment, "present", meeting=2)
    assert numbers(db, enrollment, school_class) == (3, Decimal("75.00"), 4)


def test_the_same_mark_again_changes_nothing(db, teacher, school_class):
    enrollment = make_enrollment(school_class)
    tap(teacher, school_class, enrollment, "present")
    tap(teacher, school_class, enrollment, "present")
    assert reload(db, enrollment).credits_used == 1
    assert db.session.scalar(select(func.count()).select_from(AttendanceChange)) == 1


def test_a_resent_tap_with_the_same_key_never_counts_twice(db, teacher, school_class):
    enrollment = make_enrollment(school_class)
    key = uuid.uuid4()
    tap(teacher, school_class, enrollment, "present", key=key)
    tap(teacher, school_class, enrollment, "absent", key=uuid.uuid4())
    tap(teacher, school_class, enrollment, "present", key=key)  # the first tap, re-sent late
    assert reload(db, enrollment).credits_used == 0
    assert db.session.scalar(select(ClassAttendance.status)) == "absent"


def test_no_credits_left_can_still_be_marked(db, teacher, school_class):
    enrollment = make_enrollment(school_class, meeting_credits=1, credits_used=1)
    tap(teacher, school_class, enrollment, "late")
    assert reload(db, enrollment).credits_remaining == -1
    assert [e.id for e in credits.out_of_credits()] == [enrollment.id]


def test_mark_all_present_never_overwrites_a_mark(db, teacher, school_class):
    absent, late, *others = [make_enrollment(school_class) for _ in range(4)]
    tap(teacher, school_class, absent, "absent")
    tap(teacher, school_class, late, "late")
    assert attendance.mark_all_present(teacher, school_class, meeting_number=1) == 2
    statuses = dict(db.session.execute(select(ClassAttendance.enrollment_id, ClassAttendance.status)).all())
    assert statuses[absent.id] == "absent" and statuses[late.id] == "late"
    assert {statuses[e.id] for e in others} == {"present"}
    assert attendance.mark_all_present(teacher, school_class, meeting_number=1) == 0


def test_mark_all_present_sent_twice_with_its_key_is_applied_once(db, teacher, school_class):
    first, second = make_enrollment(school_class), make_enrollment(school_class)
    key = uuid.uuid4()
    assert attendance.mark_all_present(teacher, school_class, meeting_number=1, key=key) == 2
    late_comer = make_enrollment(school_class)  # enrolled before the queued request is replayed
    assert attendance.mark_all_present(teacher, school_class, meeting_number=1, key=key) == 0
    statuses = dict(db.session.execute(select(ClassAttendance.enrollment_id, ClassAttendance.status)).all())
    assert statuses == {first.id: "present", second.id: "present"}
    assert reload(db, late_comer).credits_used == 0
    assert db.session.scalar(select(func.count()).select_from(AttendanceChange)) == 2
    # Another request (a new key) is a new "mark all": it marks the one still unmarked.
    assert attendance.mark_all_present(teacher, school_class, meeting_number=1, key=uuid.uuid4()) == 1


def test_students_at_exactly_zero_credits_are_out_of_credits(db, teacher, school_class):
    at_zero = make_enrollment(school_class, meeting_credits=2, credits_used=2)
    below = make_enrollment(school_class, meeting_credits=2, credits_used=3)
    make_enrollment(school_class, meeting_credits=2, credits_used=1)
    assert {e.id for e in credits.out_of_credits()} == {at_zero.id, below.id}


def test_the_sheet_knows_what_each_choice_costs_and_the_tally(db, teacher, school_class):
    fresh = make_enrollment(school_class, make_user("student", full_name="A Fresh"), meeting_credits=10)
    present = make_enrollment(school_class, make_user("student", full_name="B Present"), meeting_credits=10)
    absent = make_enrollment(school_class, make_user("student", full_name="C Absent"), meeting_credits=10)
    make_enrollment(school_class, make_user("student", full_name="D Later"), meeting_credits=10)
    tap(teacher, school_class, present, "present")
    tap(teacher, school_class, absent, "absent")
    rows = {row.enrollment.id: row for row in attendance.grid(reload(db, school_class), 1)}
    # Before the tap: present or late uses one of 10, absent none.
    assert [rows[fresh.id].credits_left_after(s) for s in ("present", "late", "absent")] == [9, 9, 10]
    # Already present (9 left): staying present or late costs nothing more, absent gives the credit back.
    assert [rows[present.id].credits_left_after(s) for s in ("present", "late", "absent")] == [9, 9, 10]
    assert [rows[absent.id].credits_left_after(s) for s in ("present", "late", "absent")] == [9, 9, 10]
    counts = attendance.tally(attendance.grid(reload(db, school_class), 1))
    assert (counts.present, counts.late, counts.absent, counts.unmarked, counts.credits_used) == (1, 0, 1, 2, 1)
    assert counts.next_unmarked == fresh.id


def test_notes_are_kept_and_limited(db, teacher, school_class):
    enrollment = make_enrollment(school_class)
    record = tap(teacher, school_class, enrollment, "late", note="Datang 15 menit terlambat")
    assert record.notes == "Datang 15 menit terlambat"
    with pytest.raises(InvalidInput, match="under 500"):
        tap(teacher, school_class, enrollment, "late", note="x" * 501)


@pytest.mark.parametrize("change, message", [
    ({"status": "sick"}, "Mark present, late or absent."),
    ({"meeting": 11}, "Choose a meeting from 1 to 10."),
    ({"meeting": 0}, "Choose a meeting from 1 to 10."),
])
def test_bad_taps_are_refused_and_change_nothing(db, teacher, school_class, change, message):
    enrollment = make_enrollment(school_class)
    with pytest.raises(InvalidInput, match=message):
        tap(teacher, school_class, enrollment, change.get("status", "present"), meeting=change.get("meeting", 1))
    assert db.session.scalar(select(func.count()).select_from(ClassAttendance)) == 0


def test_only_the_instructor_or_staff_take_attendance(db, school_class):
    enrollment = make_enrollment(school_class)
    # Another instructor or a stranger may not know the class exists; a student of the class sees it but
    # does not take its attendance. Nothing is marked either way.
    for outsider in (make_user("instructor"), make_user("student")):
        with pytest.raises(ClassNotFound):
            tap(outsider, school_class, enrollment, "present")
    with pytest.raises(NotAllowed):
        tap(reload(db, enrollment).student, school_class, enrollment, "present")
    assert db.session.scalar(select(func.count()).select_from(ClassAttendance)) == 0
    tap(make_user("staff"), school_class, enrollment, "present")


def test_no_attendance_before_the_class_starts(db, teacher):
    draft = make_class(instructor=teacher, status="enrollment_open")
    with pytest.raises(DomainError, match="while the class is active"):
        tap(teacher, draft, make_enrollment(draft), "present")


def test_the_whole_sheet_in_one_post(db, teacher, school_class):
    a, b, c = [make_enrollment(school_class) for _ in range(3)]
    changed = attendance.save_sheet(teacher, school_class, meeting_number=1, meeting_date=None,
                                    marks={a.id: ("present", ""), b.id: ("absent", "Sakit"), c.id: (None, None)})
    assert changed == 2
    assert [reload(db, e).credits_used for e in (a, b, c)] == [1, 0, 0]
    assert reload(db, school_class).meetings_completed == 1


def test_marking_meeting_n_allows_unlocking_lesson_n(db, teacher):
    from babyowl.services import classes

    school_class = make_class(instructor=teacher, status="active")
    enrollment = make_enrollment(school_class)
    with pytest.raises(classes.UnlockRefused):
        classes.unlock_next_lesson(teacher, school_class)
    tap(teacher, school_class, enrollment, "absent")
    assert classes.unlock_next_lesson(teacher, reload(db, school_class)).title == "Lesson 1"


def test_twenty_identical_and_two_conflicting_submissions_in_parallel(app, db, teacher, school_class):
    enrollments = [make_enrollment(school_class) for _ in range(5)]
    class_id, teacher_id = school_class.id, teacher.id
    ids = [e.id for e in enrollments]
    plan = [("sheet", None)] * 20 + [("tap", "absent"), ("tap", "late")]
    barrier = threading.Barrier(len(plan))
    errors = []

    def worker(kind, status):
        from babyowl.extensions import db as session_db
        from babyowl.models import User

        with app.app_context():
            try:
                # Wait before touching the database: 22 threads share a pool of 15 connections.
                barrier.wait()
                actor = session_db.session.get(User, teacher_id)
                the_class = session_db.session.get(SchoolClass, class_id)
                if kind == "sheet":
                    attendance.save_sheet(actor, the_class, meeting_number=1, meeting_date=None,
                                          marks={eid: ("present", None) for eid in ids})
                else:
                    attendance.mark(actor, the_class, enrollment_id=ids[0], meeting_number=1, status=status)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
            finally:
                session_db.session.remove()

    threads = [threading.Thread(target=worker, args=args) for args in plan]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(ClassAttendance)) == 5
    for enrollment_id in ids:
        marks = db.session.scalars(select(ClassAttendance.status).where(
            ClassAttendance.enrollment_id == enrollment_id)).all()
        used = db.session.scalar(select(ClassEnrollment.credits_used).where(ClassEnrollment.id == enrollment_id))
        assert len(marks) == 1 and used == sum(status in ("present", "late") for status in marks)


def test_the_same_mark_all_sent_from_ten_threads_at_once_is_applied_once(app, db, teacher, school_class):
    enrollments = [make_enrollment(school_class) for _ in range(6)]
    class_id, teacher_id, key = school_class.id, teacher.id, uuid.uuid4()
    barrier = threading.Barrier(10)
    counts, errors = [], []

    def worker():
        from babyowl.extensions import db as session_db
        from babyowl.models import User

        with app.app_context():
            try:
                barrier.wait()
                counts.append(attendance.mark_all_present(session_db.session.get(User, teacher_id),
                                                          session_db.session.get(SchoolClass, class_id),
                                                          meeting_number=1, key=key))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
            finally:
                session_db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and sorted(counts) == [0] * 9 + [6]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(AttendanceChange)) == 6
    assert db.session.scalar(select(func.sum(ClassEnrollment.credits_used))) == len(enrollments)


def test_xp_for_a_class_is_written_while_a_tap_holds_the_class(app, db, teacher, school_class):
    """A tap locks its class and then awards XP; a quiz pass of one of its students, at the same moment, locks
    the student's level row and then inserts a ledger row naming the class, whose foreign-key check takes a
    KEY SHARE lock on the class. A tap's FOR UPDATE blocked that check: the two waited for each other and
    PostgreSQL killed one (a 500 under bench/load.py's 500 users). The class is locked FOR NO KEY UPDATE."""
    from babyowl.extensions import db as session_db
    from babyowl.services import xp
    from babyowl.services.classes import locked_class
    from babyowl.transactions import use_case

    student_id, class_id = make_enrollment(school_class).student_id, school_class.id
    locked, release, held = threading.Event(), threading.Event(), []

    def tap_holding_the_class():
        with app.app_context():
            try:
                @use_case
                def hold():
                    locked_class(class_id)
                    locked.set()
                    held.append(release.wait(timeout=10))  # True: released before the timeout

                hold()
            finally:
                session_db.session.remove()

    holder = threading.Thread(target=tap_holding_the_class)
    holder.start()
    assert locked.wait(timeout=10)
    finished = threading.Event()

    def quiz_pass():
        with app.app_context():
            try:
                use_case(lambda: xp.award(student_id, "quiz_passed", uuid.uuid4(), 10, class_id=class_id))()
                finished.set()
            finally:
                session_db.session.remove()

    passer = threading.Thread(target=quiz_pass)
    passer.start()
    # The award does not wait for the tap's transaction: it commits while the class is still locked.
    assert finished.wait(timeout=5)
    release.set()
    holder.join(timeout=10)
    passer.join(timeout=10)
    assert held == [True]
    assert db.session.scalar(select(func.count()).select_from(XPTransaction).where(
        XPTransaction.user_id == student_id, XPTransaction.class_id == class_id)) == 1
