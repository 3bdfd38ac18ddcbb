"""Taking attendance: marks, the credits they use, and the numbers that follow from them.

Credit rules (spec): present or late uses one credit, absent none; changing a
mark moves the credit accordingly. Every change locks the class row, then the
enrollment row (always in that order, so two tablets never deadlock), keeps a
history row, and recomputes the enrollment's attendance rate and the class's
meetings held from the records. A tap carries an idempotency key: the same tap
sent twice changes nothing the second time, and so does "mark all present"
(each mark it makes carries a key derived from the request's key).
"""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import Integer, Uuid, and_, bindparam, distinct, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.selectable import ScalarSelect
from sqlalchemy.orm import aliased, joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from babyowl.authz import is_staff
from babyowl.extensions import db
from babyowl.models import (
    ATTENDANCE_STATUSES, AttendanceChange, ClassAttendance, ClassEnrollment, SchoolClass, User,
)
from babyowl.models.base import utcnow
from babyowl.services import credits  # how a mark moves credits is decided there
from babyowl.services import statements, xp
from babyowl.services import classes
from babyowl.services.classes import can_teach, locked_class
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.school_time import school_today
from babyowl.transactions import use_case

MAX_NOTE = 500
XP_STATUSES = ("present", "late")  # marks that earn attendance XP
SHEET_ORDER = ("present", "late", "absent")  # the choices of a row, left to right


@dataclass
class GridRow:
    """One student's row of the sheet: the loaded rows after a tap, plain tuples of the same names on the grid."""
    enrollment: ClassEnrollment | SheetEnrollment
    record: ClassAttendance | SheetMark | None

    @property
    def status(self) -> str | None:
        return self.record.status if self.record else None

    def credits_left_after(self, status: str) -> int:
        """Credits the student has left if this meeting is marked `status` (what a tap will cost, shown before it)."""
        already_used = int(self.record is not None and self.record.credit_deducted)
        return self.enrollment.credits_remaining + already_used - credits.used_by(status)

    @property
    def choices(self) -> tuple[tuple[str, int], ...]:
        """Each mark with the credits left after it, in the sheet's order: one attribute for the template to read
        (three calls from the template cost more than the arithmetic)."""
        return tuple((status, self.credits_left_after(status)) for status in SHEET_ORDER)


@dataclass
class Tally:
    present: int = 0
    late: int = 0
    absent: int = 0
    unmarked: int = 0
    next_unmarked: uuid.UUID | None = None  # the first unmarked enrollment in the sheet's order

    @property
    def credits_used(self) -> int:
        """Credits this meeting uses as marked so far."""
        return sum(getattr(self, status) * credits.used_by(status) for status in ATTENDANCE_STATUSES)


def tally(rows: list[GridRow]) -> Tally:
    counts = Tally()
    for row in rows:
        if row.status is None:
            counts.unmarked += 1
            counts.next_unmarked = counts.next_unmarked or row.enrollment.id
        else:
            setattr(counts, row.status, getattr(counts, row.status) + 1)
    return counts


def may_take(actor: User, school_class: SchoolClass) -> bool:
    """Staff, or the class's instructor: they take its attendance, adjust its credits and read its reports."""
    return is_staff(actor) or can_teach(actor, school_class)


def require_taker(actor: User, school_class: SchoolClass) -> None:
    if not may_take(actor, school_class):
        raise NotAllowed(_("Only the class's instructor or staff take its attendance."))


def _highest_meeting(class_id) -> ScalarSelect:
    return select(func.max(ClassAttendance.meeting_number)).where(ClassAttendance.class_id == class_id) \
        .scalar_subquery()


def next_meeting_number(school_class: SchoolClass) -> int:
    highest = db.session.scalar(select(_highest_meeting(school_class.id)))
    return (highest or 0) + 1


@functools.cache
def _sheet_meeting_columns() -> tuple:
    class_id = bindparam("class_id", type_=Uuid)
    return (select(ClassAttendance.meeting_date).where(
        ClassAttendance.class_id == class_id,
        ClassAttendance.meeting_number == bindparam("meeting_number", type_=Integer)).limit(1).scalar_subquery(),
        _highest_meeting(class_id))


