"""Meeting credits: every rule that moves them, the credit history, reconciliation.

Every change of `credits_used` or `meeting_credits` is decided here; other
services ask:
- a mark: present or late uses one credit, absent none (`used_by`); changing a
  mark moves the difference (`charge_mark`, called by attendance);
- an added or removed meeting of the package adds or removes a credit for
  every active student (`package_changed`, asked by classes);
- a manual adjustment (`adjust`): its sign is defined once (see
  `CreditAdjustment`): positive gives credits back, negative uses them. It
  carries the idempotency key of the form that sent it (a double tap is one
  adjustment). An instructor cannot leave a student more credits than the
  package; staff can, after saying so explicitly.
- out of credits: an active student with no credit left (0 or fewer).

One invariant ties every number together and the reconciliation report checks
it for the whole school:

    credits_used = marks that deducted a credit - sum of adjustments

and the history of mark changes adds up to the same marks.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from babyowl.authz import is_staff
from babyowl.extensions import db
from babyowl.models import (
    CREDIT_ADJUSTMENT_REASONS, AttendanceChange, ClassAttendance, ClassEnrollment, CreditAdjustment, SchoolClass,
    User,
)
# Modules, not names: attendance asks this module how a mark moves credits.
from babyowl.services import attendance, classes
from babyowl.services.class_rules import rules_for
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.transactions import use_case

MAX_ADJUSTMENT = 50
MAX_DETAIL = 500
USES_CREDIT = ("present", "late")


class EnrollmentNotFound(DomainError):
    status_code = 404


class AboveThePackage(DomainError):
    """Giving back more than the package: refused for an instructor, staff must confirm it."""

    status_code = 409

    def __init__(self, message: str, *, may_confirm: bool):
        super().__init__(message)
        self.may_confirm = may_confirm


def used_by(status: str | None) -> int:
    """The credits one mark uses: present or late one, absent (or no mark yet) none."""
    return int(status in USES_CREDIT)


def mark_change(old_status: str | None, new_status: str) -> int:
    """The credits a mark going from `old_status` to `new_status` uses (+1), gives back (-1) or leaves (0)."""
    return used_by(new_status) - used_by(old_status)


def charge_mark(enrollment: ClassEnrollment, old_status: str | None, new_status: str) -> int:
    """Move the enrollment's credits for a mark going from `old_status` to `new_status`; the change made."""
    change = mark_change(old_status, new_status)
    enrollment.credits_used += change
    return change


def package_changed(school_class: SchoolClass, enrollments: list[ClassEnrollment], added: int) -> None:
    """The class's package grew (or shrank) by `added` meetings: each active student's credits follow."""
    rules = rules_for(school_class)
    for enrollment in enrollments:
        enrollment.meeting_credits = rules.credits_after_package_change(enrollment.meeting_credits, added)


def out_of_credits_clause():
    """SQL: the enrollment has no credit left (at exactly 0 too: the next meeting is unpaid)."""
    return ClassEnrollment.credits_used >= ClassEnrollment.meeting_credits


def is_out_of_credits(enrollment: ClassEnrollment) -> bool:
    return enrollment.credits_remaining <= 0


def out_of_credits() -> list[ClassEnrollment]:
    """Active enrollments with no credit left, fewest remaining first: staff follow these up."""
    return list(db.session.scalars(
        select(ClassEnrollment).options(joinedload(ClassEnrollment.student), joinedload(ClassEnrollment.school_class))
        .where(ClassEnrollment.status == "active", out_of_credits_clause())
        .order_by(ClassEnrollment.meeting_credits - ClassEnrollment.credits_used, ClassEnrollment.id)))


def may_adjust(actor: User, school_class: SchoolClass) -> bool:
    return attendance.may_take(actor, school_class)


def enrollment_for(actor: User, enrollment_id: uuid.UUID) -> ClassEnrollment:
    """The enrollment if `actor` may see its credits: staff, the class's instructor, or the student."""
    enrollment = db.session.scalars(select(ClassEnrollment).options(
        joinedload(ClassEnrollment.student), joinedload(ClassEnrollment.school_class).joinedload(SchoolClass.course))
        .where(ClassEnrollment.id == enrollment_id)).first()
    if enrollment is None or not (may_adjust(actor, enrollment.school_class) or enrollment.student_id == actor.id):
        raise EnrollmentNotFound(_("This enrollment does not exist."))
    return enrollment


def _checked(adjustment: int, reason: str, detail: str | None) -> str | None:
    if reason not in CREDIT_ADJUSTMENT_REASONS:
        raise InvalidInput(_("Choose a reason for the adjustment."))
    if not isinstance(adjustment, int) or adjustment == 0 or abs(adjustment) > MAX_ADJUSTMENT:
        raise InvalidInput(_("Adjust by 1 to %(max)d credits.", max=MAX_ADJUSTMENT))
    detail = (detail or "").strip() or None
    if reason == "other" and detail is None:
        raise InvalidInput(_("Say what the adjustment is for."))
    if detail is not None and len(detail) > MAX_DETAIL:
        raise InvalidInput(_("Keep the detail under %(max)d characters.", max=MAX_DETAIL))
    return detail


