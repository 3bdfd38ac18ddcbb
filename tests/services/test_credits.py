"""Manual credit adjustments, the credit history, the history of a mark, and reconciliation."""
from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from babyowl.models import AttendanceChange, ClassAttendance, ClassEnrollment, CreditAdjustment
from babyowl.services import attendance, credits
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import reload


@pytest.fixture
def teacher(db):
    return make_user("instructor")


@pytest.fixture
def staff(db):
    return make_user("staff")


@pytest.fixture
def school_class(db, teacher):
    return make_class(instructor=teacher, status="active", total_meetings=10)


@pytest.fixture
def enrollment(db, school_class):
    return make_enrollment(school_class)


def tap(actor, school_class, enrollment, status, meeting=1):
    return attendance.mark(actor, school_class, enrollment_id=enrollment.id, meeting_number=meeting, status=status,
                           meeting_date=date.today() - timedelta(days=10 - meeting))


@pytest.mark.parametrize("reason, adjustment, detail", [
    ("makeup_class", -1, None),
    ("refund", 2, None),
    ("error_correction", 1, "Meeting 2 was cancelled"),
    ("bonus", 1, None),
    ("other", -1, "Attended the holiday workshop"),
])
def test_each_reason_is_logged_with_the_numbers_before_and_after(db, teacher, school_class, enrollment, reason,
                                                                  adjustment, detail):
    for meeting in (1, 2, 3):
        tap(teacher, school_class, enrollment, "present", meeting)
    credits.adjust(teacher, enrollment, adjustment=adjustment, reason=reason, detail=detail)
    row = db.session.scalars(select(CreditAdjustment)).one()
    assert (row.reason, row.adjustment, row.reason_detail) == (reason, adjustment, detail)
    assert (row.credits_before, row.credits_after) == (3, 3 - adjustment)
    assert row.adjusted_by == teacher.id
    e = reload(db, enrollment)
    assert e.credits_used == 3 - adjustment
    assert e.credits_remaining == 7 + adjustment  # positive gives credits back


def test_other_without_detail_is_refused_and_changes_nothing(db, teacher, enrollment):
    with pytest.raises(InvalidInput, match="Say what the adjustment is for"):
        credits.adjust(teacher, enrollment, adjustment=1, reason="other", detail="   ")
    assert db.session.scalars(select(CreditAdjustment)).all() == []
    assert reload(db, enrollment).credits_used == 0


@pytest.mark.parametrize("adjustment, reason", [(0, "bonus"), (51, "bonus"), (-51, "refund"), (1, "gift"),
                                                (1, "")])
def test_bad_adjustments_are_refused(db, staff, enrollment, adjustment, reason):
    with pytest.raises(InvalidInput):
        credits.adjust(staff, enrollment, adjustment=adjustment, reason=reason)
    assert db.session.scalars(select(CreditAdjustment)).all() == []


def test_using_credits_cannot_leave_fewer_than_zero(db, staff, school_class):
    enrollment = make_enrollment(school_class, meeting_credits=2)
    credits.adjust(staff, enrollment, adjustment=-2, reason="makeup_class")
    with pytest.raises(DomainError, match="Only 0 credits remain"):
        credits.adjust(staff, enrollment, adjustment=-1, reason="makeup_class")
    assert reload(db, enrollment).credits_remaining == 0


def test_staff_leave_more_credits_than_the_package_only_after_confirming(db, staff, enrollment):
    with pytest.raises(credits.AboveThePackage, match="leave 11 credits on a package of 10") as refused:
        credits.adjust(staff, enrollment, adjustment=1, reason="bonus")
    assert refused.value.may_confirm
    assert reload(db, enrollment).credits_used == 0 and db.session.scalars(select(CreditAdjustment)).all() == []
    credits.adjust(staff, enrollment, adjustment=1, reason="bonus", above_package_confirmed=True)
    e = reload(db, enrollment)
    assert (e.credits_used, e.credits_remaining) == (-1, 11)


def test_an_instructor_cannot_leave_more_credits_than_the_package(db, teacher, school_class, enrollment):
    """Defect 9: an instructor gave back 50 credits on a 10-meeting package (58 remaining)."""
    for meeting in (1, 2):
        tap(teacher, school_class, enrollment, "present", meeting)
    with pytest.raises(credits.AboveThePackage, match="give back at most 2") as refused:
        credits.adjust(teacher, enrollment, adjustment=50, reason="refund", above_package_confirmed=True)
    assert not refused.value.may_confirm
    credits.adjust(teacher, enrollment, adjustment=2, reason="refund")
    assert reload(db, enrollment).credits_remaining == 10