@functools.cache
def _sheet_meeting_query():
    return select(*_sheet_meeting_columns())


@functools.cache
def _class_sheet_query():
    return select(SchoolClass, *_sheet_meeting_columns()).where(SchoolClass.id == bindparam("class_id", type_=Uuid))


def sheet_meeting(school_class: SchoolClass, meeting_number: int) -> tuple[date | None, int]:
    """The meeting's date (None before its first mark) and the class's next meeting number, in one statement
    (each on its own index path: the grid paid a round trip for each), built once."""
    fixed, highest = db.session.execute(_sheet_meeting_query(), {"class_id": school_class.id,
                                                                 "meeting_number": meeting_number}).one()
    return fixed, (highest or 0) + 1


def class_with_sheet_meeting(class_id: uuid.UUID, meeting_number: int) -> tuple[SchoolClass | None,
                                                                                tuple[date | None, int]]:
    """The class (None if there is none) with `sheet_meeting`'s answer for this meeting, in one statement.
    The caller checks who may see it."""
    row = db.session.execute(_class_sheet_query(), {"class_id": class_id, "meeting_number": meeting_number}).first()
    if row is None:
        return None, (None, 1)
    school_class, fixed, highest = row
    return school_class, (fixed, (highest or 0) + 1)


def proposed_meeting_number(school_class: SchoolClass) -> int:
    """Today's meeting if attendance was already started today (a reload), else the next one."""
    latest = db.session.execute(select(ClassAttendance.meeting_number, ClassAttendance.meeting_date).where(
        ClassAttendance.class_id == school_class.id).order_by(ClassAttendance.meeting_number.desc()).limit(1)).first()
    if latest is not None and latest.meeting_date == school_today():
        return latest.meeting_number
    return min(next_meeting_number(school_class), school_class.total_meetings)


def meeting_date_of(school_class: SchoolClass, meeting_number: int) -> date | None:
    return db.session.scalar(select(ClassAttendance.meeting_date).where(
        ClassAttendance.class_id == school_class.id, ClassAttendance.meeting_number == meeting_number).limit(1))


class SheetStudent(NamedTuple):
    id: uuid.UUID
    full_name: str
    avatar: str | None
    display_initials = property(User.display_initials.fget)


class SheetEnrollment(NamedTuple):
    id: uuid.UUID
    meeting_credits: int
    credits_used: int
    student: SheetStudent
    credits_remaining = property(ClassEnrollment.credits_remaining.fget)


class SheetMark(NamedTuple):
    status: str
    credit_deducted: bool
    notes: str | None


@functools.cache
def _grid_query():
    """The sheet's statement, built once: plain columns, no ORM objects (the grid is only read and drawn)."""
    enrollments, students, records = ClassEnrollment.__table__, User.__table__, ClassAttendance.__table__
    return (select(enrollments.c.id, enrollments.c.meeting_credits, enrollments.c.credits_used, students.c.id,
                   students.c.full_name, students.c.avatar, records.c.id, records.c.status,
                   records.c.credit_deducted, records.c.notes)
            .join(students, students.c.id == enrollments.c.student_id)
            .outerjoin(records, and_(records.c.enrollment_id == enrollments.c.id,
                                     records.c.meeting_number == bindparam("meeting_number", type_=Integer)))
            .where(enrollments.c.class_id == bindparam("class_id", type_=Uuid), enrollments.c.status == "active"))


def grid(school_class: SchoolClass, meeting_number: int) -> list[GridRow]:
    """The class's active students with their mark for this meeting, in one query."""
    rows = [GridRow(SheetEnrollment(eid, meeting_credits, used, SheetStudent(sid, name, avatar)),
                    SheetMark(status, deducted, notes) if record_id is not None else None)
            for eid, meeting_credits, used, sid, name, avatar, record_id, status, deducted, notes in db.session.execute(
                _grid_query(), {"class_id": school_class.id, "meeting_number": meeting_number})]
    return sorted(rows, key=lambda row: row.enrollment.student.full_name.lower())


_UNREAD = object()


