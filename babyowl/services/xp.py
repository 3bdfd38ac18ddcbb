"""XP: an append-only ledger that a refresh, a second tab, a resubmission or a regrade cannot farm.

Rules
-----
- XP is written by `award()`, an inner function that never commits: the use
  case that completes the thing calls it in its own transaction, so the work
  and its XP are saved together or not at all. One row per (user, reason,
  reference): `INSERT ... ON CONFLICT DO NOTHING` on that UNIQUE key, so the
  same completion sent twice (or by ten tabs at once) gives one row. Then, only
  if a row went in, `user_levels.total_xp` (a cache of the ledger's sum) is
  upserted in the same transaction: one statement on PostgreSQL (a CTE), no SELECT.
- What earns XP (amounts in settings, `XP_POINTS`): a material or video
  completed (its exercise), a lesson completed, a quiz passed (once; the
  first passing attempt's score scales the amount), a coding exercise first
  passed on the server, an assignment graded, attendance marked present or
  late, a streak milestone, a badge (its own `xp`), and staff bonuses.
- Graded work earns the best grade so far minus what it already earned, never
  negative: each increase of the best gets its own row keyed
  uuid5(exercise, "best:<grade>") (with `source_id` = the exercise), so a
  regrade 40 → 25 → 60 writes 40, nothing, 20, and a doubled grading of 60
  hits the UNIQUE key. The grading use case holds the student's progress row
  lock, so two graders take turns.
- Attendance: one award per mark (keyed by the attendance row), given when the
  mark becomes present or late. A mark later corrected to absent keeps its XP:
  a child is never penalised for the staff's correction, and marking present
  again cannot earn twice (same key). Staff remove XP given in error with a
  bonus removal.
- Staff bonus: `give_bonus()` adds or removes XP with a reason (`note`) and who
  did it (`awarded_by`): the audit is the ledger itself. A removal can never
  take a student below 0 XP.
- Levels are derived from total XP and the curve in settings (`babyowl.levels`),
  never stored. Streaks are computed from the ledger when read
  (`services/streaks.py`). After the commit, the class leaderboards in Redis
  are updated and an achievements job (badges, streak milestones) is queued.
- The cache can always be rebuilt from the ledger (`flask xp-rebuild`).
"""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Integer, Uuid, bindparam, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from babyowl.authz import is_staff
from babyowl.extensions import db
from babyowl.levels import LevelInfo, level_for
from babyowl.models import ClassEnrollment, Lesson, SchoolClass, Section, User, UserLevel, XPTransaction
from babyowl.models.base import utcnow
from babyowl.services import statements
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.listing import Key, Slice, keyset_page
from babyowl.transactions import after_commit, use_case

MAX_BONUS = 1000
MAX_NOTE = 500
# The reasons that are something the student did that day (streaks count them).
ACTIVITY_REASONS = ("exercise_completed", "lesson_completed", "quiz_passed", "coding_passed", "attendance")
# Awards that may earn a badge or a streak milestone (a badge's own XP does not start another check).
_CHECKED_AFTER = set(ACTIVITY_REASONS) | {"assignment_graded", "bonus"}
_USE_CASE_STATE = "babyowl.use_case"  # babyowl.transactions' per-use-case state, to queue one check per user


class StudentNotFound(DomainError):
    status_code = 404


def _insert(model):
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def points(name: str) -> int:
    return int(current_app.config["XP_POINTS"].get(name, 0))


def level_info(total_xp: int) -> LevelInfo:
    config = current_app.config
    return level_for(total_xp, config["XP_LEVEL_BASE"], config["XP_LEVEL_COEF"])


# ---------------------------------------------------------------------------
# The one way XP is written (inside the caller's use case)