def test_who_may_adjust_which_enrollment(db, teacher, staff, school_class, enrollment):
    other_teacher = make_user("instructor")
    credits.adjust(staff, enrollment, adjustment=-3, reason="makeup_class")
    with pytest.raises(NotAllowed):
        credits.adjust(other_teacher, enrollment, adjustment=1, reason="bonus")
    with pytest.raises(NotAllowed):
        credits.adjust(enrollment.student, enrollment, adjustment=1, reason="bonus")
    credits.adjust(teacher, enrollment, adjustment=1, reason="bonus")
    credits.adjust(staff, enrollment, adjustment=1, reason="bonus")
    credits.adjust(make_user("super_admin"), enrollment, adjustment=1, reason="bonus")
    assert reload(db, enrollment).credits_used == 0
    with pytest.raises(credits.EnrollmentNotFound):
        credits.enrollment_for(other_teacher, enrollment.id)
    assert credits.enrollment_for(enrollment.student, enrollment.id).id == enrollment.id
    with pytest.raises(credits.EnrollmentNotFound):
        credits.enrollment_for(make_user("student"), enrollment.id)


def test_the_database_holds_the_sign_rule(db, enrollment):
    db.session.add(CreditAdjustment(enrollment_id=enrollment.id, adjustment=1, credits_before=3, credits_after=4,
                                    reason="refund"))
    with pytest.raises(IntegrityError, match="after_follows_adjustment"):
        db.session.commit()
    db.session.rollback()
    db.session.add(CreditAdjustment(enrollment_id=enrollment.id, adjustment=1, credits_before=3, credits_after=2,
                                    reason="other"))
    with pytest.raises(IntegrityError, match="other_has_detail"):
        db.session.commit()
    db.session.rollback()


def test_a_mark_changed_three_times_keeps_its_whole_history(db, teacher, staff, school_class, enrollment):
    record = tap(teacher, school_class, enrollment, "present", 1)
    tap(teacher, school_class, enrollment, "absent", 1)
    credits.correct_mark(staff, enrollment, meeting_number=1, status="late", reason="Came at 10:20, sheet was wrong")
    credits.correct_mark(staff, enrollment, meeting_number=1, status="absent", reason="Left after five minutes")
    changes = credits.mark_history(record.id)
    assert [(c.old_status, c.new_status, c.credit_change) for c in changes] == [
        (None, "present", 1), ("present", "absent", -1), ("absent", "late", 1), ("late", "absent", -1)]
    assert [c.changed_by for c in changes] == [teacher.id, teacher.id, staff.id, staff.id]
    assert [c.reason for c in changes] == [None, None, "Came at 10:20, sheet was wrong", "Left after five minutes"]
    assert all(a.changed_at <= b.changed_at for a, b in zip(changes, changes[1:]))
    assert reload(db, enrollment).credits_used == 0
    assert reload(db, record).status == "absent"


def test_correcting_a_mark_after_the_class_ended(db, teacher, school_class, enrollment):
    tap(teacher, school_class, enrollment, "absent", 1)
    school_class.status = "completed"
    enrollment.status = "completed"
    db.session.commit()
    assert credits.correct_mark(teacher, enrollment, meeting_number=1, status="present", reason="Was there") is True
    assert reload(db, enrollment).credits_used == 1
    with pytest.raises(InvalidInput, match="Meeting 2 has no mark"):
        credits.correct_mark(teacher, enrollment, meeting_number=2, status="present", reason=None)
    with pytest.raises(InvalidInput):
        credits.correct_mark(teacher, enrollment, meeting_number=1, status="excused", reason=None)
    with pytest.raises(NotAllowed):
        credits.correct_mark(make_user("instructor"), enrollment, meeting_number=1, status="absent", reason=None)


def test_the_history_merges_marks_and_adjustments_in_time_order(db, teacher, staff, school_class, enrollment):
    tap(teacher, school_class, enrollment, "present", 1)
    tap(teacher, school_class, enrollment, "late", 2)
    credits.adjust(staff, enrollment, adjustment=1, reason="refund")
    tap(teacher, school_class, enrollment, "absent", 2)
    credits.adjust(staff, enrollment, adjustment=-1, reason="makeup_class")
    result = credits.history(reload(db, enrollment))
    assert [(e.meeting_number, e.new_status, e.adjustment.reason if e.adjustment else None, e.used_change,
             e.used_after) for e in result.entries] == [
        (1, "present", None, 1, 1),
        (2, "late", None, 1, 2),
        (None, None, "refund", -1, 1),
        (2, "absent", None, -1, 0),
        (None, None, "makeup_class", 1, 1),
    ]
    assert result.adds_up and result.enrollment.credits_used == 1
    assert [m.meeting_number for m in result.marks] == [1, 2]