def _check_meeting(school_class: SchoolClass, meeting_number: int, meeting_date: date | None,
                   existing=_UNREAD) -> date:
    """The meeting's date; `existing` is the date its first mark fixed, when the caller read it already."""
    if school_class.status != "active":
        raise DomainError(_("Attendance is taken while the class is active."))
    if not isinstance(meeting_number, int) or not 1 <= meeting_number <= school_class.total_meetings:
        raise InvalidInput(_("Choose a meeting from 1 to %(n)d.", n=school_class.total_meetings))
    if existing is _UNREAD:
        existing = meeting_date_of(school_class, meeting_number)
    if existing is not None:
        return existing  # one meeting, one date: the first mark fixed it
    if meeting_date is None:
        return school_today()
    if meeting_date > school_today():
        raise InvalidInput(_("Attendance cannot be taken for a meeting in the future."))
    return meeting_date


def _refresh_counts(school_class: SchoolClass, enrollment: ClassEnrollment) -> None:
    """Derived numbers, recomputed from the records so they can never drift."""
    total, attended = db.session.execute(
        select(func.count(), func.count().filter(ClassAttendance.status.in_(credits.USES_CREDIT)))
        .where(ClassAttendance.enrollment_id == enrollment.id)).one()
    _set_counts(school_class, enrollment, total, attended, db.session.scalar(
        select(func.count(distinct(ClassAttendance.meeting_number))).where(
            ClassAttendance.class_id == school_class.id)))


def _rate(total: int, attended: int) -> Decimal | None:
    """The enrollment's attendance rate (percent) from its marks and attended marks."""
    return (Decimal(attended * 100) / total).quantize(Decimal("0.01")) if total else None


def _set_counts(school_class: SchoolClass, enrollment: ClassEnrollment, total: int, attended: int,
                meetings: int) -> None:
    enrollment.attendance_rate = _rate(total, attended)
    school_class.meetings_completed = meetings


@dataclass
class TapState:
    """What one tap needs to know, read in one statement once the class is locked (`_tap_state`).

    Every count leaves out the meeting being marked, so the numbers after the
    mark follow without reading again: the enrollment's marks and attended
    marks, and the class's meetings held, each plus this meeting's record.
    """
    enrollment: ClassEnrollment
    record: ClassAttendance | None
    key_seen: bool
    meeting_date: date | None
    other_marks: int
    other_attended: int
    other_meetings: int


@functools.cache
def _tap_state_query():
    """The statement `_tap_state` runs, built once: its parameters are bound per tap (building the aliased
    join and the five subqueries cost more CPU than running them, issue 22)."""
    enrollment_id, class_id = bindparam("enrollment_id", type_=Uuid), bindparam("class_id", type_=Uuid)
    meeting_number = bindparam("meeting_number", type_=Integer)
    record = aliased(ClassAttendance)
    others = ClassAttendance.meeting_number != meeting_number
    of_enrollment = ClassAttendance.enrollment_id == enrollment_id
    return (
        select(ClassEnrollment, record,
               # A tap without a key compares with NULL: never seen.
               exists().where(AttendanceChange.idempotency_key == bindparam("key", type_=Uuid)),
               select(ClassAttendance.meeting_date).where(ClassAttendance.class_id == class_id,
                                                          ClassAttendance.meeting_number == meeting_number)
               .limit(1).scalar_subquery(),
               select(func.count()).where(of_enrollment, others).scalar_subquery(),
               select(func.count()).where(of_enrollment, others, ClassAttendance.status.in_(credits.USES_CREDIT))
               .scalar_subquery(),
               select(func.count(distinct(ClassAttendance.meeting_number)))
               .where(ClassAttendance.class_id == class_id, others).scalar_subquery())
        .outerjoin(record, and_(record.enrollment_id == ClassEnrollment.id, record.meeting_number == meeting_number))
        .options(joinedload(ClassEnrollment.student))
        .where(ClassEnrollment.id == enrollment_id, ClassEnrollment.class_id == class_id)
        .with_for_update(of=ClassEnrollment).execution_options(populate_existing=True))