def _adjustment_with_key(key: uuid.UUID | None) -> CreditAdjustment | None:
    if key is None:
        return None
    return db.session.scalars(select(CreditAdjustment).where(CreditAdjustment.idempotency_key == key)).first()


@use_case
def adjust(actor: User, enrollment: ClassEnrollment, *, adjustment: int, reason: str,
           detail: str | None = None, key: uuid.UUID | None = None,
           above_package_confirmed: bool = False) -> CreditAdjustment:
    """Give credits back (positive) or use them (negative), logged with the numbers before and after.

    Safe to repeat: an adjustment whose `key` was already used changes nothing
    and returns the first one.
    """
    if not may_adjust(actor, enrollment.school_class):
        raise NotAllowed(_("Only the class's instructor or staff adjust its credits."))
    detail = _checked(adjustment, reason, detail)
    # Same lock order as taking attendance (class, then enrollment): a tap and
    # an adjustment on the same student never deadlock, never lose an update.
    # The class lock also makes identical posts take turns, so the second one
    # finds the key of the first.
    classes.locked_class(enrollment.class_id)
    if (done := _adjustment_with_key(key)) is not None:
        return done
    enrollment = attendance.locked_enrollment(enrollment.id, enrollment.class_id)
    remaining_after = enrollment.credits_remaining + adjustment
    if adjustment < 0 and remaining_after < 0:
        raise DomainError(_("Only %(n)d credits remain: this would leave the student with %(after)d.",
                            n=enrollment.credits_remaining, after=remaining_after))
    if adjustment > 0 and remaining_after > enrollment.meeting_credits:
        if not is_staff(actor):
            raise AboveThePackage(_("This would leave %(after)d credits on a package of %(n)d meetings; give back "
                                    "at most %(most)d.", after=remaining_after, n=enrollment.meeting_credits,
                                    most=max(0, enrollment.meeting_credits - enrollment.credits_remaining)),
                                  may_confirm=False)
        if not above_package_confirmed:
            raise AboveThePackage(_("This would leave %(after)d credits on a package of %(n)d meetings. Confirm "
                                    "that the student gets more credits than the package.",
                                    after=remaining_after, n=enrollment.meeting_credits), may_confirm=True)
    before = enrollment.credits_used
    record = CreditAdjustment(enrollment_id=enrollment.id, adjustment=adjustment, credits_before=before,
                              credits_after=before - adjustment, reason=reason, reason_detail=detail,
                              adjusted_by=actor.id, idempotency_key=key)
    try:
        with db.session.begin_nested():
            db.session.add(record)
            enrollment.credits_used = record.credits_after
            db.session.flush()
    except IntegrityError:  # the same key committed through another connection: that post already counted
        db.session.refresh(enrollment)
        return _adjustment_with_key(key)
    return record


@use_case
def correct_mark(actor: User, enrollment: ClassEnrollment, *, meeting_number: int, status: str,
                 reason: str | None) -> bool:
    """Change a mark already made, with the reason kept in its history (also after the class ended)."""
    attendance.require_taker(actor, enrollment.school_class)
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > MAX_DETAIL:
        raise InvalidInput(_("Keep the reason under %(max)d characters.", max=MAX_DETAIL))
    attendance.check_status(status)
    school_class = classes.locked_class(enrollment.class_id)
    enrollment = attendance.locked_enrollment(enrollment.id, enrollment.class_id)
    record = attendance.record_for(enrollment.id, meeting_number)
    if record is None:
        raise InvalidInput(_("Meeting %(n)d has no mark for this student to correct.", n=meeting_number))
    changed = attendance.apply_mark(actor, school_class, enrollment, meeting_number, record.meeting_date, status,
                                    None, None, reason)
    return changed


@dataclass
class LedgerEntry:
    """One line of an enrollment's credit history; `used_change` is what it did to credits_used."""

    at: datetime
    by: User | None
    used_change: int
    used_after: int = 0
    meeting_number: int | None = None
    old_status: str | None = None
    new_status: str | None = None
    adjustment: CreditAdjustment | None = None
    reason: str | None = None
    id: uuid.UUID | None = None  # of the mark change or adjustment; parts two lines of the same moment


@dataclass
class CreditHistory:
    enrollment: ClassEnrollment
    entries: list[LedgerEntry]
    marks: list[ClassAttendance]

    @property
    def adds_up(self) -> bool:
        return (self.entries[-1].used_after if self.entries else 0) == self.enrollment.credits_used