def test_reconciliation_is_empty_on_a_healthy_school(db, teacher, staff, school_class):
    students = [make_enrollment(school_class) for _ in range(3)]
    for meeting in (1, 2, 3):
        for index, enrollment in enumerate(students):
            tap(teacher, school_class, enrollment, ("present", "late", "absent")[(meeting + index) % 3], meeting)
    tap(teacher, school_class, students[0], "absent", 1)
    credits.adjust(staff, students[1], adjustment=1, reason="refund")
    credits.adjust(staff, students[2], adjustment=-1, reason="makeup_class")
    credits.correct_mark(staff, students[2], meeting_number=2, status="present", reason="sheet")
    assert credits.reconciliation() == []


def test_reconciliation_lists_an_enrollment_corrupted_on_purpose(db, teacher, school_class):
    healthy, corrupted, rewritten = (make_enrollment(school_class) for _ in range(3))
    for enrollment in (healthy, corrupted, rewritten):
        tap(teacher, school_class, enrollment, "present", 1)
        tap(teacher, school_class, enrollment, "present", 2)
    # Someone edits the number by hand...
    db.session.execute(update(ClassEnrollment).where(ClassEnrollment.id == corrupted.id).values(credits_used=5))
    # ...and someone rewrites a mark behind the register's back (no history, credit flag changed).
    db.session.execute(update(ClassAttendance).where(ClassAttendance.enrollment_id == rewritten.id,
                                                     ClassAttendance.meeting_number == 2)
                       .values(status="absent", credit_deducted=False))
    db.session.commit()
    found = {d.enrollment.id: d for d in credits.reconciliation()}
    assert set(found) == {corrupted.id, rewritten.id}
    d = found[corrupted.id]
    assert (d.marks_used, d.adjustments, d.expected, d.enrollment.credits_used, d.difference) == (2, 0, 2, 5, 3)
    d = found[rewritten.id]
    assert (d.marks_used, d.expected, d.enrollment.credits_used, d.history_used) == (1, 1, 2, 2)


def test_adjustments_and_taps_racing_on_one_student_lose_nothing(db, app, teacher, staff, school_class, enrollment):
    """Ten adjustments and ten taps at once on PostgreSQL: every one counted, in the right direction."""
    from babyowl.extensions import db as session_db
    from babyowl.models import SchoolClass, User

    barrier = threading.Barrier(20)
    errors = []
    staff_id, teacher_id, class_id, enrollment_id = staff.id, teacher.id, school_class.id, enrollment.id

    def worker(meeting):
        with app.app_context():
            try:
                barrier.wait()  # 20 threads share a pool of 15 connections: wait before taking one
                if meeting is None:
                    credits.adjust(session_db.session.get(User, staff_id),
                                   session_db.session.get(ClassEnrollment, enrollment_id), adjustment=1,
                                   reason="bonus", above_package_confirmed=True)
                else:
                    attendance.mark(session_db.session.get(User, teacher_id),
                                    session_db.session.get(SchoolClass, class_id), enrollment_id=enrollment_id,
                                    meeting_number=meeting, status="present", meeting_date=date.today())
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
            finally:
                session_db.session.remove()

    threads = [threading.Thread(target=worker, args=(None,)) for _ in range(10)]
    threads += [threading.Thread(target=worker, args=(meeting,)) for meeting in range(1, 11)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    e = reload(db, enrollment)
    assert (e.credits_used, e.credits_remaining) == (0, 10)
    assert len(db.session.scalars(select(CreditAdjustment)).all()) == 10
    assert credits.reconciliation() == []


def test_out_of_credits_is_defined_once_and_includes_exactly_zero(db, teacher, school_class):
    """Defect 11: the out-of-credits list left out students at exactly 0."""
    at_zero = make_enrollment(school_class, meeting_credits=2)
    below = make_enrollment(school_class, meeting_credits=1)
    one_left = make_enrollment(school_class, meeting_credits=2)
    for meeting in (1, 2):
        tap(teacher, school_class, at_zero, "present", meeting)
        tap(teacher, school_class, below, "late", meeting)
    tap(teacher, school_class, one_left, "present")
    assert [e.id for e in credits.out_of_credits()] == [below.id, at_zero.id]
    assert [credits.is_out_of_credits(reload(db, e)) for e in (at_zero, below, one_left)] == [True, True, False]
    assert [e.id for e in credits.out_of_credits()] == [below.id, at_zero.id]


def test_a_mark_asks_credits_what_it_uses(db, teacher, school_class, enrollment):
    assert [credits.used_by(s) for s in ("present", "late", "absent", None)] == [1, 1, 0, 0]
    tap(teacher, school_class, enrollment, "late")
    tap(teacher, school_class, enrollment, "absent")
    changes = db.session.scalars(select(AttendanceChange.credit_change).order_by(AttendanceChange.changed_at)).all()
    assert changes == [1, -1] and reload(db, enrollment).credits_used == 0