def _tap_state(enrollment_id: uuid.UUID, class_id: uuid.UUID, meeting_number: int,
               key: uuid.UUID | None) -> TapState | None:
    """The enrollment of this class locked and read afresh (with its student), its mark for the meeting, whether
    the tap's key was already used, the meeting's date and the counts: one statement instead of seven.

    It runs after the class row is locked, and every change of a mark locks the class first, so the counts
    are those no other tap can change before this one commits.
    """
    row = db.session.execute(_tap_state_query(), {"enrollment_id": enrollment_id, "class_id": class_id,
                                                  "meeting_number": meeting_number, "key": key}).first()
    if row is None:
        return None
    state = TapState(*row)
    if state.record is not None:  # the sheet's row reads record.enrollment: the one just locked, not a reload
        set_committed_value(state.record, "enrollment", state.enrollment)
    return state


def apply_mark(actor: User, school_class: SchoolClass, enrollment: ClassEnrollment, meeting_number: int,
               meeting_date: date, status: str, note: str | None, key: uuid.UUID | None, reason: str | None) -> bool:
    """Set one mark inside the caller's transaction (the unit of work); True when something changed.

    The sheet, "mark all present" and a correction come here; a tap writes through `_save_tap`.
    """
    record = db.session.scalars(select(ClassAttendance).where(
        ClassAttendance.enrollment_id == enrollment.id, ClassAttendance.meeting_number == meeting_number)
        .with_for_update()).first()
    old_status = record.status if record else None
    if not _changes(record, status, note):
        return False
    if record is None:
        record = ClassAttendance(id=uuid.uuid4(), class_id=school_class.id, enrollment_id=enrollment.id,
                                 meeting_number=meeting_number, meeting_date=meeting_date, status=status,
                                 marked_by=actor.id, marked_at=utcnow())
        db.session.add(record)
    else:
        record.status = status
        record.updated_by, record.updated_at = actor.id, utcnow()
    record.credit_deducted = bool(credits.used_by(status))
    if note is not None:
        record.notes = note or None
    credit_change = credits.charge_mark(enrollment, old_status, status)
    db.session.flush()
    if old_status != status:
        db.session.add(AttendanceChange(attendance_id=record.id, enrollment_id=enrollment.id,
                                        meeting_number=meeting_number, old_status=old_status, new_status=status,
                                        credit_change=credit_change, changed_by=actor.id, reason=reason,
                                        idempotency_key=key))
    _refresh_counts(school_class, enrollment)
    # Last, so nothing after it can roll the caller's savepoint back once its Redis update is registered.
    if _earns_xp(old_status, status):
        xp.for_attendance(enrollment.student_id, record.id, status, school_class.id)
    return True


def _changes(record: ClassAttendance | None, status: str, note: str | None) -> bool:
    """Whether marking `status` (with `note`, None: left as it is) changes the meeting's record."""
    note_changed = note is not None and (record.notes if record else None) != (note or None)
    return (record.status if record else None) != status or note_changed


def _earns_xp(old_status: str | None, status: str) -> bool:
    return status in XP_STATUSES and old_status not in XP_STATUSES  # one award per mark (services/xp.py)


_RECORDS, _CHANGES = ClassAttendance.__table__, AttendanceChange.__table__
_ENROLLMENTS, _CLASSES = ClassEnrollment.__table__, SchoolClass.__table__


def _bound(table, prefix: str, names: tuple[str, ...]) -> dict:
    # Prefixed: on PostgreSQL the four writes are one statement, and a parameter named as a column is reserved.
    return {name: bindparam(prefix + name, type_=table.c[name].type) for name in names}


@functools.cache
def _tap_writes() -> dict:
    """A tap's writes as Core statements, built once (the unit of work cost a tap more CPU than its SQL)."""
    by_id = lambda table, prefix: table.c.id == bindparam(prefix + "id", type_=Uuid)  # noqa: E731
    return {
        "new_record": insert(_RECORDS).values(_bound(_RECORDS, "r_", (
            "id", "class_id", "enrollment_id", "meeting_number", "meeting_date", "status", "credit_deducted",
            "marked_by", "marked_at", "notes"))),
        "record": update(_RECORDS).where(by_id(_RECORDS, "r_")).values(_bound(_RECORDS, "r_", (
            "status", "credit_deducted", "updated_by", "updated_at", "notes"))),
        "history": insert(_CHANGES).values(_bound(_CHANGES, "h_", (
            "id", "attendance_id", "enrollment_id", "meeting_number", "old_status", "new_status", "credit_change",
            "changed_by", "changed_at", "reason", "idempotency_key"))),
        "enrollment": update(_ENROLLMENTS).where(by_id(_ENROLLMENTS, "e_"))
        .values(_bound(_ENROLLMENTS, "e_", ("credits_used", "attendance_rate"))),
        "class": update(_CLASSES).where(by_id(_CLASSES, "c_"))
        .values(_bound(_CLASSES, "c_", ("meetings_completed", "updated_at"))),
    }


