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
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import BindParameter, Date, cast, distinct, func, literal, select, union

from babyowl.extensions import db
from babyowl.models import StreakRepair, UserLevel, XPTransaction
from babyowl.models.base import utcnow
from babyowl.services.errors import InvalidInput
from babyowl.transactions import use_case

REPAIR_EVERY_DAYS = 7


# The days read for a streak: about half a year back. A run (daily or weekly) that reaches further than
# that reads the rest of the history in one more statement, so the result is the same either way and the
# usual page reads a bounded number of rows however long the student's history is.
WINDOW_DAYS = 182


@dataclass
class Streak:
    days: int = 0
    start: date | None = None  # the first active day of the run
    active_today: bool = False
    repaired: list[date] = field(default_factory=list)  # days bridged automatically
    weeks: int = 0
    stopped_at: date | None = None  # the day the walk back stopped: the run cannot reach it


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
    streak.stopped_at = day
    if streak.days == 0:
        streak.repaired = []
    return streak


def _weekly(active: set[date], today: date) -> tuple[int, date]:
    """(weeks in a row, the Monday of the week that stopped the count)."""
    weeks = {d - timedelta(days=d.weekday()) for d in active}
    monday = today - timedelta(days=today.weekday())
    week = monday if monday in weeks else monday - timedelta(days=7)
    count = 0
    while week in weeks:
        count += 1
        week -= timedelta(days=7)
    return count, week


def weekly_run(active: set[date], today: date) -> int:
    return _weekly(active, today)[0]


def zone_named(name: str | None) -> ZoneInfo:
    """The zone streak days are counted in: the student's own (user_levels.time_zone), else the school's."""
    return ZoneInfo(name or current_app.config["SCHOOL_TIMEZONE"])


def zone_of(user_id: uuid.UUID) -> ZoneInfo:
    return zone_named(db.session.scalar(select(UserLevel.time_zone).where(UserLevel.user_id == user_id)))


def _activity_of(user_id) -> list:
    """The ledger rows that make a day active (`user_id` a value or a bound parameter)."""
    from babyowl.services.xp import ACTIVITY_REASONS

    # A bound value each, not one expanding IN, which a statement built once would expand on every execution.
    return [XPTransaction.user_id == user_id,
            XPTransaction.reason.in_([literal(reason) for reason in ACTIVITY_REASONS])]


def _local_day(zone_name):
    """The day, in `zone_name` (a name or a column), of each ledger row (PostgreSQL)."""
    return cast(func.timezone(zone_name, XPTransaction.created_at), Date)


def window_day_arrays(user_id, zone_name, earliest: BindParameter, earliest_day: BindParameter) -> tuple:
    """PostgreSQL only: `_days` as two array columns, (active local days, outage days) from `earliest` (a moment)
    and `earliest_day` on, for a page that reads them in a statement of its own with other things (the student's
    home). `zone_name` may be a column (user_levels.time_zone, falling back to the school's). NULL when none."""
    active = select(func.array_agg(distinct(_local_day(zone_name)))).where(*_activity_of(user_id),
                                                               XPTransaction.created_at >= earliest)
    outage = select(func.array_agg(StreakRepair.day)).where(StreakRepair.day >= earliest_day)
    return active.scalar_subquery(), outage.scalar_subquery()


def _days(user_id: uuid.UUID, zone: ZoneInfo, since: date | None) -> tuple[set[date], set[date]]:
    """(active days, outage days) from `since` on (None: all), in the zone: one statement on PostgreSQL,
    which turns the ledger's rows into distinct days itself (a student's history is many rows a day)."""
    mine = _activity_of(user_id)
    outage = select(StreakRepair.day, literal(True))
    if since is not None:
        mine.append(XPTransaction.created_at >= datetime.combine(since, time(), zone).astimezone(timezone.utc))
        outage = outage.where(StreakRepair.day >= since)
    if db.engine.dialect.name != "postgresql":  # the embedded SQLite knows no time zones: counted here
        days = {moment.astimezone(zone).date() for moment in db.session.scalars(
            select(XPTransaction.created_at).where(*mine))}
        return days, set(db.session.scalars(outage.with_only_columns(StreakRepair.day)))
    rows = db.session.execute(union(select(_local_day(zone.key), literal(False)).where(*mine), outage)).all()
    return {d for d, is_outage in rows if not is_outage}, {d for d, is_outage in rows if is_outage}


def streak_for(user_id: uuid.UUID, now: datetime | None = None, zone: ZoneInfo | None = None) -> Streak:
    """The student's daily and weekly streaks now; `zone` when the caller already knows it (`zone_named`)."""
    zone = zone or zone_of(user_id)
    today = (now or utcnow()).astimezone(zone).date()
    days, outage = _days(user_id, zone, window_start(today))
    return streak_from_window(user_id, zone, today, days, outage)


def window_start(today: date) -> date:
    return today - timedelta(days=WINDOW_DAYS)


def streak_from_window(user_id: uuid.UUID, zone: ZoneInfo, today: date, days: set[date], outage: set[date]
                       ) -> Streak:
    """The streaks from the window's active and outage days (a caller that read them with its own statement,
    from `window_start(today)` on or earlier: the days before the window are left out here, so a looser read
    gives the same answer)."""
    since = window_start(today)
    days = {day for day in days if day >= since}
    outage = {day for day in outage if day >= since}
    streak = daily_run(days, today, outage)
    streak.weeks, stopped_week = _weekly(days, today)
    # Exact when each run stopped on a day the window holds whole: the day and the one before it (a repair
    # looks back a day), the whole week. Else the run may go on before the window: read everything.
    if streak.stopped_at <= since or stopped_week < since:
        days, outage = _days(user_id, zone, None)
        streak = daily_run(days, today, outage)
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