def award(user_id: uuid.UUID, reason: str, reference_id: uuid.UUID, amount: int, *,
          class_id: uuid.UUID | None = None, source_id: uuid.UUID | None = None,
          awarded_by: uuid.UUID | None = None, note: str | None = None, at: datetime | None = None,
          along: tuple = (), along_params: dict | None = None) -> bool:
    """Write one ledger row unless (user, reason, reference) already has one; True when it went in.

    Does not commit. One statement on PostgreSQL (the INSERT and the cache
    upsert together, `_write`), two on SQLite; the leaderboard and the achievements job
    follow after the caller's commit. Inside a savepoint, call it last: a
    savepoint rolled back after it would drop the row but not the Redis update.

    `along`: the caller's own writes (`services/statements.py`, with `along_params`), sent in the same
    statement on PostgreSQL (a tap's mark and its XP in one round trip); they run whether or not the row goes in.
    """
    amount = int(amount)
    if amount == 0:
        statements.run_together(along, along_params or {})
        return False
    now = at or utcnow()  # `at`: the demo and the benchmark write history
    if not _write(dict(id=uuid.uuid4(), user_id=user_id, amount=amount, reason=reason, reference_id=reference_id,
                       class_id=class_id, source_id=source_id, awarded_by=awarded_by, note=note, created_at=now),
                  along, along_params or {}):
        return False
    from babyowl.services import leaderboards

    after_commit(leaderboards.record, user_id, class_id, amount, now)
    if reason in _CHECKED_AFTER:
        _check_achievements_after_commit(user_id)
    return True


_LEDGER, _LEVELS = XPTransaction.__table__, UserLevel.__table__


def _p(name: str) -> str:
    # Prefixed: a caller's writes may share the statement (`along`), and a DML statement takes a parameter
    # named as one of its table's columns as a value to set.
    return "xp_" + name