def history(enrollment: ClassEnrollment) -> CreditHistory:
    """Mark changes and adjustments merged in time order, with credits used after each."""
    changes = db.session.scalars(select(AttendanceChange).options(joinedload(AttendanceChange.changer))
                                 .where(AttendanceChange.enrollment_id == enrollment.id)).all()
    adjustments = db.session.scalars(select(CreditAdjustment).options(joinedload(CreditAdjustment.adjuster))
                                     .where(CreditAdjustment.enrollment_id == enrollment.id)).all()
    entries = [LedgerEntry(at=c.changed_at, by=c.changer, used_change=c.credit_change,
                           meeting_number=c.meeting_number, old_status=c.old_status, new_status=c.new_status,
                           reason=c.reason, id=c.id) for c in changes]
    entries += [LedgerEntry(at=a.adjusted_at, by=a.adjuster, used_change=-a.adjustment, adjustment=a,
                            reason=a.reason_detail, id=a.id) for a in adjustments]
    entries.sort(key=_ledger_key)
    used = 0
    for entry in entries:
        used += entry.used_change
        entry.used_after = used
    marks = db.session.scalars(select(ClassAttendance).where(ClassAttendance.enrollment_id == enrollment.id)
                               .order_by(ClassAttendance.meeting_number)).all()
    return CreditHistory(enrollment, entries, list(marks))


def _ledger_key(entry: LedgerEntry) -> tuple:
    return entry.at, entry.id


def history_after(enrollment: ClassEnrollment, *, after: list | None = None, limit: int = 20):
    """The history, one keyset page (oldest first) after the cursor's line: computed whole, since each line's
    running total needs every line before it (an enrollment's history is bounded by its package), then cut by
    value, so a line added between two pages neither repeats nor hides one."""
    from babyowl.services.listing import Key, keyset_slice

    full = history(enrollment)
    keys = (Key("at", datetime), Key("id", uuid.UUID))
    return full, keyset_slice(full.entries, _ledger_key, keys, after=after, limit=limit)


def mark_history(attendance_id: uuid.UUID) -> list[AttendanceChange]:
    return list(db.session.scalars(select(AttendanceChange).options(joinedload(AttendanceChange.changer))
                                   .where(AttendanceChange.attendance_id == attendance_id)
                                   .order_by(AttendanceChange.changed_at)))


@dataclass
class Discrepancy:
    enrollment: ClassEnrollment
    marks_used: int
    adjustments: int
    history_used: int

    @property
    def expected(self) -> int:
        return self.marks_used - self.adjustments

    @property
    def difference(self) -> int:
        return self.enrollment.credits_used - self.expected


def reconciliation() -> list[Discrepancy]:
    """Every enrollment whose recorded numbers do not follow from its records; empty on a healthy school."""
    marks = (select(ClassAttendance.enrollment_id.label("eid"),
                    func.count().filter(ClassAttendance.credit_deducted.is_(True)).label("n"))
             .group_by(ClassAttendance.enrollment_id).subquery())
    adjusted = (select(CreditAdjustment.enrollment_id.label("eid"), func.sum(CreditAdjustment.adjustment).label("n"))
                .group_by(CreditAdjustment.enrollment_id).subquery())
    changes = (select(AttendanceChange.enrollment_id.label("eid"),
                      func.sum(AttendanceChange.credit_change).label("n"))
               .group_by(AttendanceChange.enrollment_id).subquery())
    marks_used = func.coalesce(marks.c.n, 0)
    adjustments = func.coalesce(adjusted.c.n, 0)
    history_used = func.coalesce(changes.c.n, 0)
    rows = db.session.execute(
        select(ClassEnrollment, marks_used, adjustments, history_used)
        .options(joinedload(ClassEnrollment.student), joinedload(ClassEnrollment.school_class))
        .outerjoin(marks, marks.c.eid == ClassEnrollment.id)
        .outerjoin(adjusted, adjusted.c.eid == ClassEnrollment.id)
        .outerjoin(changes, changes.c.eid == ClassEnrollment.id)
        .where((ClassEnrollment.credits_used != marks_used - adjustments) | (history_used != marks_used))
        .order_by(ClassEnrollment.enrolled_at)).all()
    return [Discrepancy(enrollment, int(used), int(adj), int(hist)) for enrollment, used, adj, hist in rows]


def remove_for_refund(actor: User, enrollment: ClassEnrollment, credits: int, detail: str) -> CreditAdjustment:
    """Unused credits given back as money (services/payments.refund): a negative adjustment with reason `refund`,
    so the reconciliation still adds up. Part of the caller's use case; only credits not yet used."""
    classes.locked_class(enrollment.class_id)
    enrollment = attendance.locked_enrollment(enrollment.id, enrollment.class_id)
    if not isinstance(credits, int) or credits < 1:
        raise InvalidInput(_("Refund at least one unused credit."))
    if credits > enrollment.credits_remaining:
        raise DomainError(_("Only %(n)d credits are unused: a refund can give back only those.",
                            n=max(0, enrollment.credits_remaining)))
    before = enrollment.credits_used
    record = CreditAdjustment(enrollment_id=enrollment.id, adjustment=-credits, credits_before=before,
                              credits_after=before + credits, reason="refund", reason_detail=detail[:MAX_DETAIL],
                              adjusted_by=actor.id)
    db.session.add(record)
    enrollment.credits_used = record.credits_after
    db.session.flush()
    return record
