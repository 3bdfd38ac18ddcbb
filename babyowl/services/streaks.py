"""Streaks, computed when read from the XP ledger: no midnight job, nothing stored that could drift.

Rules
-----
- A day counts when the student did something that earned activity XP
  (exercise, lesson, quiz, coding, attendance), in the school's time zone or
  the student's own (user_levels.time_zone).
- The daily streak is the run of such days ending today, or yesterday (today
  is not over yet). One missing day is bridged automatically when the day
  before it was active, at most once per 7 days: no purchase, no guilt. A
  bridged day keeps the run alive but does not add to its length.
- Days staff repaired after an outage (`streak_repairs`, `flask streak-repair`)
  are bridged for everyone, without using the automatic repair.
- The weekly streak counts consecutive weeks (Monday to Sunday) with at least
  one active day, ending this week or last week: it suits classes meeting
  weekly.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from babyowl.extensions import db
from babyowl.models import StreakRepair, UserLevel, XPTransaction
from babyowl.models.base import utcnow
from babyowl.services.errors import InvalidInput
from babyowl.transactions import use_case

REPAIR_EVERY_DAYS = 7


@dataclass
class Streak:
    days: int = 0
    start: date | None = None  # the first active day of the run
    active_today: bool = False
    repaired: list[date] = field(default_factory=list)  # days bridged automatically
    weeks: int = 0


def daily_run(active: set[date], today: date, outage: set[date] = frozenset()) -> Streak:
    """The daily streak ending today or yesterday (pure: the tests and the page share it)."""
    streak = Streak(active_today=today in active)
    day = today if today in active else today - timedelta(days=1)
    last_repair: date | None = None
    while True:
        if day in active:
            streak.days += 1
            streak.start = day
        elif day in outage:
            pass  # a school-wide repair: bridged, not counted
        elif ((day - timedelta(days=1)) in active
              and (last_repair is None or (last_repair - day).days >= REPAIR_EVERY_DAYS)):
            last_repair = day
            streak.repaired.append(day)
        else:
            break
        day -= timedelta(days=1)
    if streak.days == 0:
        streak.repaired = []
    return streak


def weekly_run(active: set[date], today: date) -> int:
    weeks = {d - timedelta(days=d.weekday()) for d in active}
    monday = today - timedelta(days=today.weekday())
    week = monday if monday in weeks else monday - timedelta(days=7)
    count = 0
    while week in weeks:
        count += 1
        week -= timedelta(days=7)
    return count


def zone_of(user_id: uuid.UUID) -> ZoneInfo:
    name = db.session.scalar(select(UserLevel.time_zone).where(UserLevel.user_id == user_id))
    return ZoneInfo(name or current_app.config["SCHOOL_TIMEZONE"])


def active_days(user_id: uuid.UUID, zone: ZoneInfo, since: datetime | None = None) -> set[date]:
    from babyowl.services.xp import ACTIVITY_REASONS

    query = select(XPTransaction.created_at).where(XPTransaction.user_id == user_id,
                                                   XPTransaction.reason.in_(ACTIVITY_REASONS))
    if since is not None:
        query = query.where(XPTransaction.created_at >= since)
    return {moment.astimezone(zone).date() for moment in db.session.scalars(query)}


def outage_days() -> set[date]:
    return set(db.session.scalars(select(StreakRepair.day)))


def streak_for(user_id: uuid.UUID, now: datetime | None = None) -> Streak:
    zone = zone_of(user_id)
    today = (now or utcnow()).astimezone(zone).date()
    days = active_days(user_id, zone)
    streak = daily_run(days, today, outage_days())
    streak.weeks = weekly_run(days, today)
    return streak


@use_case
def repair_day(day: date, reason: str) -> StreakRepair:
    """Staff (the CLI): count `day` as active in every streak, e.g. after an outage. Safe to repeat."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why the day is repaired."))
    existing = db.session.get(StreakRepair, day)
    if existing is not None:
        return existing
    repair = StreakRepair(day=day, reason=reason)
    db.session.add(repair)
    return repair