def _save_tap(actor: User, school_class: SchoolClass, state: TapState, meeting_number: int, meeting_date: date,
              status: str, note: str | None, key: uuid.UUID | None, reason: str | None) -> None:
    """A tap's mark with the same rules as `apply_mark`, written with Core statements from what `_tap_state`
    read under the locks: the loaded rows are then given their new values as saved, so nothing is flushed."""
    enrollment, record = state.enrollment, state.record
    old_status = record.status if record else None
    if not _changes(record, status, note):
        return
    now, deducted = utcnow(), bool(credits.used_by(status))
    notes = (note or None) if note is not None else record.notes if record else None
    credit_change = credits.mark_change(old_status, status)
    credits_used = enrollment.credits_used + credit_change
    rate = _rate(state.other_marks + 1, state.other_attended + credits.used_by(status))
    meetings = state.other_meetings + 1
    parts = ["new_record" if record is None else "record"]
    params = {"r_status": status, "r_credit_deducted": deducted, "r_notes": notes}
    if record is None:
        record = ClassAttendance(id=uuid.uuid4(), class_id=school_class.id, enrollment_id=enrollment.id,
                                 meeting_number=meeting_number, meeting_date=meeting_date, status=status,
                                 credit_deducted=deducted, marked_by=actor.id, marked_at=now, updated_by=None,
                                 updated_at=None, notes=notes)
        params.update(r_id=record.id, r_class_id=school_class.id, r_enrollment_id=enrollment.id,
                      r_meeting_number=meeting_number, r_meeting_date=meeting_date, r_marked_by=actor.id,
                      r_marked_at=now)
    else:
        params.update(r_id=record.id, r_updated_by=actor.id, r_updated_at=now)
    if old_status != status:
        parts.append("history")
        params.update(h_id=uuid.uuid4(), h_attendance_id=record.id, h_enrollment_id=enrollment.id,
                      h_meeting_number=meeting_number, h_old_status=old_status, h_new_status=status,
                      h_credit_change=credit_change, h_changed_by=actor.id, h_changed_at=now, h_reason=reason,
                      h_idempotency_key=key)
    if (credits_used, rate) != (enrollment.credits_used, enrollment.attendance_rate):
        parts.append("enrollment")
        params.update(e_id=enrollment.id, e_credits_used=credits_used, e_attendance_rate=rate)
    if meetings != school_class.meetings_completed:
        parts.append("class")
        params.update(c_id=school_class.id, c_meetings_completed=meetings, c_updated_at=now)
    writes = tuple(_tap_writes()[part] for part in parts)
    if _earns_xp(old_status, status):  # the writes and the XP award in one statement (services/statements.py)
        xp.for_attendance(enrollment.student_id, record.id, status, school_class.id, along=writes,
                          along_params=params)
    else:
        statements.run_together(writes, params)
    # The loaded rows as the writes left them (the row drawn after the tap reads them).
    if state.record is None:
        make_transient_to_detached(record)
        db.session.add(record)
        set_committed_value(record, "enrollment", enrollment)
        state.record = record
    else:
        for name, value in (("status", status), ("credit_deducted", deducted), ("updated_by", actor.id),
                            ("updated_at", now), ("notes", notes)):
            set_committed_value(record, name, value)
    set_committed_value(enrollment, "credits_used", credits_used)
    set_committed_value(enrollment, "attendance_rate", rate)
    if "class" in parts:
        set_committed_value(school_class, "meetings_completed", meetings)
        set_committed_value(school_class, "updated_at", now)


def check_status(status: str) -> None:
    if status not in ATTENDANCE_STATUSES:
        raise InvalidInput(_("Mark present, late or absent."))


