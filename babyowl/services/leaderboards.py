"""Class leaderboards: per class, off by default, never a school-wide ranking of children.

Rules
-----
- A class's board counts the XP earned in that class (`xp_transactions.class_id`),
  all time or this week (Monday to Sunday in the school's time zone).
- Modes per class (`class_leaderboards`, set by staff or the class's
  instructor): `off` (the default: students see no board), `anonymous` (every
  other student is "Student <rank>"), `neighbours` (only the N places above
  and below the student, also anonymous), `full` (names). A student may opt
  out: others never see them; staff and the class's instructor always see
  everyone with real names (and who opted out).
- Who may open a board: the class's students (not withdrawn), its instructor,
  staff; to anyone else the class does not exist (404).
- Storage: a Redis sorted set per class (`lb:<class>:all`) and per class and
  week (`lb:<class>:week:<YYYY-Www>`), incremented after the commit of each
  award, only once the class's board was built (`lb:<class>:built`); the first
  read builds it from the ledger, and `flask leaderboards-rebuild` rebuilds
  every board (the result equals the live board). Without Redis
  (LEADERBOARD_REDIS_URL or REDIS_URL unset, e.g. the SQLite demo), or when it
  does not answer, the board is a SQL aggregate of the ledger: the same
  numbers, one GROUP BY.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from babyowl.authz import is_staff
from babyowl.extensions import db
from babyowl.models import (
    LEADERBOARD_MODES, ClassEnrollment, ClassLeaderboard, SchoolClass, User, UserLevel, XPTransaction,
)
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.transactions import use_case

log = logging.getLogger(__name__)

PERIODS = ("all", "week")
WEEK_KEEP_SECONDS = 6 * 7 * 24 * 3600
_CONNECTION = "babyowl.leaderboard_redis"
_REDIS_ERRORS: tuple = (OSError,)
try:  # redis is a dependency; the guard keeps the SQL fallback importable everywhere
    from redis.exceptions import RedisError

    _REDIS_ERRORS = (RedisError, OSError)
except ImportError:  # pragma: no cover
    pass

# Increment only a board that was built (else the first read builds it whole from the ledger).
_RECORD = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('ZINCRBY', KEYS[2], ARGV[1], ARGV[2])
  redis.call('ZINCRBY', KEYS[3], ARGV[1], ARGV[2])
  redis.call('EXPIRE', KEYS[3], ARGV[3])
  return 1
end
return 0
"""


class ClassNotFound(DomainError):
    status_code = 404


# ---------------------------------------------------------------------------
# Redis

def redis_client():
    """The leaderboards' Redis, or None (then boards are SQL aggregates)."""
    config = current_app.config
    url = config.get("LEADERBOARD_REDIS_URL") or config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get(_CONNECTION)
    if client is None or current_app.extensions.get(_CONNECTION + ".url") != url:
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        timeout = config.get("REDIS_TIMEOUT", 1)
        client = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                retry=Retry(NoBackoff(), 0), decode_responses=True)
        current_app.extensions[_CONNECTION] = client
        current_app.extensions[_CONNECTION + ".url"] = url
    return client


def week_of(moment: datetime) -> str:
    local = moment.astimezone(ZoneInfo(current_app.config["SCHOOL_TIMEZONE"]))
    year, week, _day = local.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(moment: datetime) -> datetime:
    """The UTC instant this school week began (Monday 00:00 school time)."""
    zone = ZoneInfo(current_app.config["SCHOOL_TIMEZONE"])
    local_day = moment.astimezone(zone).date()
    monday = local_day - timedelta(days=local_day.weekday())
    return datetime.combine(monday, time(0), tzinfo=zone).astimezone(timezone.utc)


def _keys(class_id: uuid.UUID, week: str) -> tuple[str, str, str]:
    base = f"lb:{class_id}"
    return f"{base}:built", f"{base}:all", f"{base}:week:{week}"


def record(user_id: uuid.UUID, class_id: uuid.UUID | None, amount: int, when: datetime) -> None:
    """After an award's commit: add it to the class's boards (if built); a Redis error is only logged."""
    if class_id is None:
        return
    client = redis_client()
    if client is None:
        return
    try:
        client.eval(_RECORD, 3, *_keys(class_id, week_of(when)), amount, str(user_id), WEEK_KEEP_SECONDS)
    except _REDIS_ERRORS:
        log.warning("Leaderboard of class %s not updated (Redis unreachable); rebuild it with "
                    "`flask leaderboards-rebuild`", class_id, exc_info=True)


