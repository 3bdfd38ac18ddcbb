"""School events (workshops, meet-ups): times, places, RSVPs, reminders and calendars.

Rules:
- Instructors and staff create events. Date, start and end are the school's
  wall clock (SCHOOL_TIMEZONE); an event is online or at a place; it may
  have a capacity.
- One RSVP per person and event (UNIQUE): attending, maybe or declined, changed
  at will until the event starts. `attendees_count` is recounted from the
  attending rows in the same transaction, with the event row locked first:
  parallel RSVPs count exactly, and "attending" is refused once the count
  reaches the capacity ("full"); a CHECK is the last guard.
- The day before (within 24 hours of the start), the people attending or
  maybe attending get one reminder: the sweep finds the events, and the
  event's `reminder_sent_at` (row locked, SKIP LOCKED) plus a unique event key
  per person make it once.
- An `.ics` per event, and a personal calendar feed (a signed link, for
  calendar apps that cannot sign in) of the events a person RSVP'd to.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from babyowl.authz import TEACHING_ROLES
from babyowl.extensions import db
from babyowl.models import CommunityEvent, CommunityEventRSVP, User
from babyowl.models.base import utcnow
from babyowl.models.community import RSVP_STATUSES
from babyowl.services.community import NotFound
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.listing import Key, Slice, keyset_page
from babyowl.services.notifications import _insert, notify, path_for
from babyowl.services.school_time import school_moment, school_today
from babyowl.transactions import use_case

CALENDAR_SALT = "babyowl-calendar"
MAX_TITLE = 255
MAX_DESCRIPTION = 5000
REMINDER_BEFORE = timedelta(hours=24)


class EventFull(DomainError):
    status_code = 409


class EventOver(DomainError):
    status_code = 409


def starts_at(event: CommunityEvent) -> datetime:
    return school_moment(event.event_date, event.start_time)


def ends_at(event: CommunityEvent) -> datetime:
    return school_moment(event.event_date, event.end_time)


def is_full(event: CommunityEvent) -> bool:
    return event.capacity is not None and event.attendees_count >= event.capacity


def has_started(event: CommunityEvent) -> bool:
    return starts_at(event) <= utcnow()


def may_create(user: User) -> bool:
    return user.role in TEACHING_ROLES


_SOONEST_FIRST = (Key(CommunityEvent.event_date, date), Key(CommunityEvent.start_time, time),
                  Key(CommunityEvent.id, uuid.UUID))


def _from_today():
    return select(CommunityEvent).where(CommunityEvent.event_date >= school_today())


def upcoming(limit: int = 50) -> list[CommunityEvent]:
    """Events from today on, soonest first."""
    return list(db.session.scalars(_from_today().order_by(*(key.column for key in _SOONEST_FIRST)).limit(limit)))


def upcoming_after(*, after: list | None = None, limit: int = 20) -> Slice:
    """One keyset page of the events from today on, soonest first."""
    return keyset_page(_from_today(), _SOONEST_FIRST, after=after, limit=limit)


def past(limit: int = 20) -> list[CommunityEvent]:
    return list(db.session.scalars(select(CommunityEvent).where(CommunityEvent.event_date < school_today())
                                   .order_by(CommunityEvent.event_date.desc()).limit(limit)))


def rsvps_of(user: User, event_ids) -> dict[uuid.UUID, str]:
    if not event_ids:
        return {}
    return dict(db.session.execute(select(CommunityEventRSVP.event_id, CommunityEventRSVP.status).where(
        CommunityEventRSVP.user_id == user.id, CommunityEventRSVP.event_id.in_(event_ids))).all())


def event_for(event_id: uuid.UUID | None, *, lock: bool = False) -> CommunityEvent:
    event = None
    if event_id is not None:
        statement = select(CommunityEvent).where(CommunityEvent.id == event_id)
        if lock:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        event = db.session.scalars(statement).first()
    if event is None:
        raise NotFound(_("This event does not exist."))
    return event


def attendees(event: CommunityEvent) -> list[CommunityEventRSVP]:
    return list(db.session.scalars(select(CommunityEventRSVP).where(CommunityEventRSVP.event_id == event.id)
                                   .options(joinedload(CommunityEventRSVP.user))
                                   .order_by(CommunityEventRSVP.status, CommunityEventRSVP.created_at)))


@use_case
def create_event(actor: User, *, title: str, description: str | None, event_date: date, start_time: time,
                 end_time: time, online: bool, location: str | None, capacity: int | None) -> CommunityEvent:
    if not may_create(actor):
        raise NotAllowed(_("Only instructors and staff create events."))
    title = (title or "").strip()
    location = (location or "").strip() or None
    if not title or len(title) > MAX_TITLE:
        raise InvalidInput(_("Give the event a title (at most %(max)d characters).", max=MAX_TITLE))
    if len(description or "") > MAX_DESCRIPTION:
        raise InvalidInput(_("The description is too long."))
    if end_time <= start_time:
        raise InvalidInput(_("The event must end after it starts."))
    if school_moment(event_date, start_time) <= utcnow():
        raise InvalidInput(_("Choose a start in the future."))
    if not online and not location:
        raise InvalidInput(_("Say where the event takes place, or mark it online."))
    if capacity is not None and capacity < 1:
        raise InvalidInput(_("The capacity must be at least 1."))
    event = CommunityEvent(title=title, description=(description or "").strip() or None, event_date=event_date,
                           start_time=start_time, end_time=end_time, online=online,
                           location=location or (str(_l("Online")) if online else None), capacity=capacity,
                           created_by=actor.id, attendees_count=0)
    db.session.add(event)
    db.session.flush()
    return event


def _recount(event: CommunityEvent) -> None:
    event.attendees_count = db.session.scalar(select(func.count()).where(
        CommunityEventRSVP.event_id == event.id, CommunityEventRSVP.status == "attending"))


@use_case
def rsvp(user: User, event_id: uuid.UUID, status: str) -> CommunityEvent:
    """Answer attending, maybe or declined (again to change it); "attending" is refused when full."""
    if status not in RSVP_STATUSES:
        raise InvalidInput(_("Choose attending, maybe or not attending."))
    event = event_for(event_id, lock=True)  # parallel answers wait here, then count what the others wrote
    if has_started(event):
        raise EventOver(_("This event has already started."))
    before = db.session.scalar(select(CommunityEventRSVP.status).where(
        CommunityEventRSVP.event_id == event.id, CommunityEventRSVP.user_id == user.id))
    if status == "attending" and before != "attending" and is_full(event):
        raise EventFull(_("This event is full."))
    db.session.execute(_insert(CommunityEventRSVP).values(
        id=uuid.uuid4(), event_id=event.id, user_id=user.id, status=status, created_at=utcnow())
        .on_conflict_do_update(index_elements=["event_id", "user_id"], set_={"status": status}))
    _recount(event)
    return event


# --- reminders ------------------------------------------------------------------------

def send_event_reminders() -> int:
    """Remind, once, the people coming to events that start within a day (the sweep runs it)."""
    today = school_today()
    candidates = db.session.scalars(select(CommunityEvent.id).where(
        CommunityEvent.reminder_sent_at.is_(None), CommunityEvent.event_date >= today,
        CommunityEvent.event_date <= today + timedelta(days=1))).all()
    return sum(_remind(event_id) for event_id in candidates)


@use_case
def _remind(event_id: uuid.UUID) -> int:
    event = db.session.scalars(select(CommunityEvent).where(CommunityEvent.id == event_id)
                               .with_for_update(skip_locked=True)).first()
    if event is None or event.reminder_sent_at is not None:
        return 0
    now = utcnow()
    start = starts_at(event)
    if not (now < start <= now + REMINDER_BEFORE):
        return 0
    people = db.session.scalars(select(User).join(CommunityEventRSVP, CommunityEventRSVP.user_id == User.id).where(
        CommunityEventRSVP.event_id == event.id, CommunityEventRSVP.status.in_(("attending", "maybe")))).all()
    from babyowl.i18n import datetime_local

    notify(people, kind="event_reminder", title=_l("Tomorrow: %(title)s", title=event.title),
           message=_l("“%(title)s” starts %(when)s (%(where)s).", title=event.title,
                      when=datetime_local(start, "full"), where=event.location or ""),
           reference_id=event.id, link=path_for("community.show_event", event_id=event.id),
           event_key=f"event-reminder:{event.id}")
    event.reminder_sent_at = now
    return 1


# --- calendars ------------------------------------------------------------------------

def calendar_token(user: User) -> str:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=CALENDAR_SALT).dumps(str(user.id))


def calendar_owner(token: str) -> User:
    try:
        user = db.session.get(User, uuid.UUID(
            URLSafeSerializer(current_app.config["SECRET_KEY"], salt=CALENDAR_SALT).loads(token)))
    except (BadSignature, TypeError, ValueError):
        user = None
    if user is None or user.erased_at is not None or user.status != "active":
        raise NotFound(_("This calendar link is not valid."))
    return user


def _ics_event(event: CommunityEvent, status: str | None = None):
    from icalendar import Event

    item = Event()
    item.add("uid", f"{event.id}@babyowl")
    item.add("dtstamp", utcnow())
    item.add("dtstart", starts_at(event))
    item.add("dtend", ends_at(event))
    item.add("summary", event.title)
    if event.description:
        item.add("description", event.description)
    if event.location:
        item.add("location", event.location)
    item.add("url", current_app.config["PUBLIC_URL"].rstrip("/") + path_for("community.show_event",
                                                                            event_id=event.id))
    if status == "maybe":
        item.add("status", "TENTATIVE")
    return item


def _calendar(name: str):
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("prodid", "-//Baby Owl//Community events//ID")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    return calendar


def event_ics(event: CommunityEvent) -> bytes:
    calendar = _calendar(event.title)
    calendar.add_component(_ics_event(event))
    return calendar.to_ical()


def personal_ics(user: User) -> bytes:
    """The events `user` attends or may attend, from a month ago on."""
    rows = db.session.execute(
        select(CommunityEvent, CommunityEventRSVP.status).join(CommunityEventRSVP)
        .where(CommunityEventRSVP.user_id == user.id, CommunityEventRSVP.status.in_(("attending", "maybe")),
               CommunityEvent.event_date >= school_today() - timedelta(days=31))
        .order_by(CommunityEvent.event_date)).all()
    calendar = _calendar(str(_l("Baby Owl events")))
    for event, status in rows:
        calendar.add_component(_ics_event(event, status))
    return calendar.to_ical()