def _clean(status: str, note: str | None) -> str | None:
    check_status(status)
    if note is not None:
        note = note.strip()
        if len(note) > MAX_NOTE:
            raise InvalidInput(_("Keep the note under %(max)d characters.", max=MAX_NOTE))
    return note


class TapAlreadySaved(DomainError):
    status_code = 409


@use_case(keep_loaded=True)  # the row drawn after the tap is the one it wrote, under its locks
def mark(actor: User, school_class: SchoolClass | uuid.UUID, *, enrollment_id: uuid.UUID, meeting_number: int,
         status: str, meeting_date: date | None = None, note: str | None = None, key: uuid.UUID | None = None,
         reason: str | None = None) -> ClassAttendance | None:
    """Mark one student for one meeting (a tap). Safe to repeat: a known key changes nothing.

    `school_class`: the class or its id (a tap's view sends the id: locking the class is its first read, not
    a second one). Locks the class, then reads and locks the enrollment with everything else the tap needs
    in one statement (`_tap_state`); the writes go out in one flush.
    """
    school_class = locked_class(getattr(school_class, "id", school_class))
    # The lock comes before the check so the class is read once; a refusal rolls back and releases it at once.
    if not may_take(actor, school_class):
        classes.class_for(actor, school_class.id)  # a class the actor may not know exists: not found
        require_taker(actor, school_class)
    note = _clean(status, note)
    state = _tap_state(enrollment_id, school_class.id, meeting_number, key) if isinstance(meeting_number, int) \
        else None
    if state is None:  # not an enrollment of this class (or no meeting number): refused below, as before
        if key is not None and db.session.scalar(select(func.count()).where(
                AttendanceChange.idempotency_key == key)):
            return record_for(enrollment_id, meeting_number)
        _check_meeting(school_class, meeting_number, meeting_date)
        raise InvalidInput(_("This student is not active in the class."))
    if state.key_seen:
        return state.record
    the_date = _check_meeting(school_class, meeting_number, meeting_date, existing=state.meeting_date)
    enrollment = state.enrollment
    if enrollment.status != "active":
        raise InvalidInput(_("This student is not active in the class."))
    try:
        _save_tap(actor, school_class, state, meeting_number, the_date, status, note, key, reason)
    except IntegrityError as exc:
        # The key is UNIQUE: a tap re-sent while the first was being saved found the class locked and then
        # its key (above). Only the same key used for another class ends here; nothing is changed.
        raise TapAlreadySaved(_("This tap was already saved. Reload the page to see the sheet.")) from exc
    return state.record


def saved_row(record: ClassAttendance) -> GridRow:
    """The sheet's row of the mark a tap returned, as the tap left it (nothing read again)."""
    return GridRow(record.enrollment, record)


def locked_enrollment(enrollment_id: uuid.UUID, class_id: uuid.UUID) -> ClassEnrollment | None:
    """The enrollment of this class, locked and read afresh; lock its class first (the order every use case keeps)."""
    return db.session.scalars(select(ClassEnrollment).where(
        ClassEnrollment.id == enrollment_id, ClassEnrollment.class_id == class_id).with_for_update()
        .execution_options(populate_existing=True)).first()


def grid_row(actor: User, class_id: uuid.UUID, enrollment_id: uuid.UUID | None,
             meeting_number: int) -> GridRow | None:
    """One student's row of the sheet, read afresh; None when the enrollment is not of this class or the actor
    does not take its attendance (a refused tap may not have reached the use case's check)."""
    enrollment = db.session.get(ClassEnrollment, enrollment_id) if enrollment_id else None
    if enrollment is None or enrollment.class_id != class_id or not may_take(actor, enrollment.school_class):
        return None
    db.session.refresh(enrollment)
    return GridRow(enrollment, record_for(enrollment.id, meeting_number))


def record_for(enrollment_id: uuid.UUID, meeting_number: int) -> ClassAttendance:
    return db.session.scalars(select(ClassAttendance).where(
        ClassAttendance.enrollment_id == enrollment_id, ClassAttendance.meeting_number == meeting_number)
        .execution_options(populate_existing=True)).first()