@functools.cache
def _statements(dialect: str) -> tuple:
    """(ledger INSERT, cache upsert) built once with their parameters bound per award; on PostgreSQL the
    second statement holds the first (a data-modifying CTE) and the first is None."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    added = (insert(_LEDGER).values({name: bindparam(_p(name), type_=column.type)
                                     for name, column in _LEDGER.c.items()})
             .on_conflict_do_nothing(index_elements=["user_id", "reason", "reference_id"])
             .returning(_LEDGER.c.amount))
    grown = {"total_xp": _LEVELS.c.total_xp + bindparam(_p("amount"), type_=Integer),
             "updated_at": bindparam(_p("created_at"), type_=_LEDGER.c.created_at.type)}
    # The proposed row is checked even when it conflicts: a removal proposes 0, then updates the sum.
    columns = ["id", "user_id", "total_xp", "updated_at", "leaderboard_opt_out"]
    values = [bindparam(_p("level_id"), type_=Uuid), bindparam(_p("user_id"), type_=Uuid),
              bindparam(_p("proposed"), type_=Integer), bindparam(_p("created_at"), type_=_LEDGER.c.created_at.type),
              literal(False)]
    if dialect != "postgresql":  # SQLite has no data-modifying CTE: two statements
        return added, insert(_LEVELS).values(dict(zip(columns, values))).on_conflict_do_update(
            index_elements=["user_id"], set_=grown)
    added = added.cte("added")
    values[2] = func.greatest(added.c.amount, 0)
    return None, (insert(_LEVELS).from_select(columns, select(*values).select_from(added))
                  .on_conflict_do_update(index_elements=["user_id"], set_=grown)
                  .returning(_LEVELS.c.user_id).add_cte(added))


def _write(row: dict, along: tuple = (), along_params: dict | None = None) -> bool:
    """The ledger row unless its key is taken, and then the cache; True when the row went in.

    Plain Core statements, built once (no ORM objects are made). On PostgreSQL one statement: the ledger
    INSERT is a CTE whose RETURNING feeds the cache's upsert, so a taken key upserts nothing and returns no
    row (a tap or a quiz pass paid two round trips and the ORM's insert machinery for this, issue 22).
    The caller's `along` writes go in the same statement there, before the ledger's on SQLite.
    """
    db.session.flush()  # the caller's pending rows first, as an ORM statement's autoflush would
    ledger, cache = _statements(db.engine.dialect.name)
    params = {_p(name): value for name, value in row.items()}
    params[_p("level_id")], params[_p("proposed")] = uuid.uuid4(), max(row["amount"], 0)
    if ledger is None:
        if along:
            cache, params = statements.with_writes(cache, along), {**params, **(along_params or {})}
    else:
        statements.run_together(along, along_params or {})
        if db.session.execute(ledger, params).first() is None:
            return False
    written = db.session.execute(cache, params)
    return ledger is not None or written.first() is not None


def _check_achievements_after_commit(user_id: uuid.UUID) -> None:
    state = db.session.info.get(_USE_CASE_STATE)
    queued = state.setdefault("xp_checks", set()) if state is not None else set()
    if user_id in queued:
        return
    queued.add(user_id)
    from babyowl.jobs.gamification import queue_achievements

    after_commit(queue_achievements, user_id)


def class_for_work(student_id: uuid.UUID, lesson: Lesson) -> uuid.UUID | None:
    """The class whose leaderboard counts work on `lesson`: the student's latest active class on its course."""
    return db.session.scalar(
        select(ClassEnrollment.class_id).join(SchoolClass, SchoolClass.id == ClassEnrollment.class_id)
        .join(Section, Section.course_id == SchoolClass.course_id)
        .where(ClassEnrollment.student_id == student_id, ClassEnrollment.status == "active",
               Section.id == lesson.section_id)
        .order_by(ClassEnrollment.enrolled_at.desc()).limit(1))


# --- the awards of each kind of work ---------------------------------------

def for_exercise(user_id: uuid.UUID, exercise_id: uuid.UUID, class_id: uuid.UUID | None) -> bool:
    return award(user_id, "exercise_completed", exercise_id, points("exercise_completed"), class_id=class_id)


def for_lesson(user_id: uuid.UUID, lesson_id: uuid.UUID, class_id: uuid.UUID | None) -> bool:
    return award(user_id, "lesson_completed", lesson_id, points("lesson_completed"), class_id=class_id)


def for_quiz(user_id: uuid.UUID, exercise_id: uuid.UUID, score: int, max_score: int,
             class_id: uuid.UUID | None) -> bool:
    """A passed quiz, once: the first passing attempt's score scales the amount (at least 1 XP)."""
    full = points("quiz_passed")
    amount = max(1, round(full * score / max_score)) if max_score else full
    return award(user_id, "quiz_passed", exercise_id, amount, class_id=class_id)


def for_coding(user_id: uuid.UUID, exercise_id: uuid.UUID, class_id: uuid.UUID | None) -> bool:
    return award(user_id, "coding_passed", exercise_id, points("coding_passed"), class_id=class_id)


def for_attendance(user_id: uuid.UUID, attendance_id: uuid.UUID, status: str, class_id: uuid.UUID, *,
                   along: tuple = (), along_params: dict | None = None) -> bool:
    """`along`: the tap's own writes, sent with the award (see `award`)."""
    return award(user_id, "attendance", attendance_id, points(f"attendance_{status}"), class_id=class_id,
                 along=along, along_params=along_params)


def grade_increment_key(exercise_id: uuid.UUID, best: int) -> uuid.UUID:
    return uuid.uuid5(exercise_id, f"best:{best}")


def for_grade(user_id: uuid.UUID, exercise_id: uuid.UUID, grade: int, max_grade: int,
              class_id: uuid.UUID | None) -> int:
    """Award the best grade so far minus what this assignment already earned; returns the XP written (>= 0).

    The caller holds the student's progress row for the exercise (the grading
    use case does), so "already earned" cannot change underneath.
    """
    best = round(points("assignment_graded") * grade / max_grade) if max_grade else 0
    already = db.session.scalar(select(func.coalesce(func.sum(XPTransaction.amount), 0)).where(
        XPTransaction.user_id == user_id, XPTransaction.reason == "assignment_graded",
        XPTransaction.source_id == exercise_id)) or 0
    increase = best - already
    if increase <= 0:
        return 0
    written = award(user_id, "assignment_graded", grade_increment_key(exercise_id, best), increase,
                    class_id=class_id, source_id=exercise_id)
    return increase if written else 0


# ---------------------------------------------------------------------------
# Staff: bonus XP (the spec's "earn XP"), audited in the ledger

def student_for_bonus(actor: User, student_id: uuid.UUID) -> User:
    if not is_staff(actor):
        raise NotAllowed(_("Only staff give or remove bonus XP."))
    student = db.session.get(User, student_id)
    if student is None or student.role != "student" or student.erased_at is not None:
        raise StudentNotFound(_("This student does not exist."))
    return student


@use_case
def give_bonus(actor: User, student_id: uuid.UUID, amount: int, note: str,
               class_id: uuid.UUID | None = None, reference: uuid.UUID | None = None) -> XPTransaction:
    """Add (amount > 0) or remove (amount < 0) XP with a reason; a removal never goes below 0 XP.

    `reference`: the caller's key for this award (an app retrying a request): sent again, the ledger's UNIQUE
    (user, reason, reference) makes it the same row, even when the two requests run at once. Without it every
    call is a new award (a page's form posts once).
    """
    student = student_for_bonus(actor, student_id)
    note = (note or "").strip()
    if not isinstance(amount, int) or amount == 0 or abs(amount) > MAX_BONUS:
        raise InvalidInput(_("Give an amount from -%(max)d to %(max)d, not 0.", max=MAX_BONUS))
    if not note:
        raise InvalidInput(_("Say why (the student sees it in their history)."))
    if len(note) > MAX_NOTE:
        raise InvalidInput(_("Keep the reason under %(max)d characters.", max=MAX_NOTE))
    if class_id is not None and not db.session.scalar(select(func.count()).select_from(ClassEnrollment).where(
            ClassEnrollment.class_id == class_id, ClassEnrollment.student_id == student.id)):
        raise InvalidInput(_("The student is not in this class."))
    level = None
    if amount < 0:  # the balance row locked first: a retry waits for the award it repeats
        level = db.session.scalars(select(UserLevel).where(UserLevel.user_id == student.id)
                                   .with_for_update().execution_options(populate_existing=True)).first()
    if reference is not None and (given := _bonus_row(student.id, reference)) is not None:
        return given  # a retry: before the balance check, since that award itself changed the balance
    if amount < 0 and (have := level.total_xp if level else 0) + amount < 0:
        raise InvalidInput(_("The student has only %(n)d XP to remove.", n=have))
    reference = reference or uuid.uuid4()
    award(student.id, "bonus", reference, amount, class_id=class_id, awarded_by=actor.id, note=note)
    return _bonus_row(student.id, reference)


def _bonus_row(student_id: uuid.UUID, reference: uuid.UUID) -> XPTransaction | None:
    return db.session.scalars(select(XPTransaction).where(
        XPTransaction.user_id == student_id, XPTransaction.reason == "bonus",
        XPTransaction.reference_id == reference)).first()


# ---------------------------------------------------------------------------
# Reading

@dataclass
class Standing:
    user_id: uuid.UUID
    total_xp: int
    info: LevelInfo
    opted_out: bool = False
    time_zone: str | None = None


def standing(user_id: uuid.UUID) -> Standing:
    row = db.session.execute(select(UserLevel.total_xp, UserLevel.leaderboard_opt_out, UserLevel.time_zone)
                             .where(UserLevel.user_id == user_id)).first()
    return standing_from(user_id, *(row or (0, False, None)))


def standing_from(user_id: uuid.UUID, total_xp: int | None, opted_out: bool | None, time_zone: str | None
                  ) -> Standing:
    """The standing from user_levels' columns, read by the caller (all None: no row yet, nothing earned)."""
    return Standing(user_id, total_xp or 0, level_info(total_xp or 0), bool(opted_out), time_zone)


_NEWEST_FIRST = (Key(XPTransaction.created_at, datetime, descending=True),
                 Key(XPTransaction.id, uuid.UUID, descending=True))


def history(user_id: uuid.UUID, limit: int = 50) -> list[XPTransaction]:
    """The latest `limit` rows of the ledger, newest first."""
    query = select(XPTransaction).where(XPTransaction.user_id == user_id)
    return list(db.session.scalars(query.order_by(*(key.column.desc() for key in _NEWEST_FIRST)).limit(limit)))


def history_after(user_id: uuid.UUID, *, after: list | None = None, limit: int = 20) -> Slice:
    """One keyset page of the ledger, newest first."""
    return keyset_page(select(XPTransaction).where(XPTransaction.user_id == user_id), _NEWEST_FIRST, after=after,
                       limit=limit)


# ---------------------------------------------------------------------------
# The cache, rebuilt from the ledger

def rebuild_levels() -> int:
    """Make every user_levels.total_xp equal its ledger sum (creating missing rows); returns rows changed."""
    sums = dict(db.session.execute(select(XPTransaction.user_id, func.sum(XPTransaction.amount))
                                   .group_by(XPTransaction.user_id)).all())
    changed = 0
    levels = {row.user_id: row for row in db.session.scalars(select(UserLevel).with_for_update())}
    for user_id, row in levels.items():
        want = max(0, int(sums.get(user_id, 0)))
        if row.total_xp != want:
            row.total_xp = want
            changed += 1
    for user_id, total in sums.items():
        if user_id not in levels:
            db.session.add(UserLevel(user_id=user_id, total_xp=max(0, int(total))))
            changed += 1
    return changed


@use_case
def rebuild_levels_use_case() -> int:
    return rebuild_levels()