def sql_scores(class_id: uuid.UUID, since: datetime | None = None) -> dict[uuid.UUID, int]:
    """XP per student earned in the class (since `since`): the SQL aggregate, one GROUP BY."""
    query = (select(XPTransaction.user_id, func.sum(XPTransaction.amount))
             .where(XPTransaction.class_id == class_id).group_by(XPTransaction.user_id))
    if since is not None:
        query = query.where(XPTransaction.created_at >= since)
    return {user_id: int(total) for user_id, total in db.session.execute(query) if total}


def rebuild(class_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Replace the class's Redis boards with the ledger's sums; False without Redis."""
    client = redis_client()
    if client is None:
        return False
    from babyowl.models.base import utcnow

    now = now or utcnow()
    built, all_key, week_key = _keys(class_id, week_of(now))
    everything = sql_scores(class_id)
    this_week = sql_scores(class_id, week_start(now))
    pipe = client.pipeline(transaction=True)
    pipe.delete(all_key, week_key)
    if everything:
        pipe.zadd(all_key, {str(k): v for k, v in everything.items()})
    if this_week:
        pipe.zadd(week_key, {str(k): v for k, v in this_week.items()})
        pipe.expire(week_key, WEEK_KEEP_SECONDS)
    pipe.set(built, "1")
    pipe.execute()
    return True


def rebuild_all() -> int:
    class_ids = db.session.scalars(select(SchoolClass.id)).all()
    return sum(rebuild(class_id) for class_id in class_ids)


def redis_scores(class_id: uuid.UUID, period: str, now: datetime) -> dict[uuid.UUID, int] | None:
    client = redis_client()
    if client is None:
        return None
    built, all_key, week_key = _keys(class_id, week_of(now))
    try:
        if not client.exists(built):
            rebuild(class_id, now)
        rows = client.zrange(all_key if period == "all" else week_key, 0, -1, withscores=True)
    except _REDIS_ERRORS:
        log.warning("Leaderboard of class %s read from SQL (Redis unreachable)", class_id, exc_info=True)
        return None
    return {uuid.UUID(member): int(score) for member, score in rows if int(score)}


def scores(class_id: uuid.UUID, period: str = "all", now: datetime | None = None) -> dict[uuid.UUID, int]:
    from babyowl.models.base import utcnow

    now = now or utcnow()
    found = redis_scores(class_id, period, now)
    if found is not None:
        return found
    return sql_scores(class_id, week_start(now) if period == "week" else None)


def forget_user(user_id: uuid.UUID) -> None:
    """Remove an erased person from every board in Redis (after the erasure's commit)."""
    client = redis_client()
    if client is None:
        return
    try:
        for key in client.scan_iter(match="lb:*"):
            if not key.endswith(":built"):
                client.zrem(key, str(user_id))
    except _REDIS_ERRORS:
        log.warning("Erased user %s still on Redis leaderboards; run `flask leaderboards-rebuild`", user_id)


# ---------------------------------------------------------------------------
# Who sees which board, and how

def settings_for(class_id: uuid.UUID) -> ClassLeaderboard:
    return db.session.get(ClassLeaderboard, class_id) or ClassLeaderboard(class_id=class_id, mode="off",
                                                                          neighbours=2)


def sees_names(viewer: User, school_class: SchoolClass) -> bool:
    """Staff and the class's instructor always see everyone, by name."""
    return is_staff(viewer) or (viewer.role == "instructor" and school_class.instructor_id == viewer.id)


def class_for(viewer: User, class_id: uuid.UUID) -> SchoolClass:
    school_class = db.session.get(SchoolClass, class_id)
    if school_class is not None and (sees_names(viewer, school_class) or (
            viewer.role == "student" and db.session.scalar(select(func.count()).select_from(ClassEnrollment).where(
                ClassEnrollment.class_id == class_id, ClassEnrollment.student_id == viewer.id,
                ClassEnrollment.status != "withdrawn")))):
        return school_class
    raise ClassNotFound(_("This class does not exist."))


def classes_for(viewer: User) -> list[SchoolClass]:
    """The class chooser: a student's classes, an instructor's, every running class for staff."""
    query = select(SchoolClass).order_by(SchoolClass.name)
    if viewer.role == "student":
        query = query.join(ClassEnrollment, ClassEnrollment.class_id == SchoolClass.id).where(
            ClassEnrollment.student_id == viewer.id, ClassEnrollment.status != "withdrawn")
    elif viewer.role == "instructor":
        query = query.where(SchoolClass.instructor_id == viewer.id)
    else:
        query = query.where(SchoolClass.status.in_(("enrollment_open", "active", "completed")))
    return list(db.session.scalars(query))


@dataclass
class Row:
    rank: int
    label: str  # a name, or "Student 7"
    xp: int
    is_me: bool = False
    opted_out: bool = False
    user_id: uuid.UUID | None = None  # only when the viewer may see who it is


@dataclass
class Board:
    school_class: SchoolClass
    period: str
    mode: str
    neighbours: int
    rows: list[Row] = field(default_factory=list)
    visible: bool = True  # False: the board is off for this viewer
    names: bool = False  # the viewer sees real names
    me_opted_out: bool = False
    can_configure: bool = False


def board(viewer: User, class_id: uuid.UUID, period: str = "all") -> Board:
    school_class = class_for(viewer, class_id)
    period = period if period in PERIODS else "all"
    settings = settings_for(class_id)
    names = sees_names(viewer, school_class)
    result = Board(school_class, period, settings.mode, settings.neighbours, names=names, can_configure=names)
    if not names and settings.mode == "off":
        result.visible = False
        return result
    members = db.session.execute(
        select(User.id, User.full_name, func.coalesce(UserLevel.leaderboard_opt_out, False))
        .join(ClassEnrollment, ClassEnrollment.student_id == User.id)
        .outerjoin(UserLevel, UserLevel.user_id == User.id)
        .where(ClassEnrollment.class_id == class_id, ClassEnrollment.status != "withdrawn",
               User.erased_at.is_(None))).all()
    points = scores(class_id, period)
    me_opted_out = any(uid == viewer.id and out for uid, _name, out in members)
    result.me_opted_out = me_opted_out
    shown = [(uid, name, bool(out)) for uid, name, out in members
             if names or not out or uid == viewer.id]
    shown.sort(key=lambda m: (-points.get(m[0], 0), m[1].lower(), str(m[0])))
    rows: list[Row] = []
    previous, rank = None, 0
    for position, (uid, name, out) in enumerate(shown, start=1):
        xp = points.get(uid, 0)
        if xp != previous:
            rank, previous = position, xp
        me = uid == viewer.id
        if names or me or settings.mode == "full":
            rows.append(Row(rank, name, xp, is_me=me, opted_out=out, user_id=uid))
        else:
            rows.append(Row(rank, _("Student %(n)d", n=position), xp))
    if not names and settings.mode == "neighbours":
        mine = next((i for i, row in enumerate(rows) if row.is_me), None)
        if mine is None:
            rows = []
        else:
            rows = rows[max(0, mine - settings.neighbours): mine + settings.neighbours + 1]
    result.rows = rows
    return result


@use_case
def configure(actor: User, class_id: uuid.UUID, mode: str, neighbours: int) -> ClassLeaderboard:
    """Staff or the class's instructor choose how the class's board shows."""
    school_class = db.session.get(SchoolClass, class_id)
    if school_class is None:
        raise ClassNotFound(_("This class does not exist."))
    if not sees_names(actor, school_class):
        raise NotAllowed(_("Only staff or the class's instructor change its leaderboard."))
    if mode not in LEADERBOARD_MODES:
        raise InvalidInput(_("Choose how the leaderboard shows."))
    if not isinstance(neighbours, int) or not 1 <= neighbours <= 10:
        raise InvalidInput(_("Show from 1 to 10 places above and below."))
    settings = db.session.get(ClassLeaderboard, class_id, with_for_update=True)
    if settings is None:
        settings = ClassLeaderboard(class_id=class_id)
        db.session.add(settings)
    settings.mode, settings.neighbours = mode, neighbours
    return settings


def _check_zone(name: str | None) -> str | None:
    name = (name or "").strip() or None
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise InvalidInput(_("Choose a time zone from the list.")) from None
    return name


@use_case
def set_preferences(student: User, *, opt_out: bool, time_zone: str | None) -> UserLevel:
    """A student hides from class leaderboards, or sets the time zone their streak days are counted in."""
    from babyowl.services.xp import _insert

    if student.role != "student":
        raise NotAllowed(_("Only students have leaderboard settings."))
    zone = _check_zone(time_zone)
    db.session.execute(_insert(UserLevel).values(id=uuid.uuid4(), user_id=student.id, total_xp=0)
                       .on_conflict_do_nothing(index_elements=["user_id"]))
    row = db.session.scalars(select(UserLevel).where(UserLevel.user_id == student.id).with_for_update()
                             .execution_options(populate_existing=True)).one()
    row.leaderboard_opt_out, row.time_zone = bool(opt_out), zone
    return row


def today_in(zone: str | None) -> date:
    from babyowl.models.base import utcnow

    return utcnow().astimezone(ZoneInfo(zone or current_app.config["SCHOOL_TIMEZONE"])).date()