def _key_for(key: uuid.UUID, enrollment_id: uuid.UUID) -> uuid.UUID:
    # One "mark all" request makes many marks; each history row needs its own unique key,
    # and a replay of the request must find them again.
    return uuid.uuid5(key, str(enrollment_id))


@use_case
def mark_all_present(actor: User, school_class: SchoolClass, *, meeting_number: int,
                     meeting_date: date | None = None, key: uuid.UUID | None = None) -> int:
    """Mark present every active student not yet marked; a mark already made is never overwritten.

    With a key, the request is applied once: sent again (a queued offline tap
    replayed, a lost answer) it finds the marks it made and marks nobody, not
    even a student enrolled since. (One that found everyone already marked
    leaves no trace; sent again it marks only students still unmarked.)
    """
    require_taker(actor, school_class)
    school_class = locked_class(school_class.id)
    all_ids = db.session.scalars(select(ClassEnrollment.id).where(ClassEnrollment.class_id == school_class.id)).all()
    if key is not None and db.session.scalar(select(func.count()).where(
            AttendanceChange.idempotency_key.in_([_key_for(key, eid) for eid in all_ids]))):
        return 0
    the_date = _check_meeting(school_class, meeting_number, meeting_date)
    marked = set(db.session.scalars(select(ClassAttendance.enrollment_id).where(
        ClassAttendance.class_id == school_class.id, ClassAttendance.meeting_number == meeting_number)))
    enrollments = db.session.scalars(select(ClassEnrollment).where(
        ClassEnrollment.class_id == school_class.id, ClassEnrollment.status == "active")
        .order_by(ClassEnrollment.id).with_for_update()).all()
    count = 0
    for enrollment in enrollments:
        if enrollment.id not in marked:
            count += apply_mark(actor, school_class, enrollment, meeting_number, the_date, "present", None,
                                _key_for(key, enrollment.id) if key else None, None)
    return count


@use_case
def save_sheet(actor: User, school_class: SchoolClass, *, meeting_number: int, meeting_date: date | None,
               marks: dict[uuid.UUID, tuple[str | None, str | None]], key: uuid.UUID | None = None) -> int:
    """The whole grid as one form post (no JavaScript): every given mark in one transaction.

    With a key (the API's `Idempotency-Key`), the request is applied once: sent again, or ten times at once, it
    finds the marks it made (each carries a key derived from the request's) and changes nothing.
    """
    require_taker(actor, school_class)
    cleaned = {eid: (status, _clean(status, note)) for eid, (status, note) in marks.items() if status}
    school_class = locked_class(school_class.id)
    if key is not None and db.session.scalar(select(func.count()).where(
            AttendanceChange.idempotency_key.in_([_key_for(key, eid) for eid in cleaned]))):
        return 0
    the_date = _check_meeting(school_class, meeting_number, meeting_date)
    enrollments = db.session.scalars(select(ClassEnrollment).where(
        ClassEnrollment.class_id == school_class.id, ClassEnrollment.status == "active",
        ClassEnrollment.id.in_(list(cleaned))).order_by(ClassEnrollment.id).with_for_update()
        .execution_options(populate_existing=True)).all()
    if len(enrollments) != len(cleaned):
        raise InvalidInput(_("A student in this form is no longer active in the class. Reload the page."))
    changed = sum(apply_mark(actor, school_class, e, meeting_number, the_date, *cleaned[e.id],
                             _key_for(key, e.id) if key else None, None)
                  for e in enrollments)
    return changed


def class_records(school_class: SchoolClass, *, after: list | None = None, limit: int = 20,
                  meeting_number: int | None = None):
    """The class's marks in (meeting, enrollment) order, `limit` at a time after the cursor's mark (keyset)."""
    from babyowl.services.listing import Key, keyset_page

    query = (select(ClassAttendance).options(joinedload(ClassAttendance.enrollment))
             .where(ClassAttendance.class_id == school_class.id))
    if meeting_number is not None:
        query = query.where(ClassAttendance.meeting_number == meeting_number)
    keys = (Key(ClassAttendance.meeting_number, int), Key(ClassAttendance.enrollment_id, uuid.UUID))
    return keyset_page(query, keys, after=after, limit=limit)
