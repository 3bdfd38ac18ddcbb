"""Class announcements: written by the class's instructor or staff, sent now or at a chosen time.

The database decides what is sent, not Redis. A send is one atomic
`UPDATE announcements SET sent_at = now WHERE sent_at IS NULL AND cancelled_at
IS NULL AND <due> RETURNING id` followed, in the same transaction, by the
students' notifications (unique per student and announcement): whoever runs
it first (the job at the scheduled time, the periodic sweep, a retry, a
second worker) sends it; everyone after finds nothing to do. A scheduled job
carries the time it was scheduled for, so after an edit the old job is a
no-op and the new one sends the new text at the new time.

Writing, editing and cancelling are use cases: the send job is queued (or
removed) only after the commit, through the jobs facade. If Redis cannot take
it, nothing is lost: the sweep sends every announcement that is due.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import joinedload

from babyowl import jobs
from babyowl.authz import is_staff
from babyowl.exercise_types.richtext import render_markdown
from babyowl.extensions import db
from babyowl.models import Announcement, AnnouncementRead, ClassEnrollment, Notification, SchoolClass, User
from babyowl.models.base import utcnow
from babyowl.services import notifications
from babyowl.services.classes import ClassNotFound, can_teach, class_for
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.listing import Key, Slice, keyset_page
from babyowl.transactions import after_commit, use_case

log = logging.getLogger(__name__)

KIND = "announcement"
MAX_TITLE = 255
MAX_CONTENT = 20_000
MAX_AHEAD = timedelta(days=366)


class AnnouncementNotFound(DomainError):
    status_code = 404


class AnnouncementClosed(DomainError):
    """Already sent or cancelled: it can no longer change."""


@dataclass(frozen=True)
class AnnouncementRow:
    announcement: Announcement
    recipients: int
    reads: int


# Who may do what -------------------------------------------------------------

def may_manage(actor: User, school_class: SchoolClass) -> bool:
    return is_staff(actor) or can_teach(actor, school_class)


def class_to_manage(actor: User, class_id: uuid.UUID) -> SchoolClass:
    """The class if `actor` may write its announcements: staff, super_admin, its instructor; others 403."""
    school_class = db.session.get(SchoolClass, class_id)
    if school_class is None:
        raise ClassNotFound(_("This class does not exist."))
    if not may_manage(actor, school_class):
        raise NotAllowed(_("Only the class's instructor and staff write its announcements."))
    return school_class


def class_to_read(actor: User, class_id: uuid.UUID) -> SchoolClass:
    """Managers as above; a student only a class they are in (404 otherwise)."""
    if actor.role == "student":
        return class_for(actor, class_id)
    return class_to_manage(actor, class_id)


def announcement_for(actor: User, announcement_id: uuid.UUID, *, manage: bool = False) -> Announcement:
    announcement = db.session.get(Announcement, announcement_id)
    if announcement is None:
        raise AnnouncementNotFound(_("This announcement does not exist."))
    school_class = announcement.school_class
    if manage or actor.role != "student":
        class_to_manage(actor, school_class.id)
        return announcement
    try:
        class_for(actor, school_class.id)
    except ClassNotFound as exc:
        raise AnnouncementNotFound(_("This announcement does not exist.")) from exc
    if announcement.sent_at is None:  # students never see what has not gone out
        raise AnnouncementNotFound(_("This announcement does not exist."))
    return announcement


# Writing ----------------------------------------------------------------------

def _checked(title: str, content: str, send_at: datetime | None) -> dict:
    title, content = (title or "").strip(), (content or "").strip()
    if not title:
        raise InvalidInput(_("Enter a title."))
    if len(title) > MAX_TITLE:
        raise InvalidInput(_("Use at most %(max)d characters for the title.", max=MAX_TITLE))
    if not content:
        raise InvalidInput(_("Write the announcement."))
    if len(content) > MAX_CONTENT:
        raise InvalidInput(_("Use at most %(max)d characters for the announcement.", max=MAX_CONTENT))
    if send_at is not None:
        if send_at.tzinfo is None:
            raise ValueError("send_at must be timezone-aware")
        now = utcnow()
        if send_at <= now:
            raise InvalidInput(_("Choose a time in the future, or send it now."))
        if send_at > now + MAX_AHEAD:
            raise InvalidInput(_("Choose a time within the next year."))
    return {"title": title, "content": content, "content_html": render_markdown(content), "scheduled_at": send_at}


@use_case
def create_announcement(actor: User, school_class: SchoolClass, *, title: str, content: str,
                        send_at: datetime | None = None) -> Announcement:
    """Write an announcement; it goes out now (`send_at` None) or at `send_at`."""
    if not may_manage(actor, school_class):
        raise NotAllowed(_("Only the class's instructor and staff write its announcements."))
    announcement = Announcement(class_id=school_class.id, instructor_id=actor.id,
                                **_checked(title, content, send_at))
    db.session.add(announcement)
    db.session.flush()
    after_commit(_queue_send, announcement.id, announcement.scheduled_at)
    return announcement


def _locked(announcement_id: uuid.UUID) -> Announcement:
    announcement = db.session.scalars(select(Announcement).where(Announcement.id == announcement_id)
                                      .with_for_update().execution_options(populate_existing=True)).first()
    if announcement is None:
        raise AnnouncementNotFound(_("This announcement does not exist."))
    return ensure_open(announcement)


def ensure_open(announcement: Announcement) -> Announcement:
    """Only a scheduled announcement can change: one already sent or cancelled is refused."""
    if announcement.sent_at is not None:
        raise AnnouncementClosed(_("This announcement has already been sent; it can no longer change."))
    if announcement.cancelled_at is not None:
        raise AnnouncementClosed(_("This announcement was cancelled; it can no longer change."))
    return announcement


@use_case
def update_announcement(actor: User, announcement: Announcement, *, title: str, content: str,
                        send_at: datetime | None) -> Announcement:
    """Change a scheduled announcement; locked, so it cannot change while it is being sent."""
    class_to_manage(actor, announcement.class_id)
    values = _checked(title, content, send_at)
    announcement = _locked(announcement.id)
    old_job = send_job_id(announcement)
    for name, value in values.items():
        setattr(announcement, name, value)
    # Only tidiness: the old job, if it still runs, finds the announcement moved and does nothing.
    after_commit(jobs.cancel, old_job)
    after_commit(_queue_send, announcement.id, announcement.scheduled_at)
    return announcement


@use_case
def cancel_announcement(actor: User, announcement: Announcement) -> Announcement:
    class_to_manage(actor, announcement.class_id)
    announcement = _locked(announcement.id)
    announcement.cancelled_at = utcnow()
    after_commit(jobs.cancel, send_job_id(announcement))
    return announcement


# Sending ------------------------------------------------------------------------

def send_job_id(announcement: Announcement) -> str:
    return _send_job_id(announcement.id, announcement.scheduled_at)


def _send_job_id(announcement_id: uuid.UUID, scheduled_at: datetime | None) -> str:
    when = scheduled_at.strftime("%Y%m%dT%H%M%S%f") if scheduled_at else "now"
    return f"announcement-{announcement_id}-{when}"


def _queue_send(announcement_id: uuid.UUID, scheduled_at: datetime | None) -> None:
    """After the commit: the send job, now or at its time (plain values: the session may be gone)."""
    from babyowl.jobs.announcements import send_announcement

    job_id = _send_job_id(announcement_id, scheduled_at)
    if scheduled_at is None:
        jobs.enqueue(send_announcement, str(announcement_id), None, job_id=job_id)
    else:
        # RQ's scheduler keeps whole seconds (it truncates): rounded down, the job
        # would run up to a second early and find the announcement not yet due.
        run_at = scheduled_at.replace(microsecond=0) + timedelta(seconds=1 if scheduled_at.microsecond else 0)
        jobs.enqueue_at(run_at, send_announcement, str(announcement_id), scheduled_at.isoformat(), job_id=job_id)


ANY_TIME = object()


@use_case
def deliver(announcement_id: uuid.UUID, scheduled_for=ANY_TIME) -> int | None:
    """Send the announcement if it is due, unsent and not cancelled; None when there was nothing to do.

    `scheduled_for` (a scheduled job's own time; None for "send now") must
    still be the announcement's time: an edit has made the old job pointless.
    Returns the number of students notified.
    """
    now = utcnow()
    conditions = [Announcement.id == announcement_id, Announcement.sent_at.is_(None),
                  Announcement.cancelled_at.is_(None),
                  or_(Announcement.scheduled_at.is_(None), Announcement.scheduled_at <= now)]
    if scheduled_for is not ANY_TIME:
        conditions.append(Announcement.scheduled_at.is_(None) if scheduled_for is None
                          else Announcement.scheduled_at == scheduled_for)
    # The row lock this UPDATE takes makes a second sender wait, then find sent_at set.
    claimed = db.session.scalar(update(Announcement).where(*conditions).values(sent_at=now)
                                .returning(Announcement.id).execution_options(synchronize_session=False))
    if claimed is None:
        return None
    announcement = db.session.scalars(select(Announcement).where(Announcement.id == claimed)
                                      .execution_options(populate_existing=True)).one()
    students = list(db.session.scalars(
        select(User).join(ClassEnrollment, ClassEnrollment.student_id == User.id)
        .where(ClassEnrollment.class_id == announcement.class_id, ClassEnrollment.status == "active",
               User.status == "active")))
    # One transaction: sent_at and the notifications go in together, or not at all.
    notifications.notify(students, kind=KIND, title=announcement.title, message=announcement.content,
                         reference_id=announcement.id,
                         link=notifications.path_for("announcements.show", announcement_id=announcement.id),
                         event_key=f"{KIND}:{announcement.id}")
    log.info("Announcement %s sent to %d students", announcement.id, len(students))
    return len(students)


def due_announcements() -> list[uuid.UUID]:
    now = utcnow()
    return list(db.session.scalars(select(Announcement.id).where(
        Announcement.sent_at.is_(None), Announcement.cancelled_at.is_(None),
        or_(Announcement.scheduled_at.is_(None), Announcement.scheduled_at <= now))
        .order_by(Announcement.scheduled_at.nulls_first())))


def send_due_announcements() -> int:
    """Send everything due and not yet sent (the sweep); returns how many announcements went out."""
    sent = 0
    for announcement_id in due_announcements():
        if deliver(announcement_id) is not None:
            sent += 1
    return sent


# Reading ------------------------------------------------------------------------

def _recipients():
    return (select(func.count()).select_from(Notification)
            .where(Notification.type == KIND, Notification.reference_id == Announcement.id)
            .correlate(Announcement).scalar_subquery())


def _reads():
    # Only reads by the people it was sent to, so it never says "13 of 12".
    return (select(func.count()).select_from(AnnouncementRead)
            .join(Notification, and_(Notification.user_id == AnnouncementRead.user_id, Notification.type == KIND,
                                     Notification.reference_id == AnnouncementRead.announcement_id))
            .where(AnnouncementRead.announcement_id == Announcement.id)
            .correlate(Announcement).scalar_subquery())


def active_students(school_class: SchoolClass) -> int:
    return db.session.scalar(select(func.count()).select_from(ClassEnrollment).where(
        ClassEnrollment.class_id == school_class.id, ClassEnrollment.status == "active"))


def class_announcements(actor: User, school_class: SchoolClass) -> list[AnnouncementRow]:
    """Every announcement of the class, newest first, with how many got it and read it (two queries)."""
    class_size = _class_size_for(actor, school_class)
    rows = db.session.execute(_written(school_class).order_by(
        *(key.column.desc() if key.descending else key.column for key in WRITTEN_ORDER))).all()
    return [_row(row, class_size) for row in rows]


def class_announcements_after(actor: User, school_class: SchoolClass, *, after: list | None = None,
                              limit: int = 20) -> Slice:
    """The same list, one keyset page after the cursor's announcement."""
    class_size = _class_size_for(actor, school_class)
    return keyset_page(_written(school_class), WRITTEN_ORDER, after=after, limit=limit).map(
        lambda row: _row(row, class_size))


# Newest first by when it went (or goes) out; the id parts a tie.
WRITTEN_ORDER = (Key(func.coalesce(Announcement.sent_at, Announcement.scheduled_at, Announcement.created_at),
                     datetime, descending=True), Key(Announcement.id, uuid.UUID))


def _class_size_for(actor: User, school_class: SchoolClass) -> int:
    if not may_manage(actor, school_class):
        raise NotAllowed(_("Only the class's instructor and staff write its announcements."))
    return active_students(school_class)


def _written(school_class: SchoolClass):
    return (select(Announcement, _recipients(), _reads()).options(joinedload(Announcement.instructor))
            .where(Announcement.class_id == school_class.id))


def _row(row, class_size: int) -> AnnouncementRow:
    announcement, recipients, reads = row
    return AnnouncementRow(announcement, recipients if announcement.sent_at else class_size, reads)


def _read_flag(student_id):
    return (select(AnnouncementRead.id)
            .where(AnnouncementRead.announcement_id == Announcement.id, AnnouncementRead.user_id == student_id)
            .correlate(Announcement).exists())


def _to_student(student_id):
    """Who reads a class's announcements: its students, but not the withdrawn (`student_id` a value or a
    bound parameter)."""
    return and_(ClassEnrollment.class_id == Announcement.class_id, ClassEnrollment.student_id == student_id,
                ClassEnrollment.status != "withdrawn")


_NEWEST_SENT = (Announcement.sent_at.desc(), Announcement.id)


def for_student(student: User, *, class_id: uuid.UUID | None = None, limit: int | None = None
                ) -> list[tuple[Announcement, bool]]:
    """Sent announcements of the student's classes (or one of them), newest first, each with "read"."""
    query = _sent_to(student, class_id).order_by(*_NEWEST_SENT)
    if limit:
        query = query.limit(limit)
    return [(announcement, bool(read)) for announcement, read in db.session.execute(query).all()]


SENT_ORDER = (Key(Announcement.sent_at, datetime, descending=True), Key(Announcement.id, uuid.UUID))


def _sent_to(student: User, class_id: uuid.UUID | None):
    query = (select(Announcement, _read_flag(student.id)).join(ClassEnrollment, _to_student(student.id))
             .options(joinedload(Announcement.school_class), joinedload(Announcement.instructor))
             .where(Announcement.sent_at.is_not(None)))
    if class_id is not None:
        query = query.where(Announcement.class_id == class_id)
    return query


def latest_for_student(student_id, limit: int):
    """`for_student`'s first `limit` rows as plain columns (id, title, class_name, sent_at, read; place: 1, 2,
    ... in that order), for a page that reads them in a statement with other things (the student's home);
    `student_id` a bound parameter."""
    return (select(Announcement.id, Announcement.title, SchoolClass.name.label("class_name"), Announcement.sent_at,
                   _read_flag(student_id).label("read"), func.row_number().over(order_by=_NEWEST_SENT).label("place"))
            .join(ClassEnrollment, _to_student(student_id)).join(SchoolClass, SchoolClass.id == Announcement.class_id)
            .where(Announcement.sent_at.is_not(None))
            .order_by(*_NEWEST_SENT).limit(limit))


def for_student_after(student: User, *, class_id: uuid.UUID | None = None, after: list | None = None,
                      limit: int = 20) -> Slice:
    """The same list, one keyset page of (announcement, read) after the cursor's announcement."""
    return keyset_page(_sent_to(student, class_id), SENT_ORDER, after=after, limit=limit).map(
        lambda row: (row[0], bool(row[1])))


@use_case
def open_announcement(actor: User, announcement_id: uuid.UUID) -> Announcement:
    """What a person sees when they open one; a student's first opening records the read (once)."""
    announcement = announcement_for(actor, announcement_id)
    if actor.role == "student":
        statement = notifications._insert(AnnouncementRead).values(
            id=uuid.uuid4(), announcement_id=announcement.id, user_id=actor.id, read_at=utcnow())
        db.session.execute(statement.on_conflict_do_nothing(index_elements=["announcement_id", "user_id"]))
        notifications.mark_read_about(actor, KIND, announcement.id)
    return announcement


def read_by(announcement: Announcement) -> list[AnnouncementRead]:
    return list(db.session.scalars(select(AnnouncementRead).options(joinedload(AnnouncementRead.user))
                                   .where(AnnouncementRead.announcement_id == announcement.id)
                                   .order_by(AnnouncementRead.read_at)))
