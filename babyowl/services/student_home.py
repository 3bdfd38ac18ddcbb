"""The student's home (dashboard): what to do next and how far they have come, on one phone screen.

Read-only. Per active class: the next lesson to do (the first unlocked lesson
not completed) with its one button, the next meeting and the credits left;
then level, XP bar, streaks, recent badges and the latest announcements. A
fixed number of queries whatever the student's history.

It is the page students open most (issue 22), so it reads plain columns, not
ORM objects, with statements built once. On PostgreSQL the whole page is one
statement: the class cards (one row a class, the database counting its lessons
and choosing the next one), the recent badges and the latest announcements as
ordered arrays, beside the level and the streak's window of days (see
services/streaks.py). SQLite, which has no arrays, reads the cards in one
statement and asks each service in turn. The rules are the same as the progress
pages' (`progress.MyClassProgress`): a lesson is completed when all its
exercises are, the next lesson is the first unlocked one not completed; the
badges, the announcements and the streak's days are the rows their services
choose.
"""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import Date, DateTime, String, Uuid, and_, bindparam, exists, func, not_, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import aliased

from babyowl.extensions import db
from babyowl.models import (
    ClassEnrollment, Course, Exercise, ExerciseProgress, Lesson, LessonUnlock, SchoolClass, Section, User, UserLevel,
)
from babyowl.models.base import utcnow
from babyowl.services import announcements, badges, streaks, xp


class CardLesson(NamedTuple):
    id: uuid.UUID
    title: str


class CardCourse(NamedTuple):
    title: str


class CardClass(NamedTuple):
    """What a card shows of its class (and what `classes.next_meeting_day` reads)."""
    id: uuid.UUID
    name: str
    course: CardCourse
    schedule: dict[str, Any] | None
    status: str
    start_date: date | None
    end_date: date | None


class HomeBadge(NamedTuple):
    """What a badge's icon and name read of a Badge (`_badge_icon.html`, `badges.name_of`)."""
    id: uuid.UUID
    slug: str
    name: str
    image_url: str | None
    rarity: str


class HomeClassName(NamedTuple):
    name: str


class HomeAnnouncement(NamedTuple):
    """What `announcements/_student_list.html` reads of an Announcement."""
    id: uuid.UUID
    title: str
    school_class: HomeClassName
    sent_at: datetime


@dataclass
class ClassCard:
    school_class: CardClass
    credits_remaining: int
    next_lesson: CardLesson | None
    next_meeting: date | None
    lessons_completed: int
    lessons_open: int


@dataclass
class StudentHome:
    student: User
    standing: xp.Standing
    streak: streaks.Streak
    cards: list[ClassCard] = field(default_factory=list)
    recent_badges: list[Any] = field(default_factory=list)  # HomeBadge, or Badge on SQLite
    announcements: list[tuple[Any, bool]] = field(default_factory=list)  # (HomeAnnouncement or Announcement, read)

    @property
    def next_step(self) -> ClassCard | None:
        """The one button at the top: the first class with a lesson waiting."""
        return next((card for card in self.cards if card.next_lesson is not None), None)


RECENT_BADGES = 3
LATEST_ANNOUNCEMENTS = 5


def _cards(student_id, *, lateral: bool = False):
    """One row a card: the student's active classes (place: newest enrollment first), with the lesson counts
    and the next lesson worked out by the database: a course has dozens of lessons, and a row each cost more
    to read than to count."""
    # The lesson is completed when all its exercises are (`progress.LessonCell`): of its exercises (total),
    # those the student completed (done, one progress row each at most).
    total, done = func.count(), func.count(ExerciseProgress.id)
    completed = (select(and_(total > 0, done >= total)).select_from(Exercise)
                 .outerjoin(ExerciseProgress, and_(ExerciseProgress.exercise_id == Exercise.id,
                                                   ExerciseProgress.user_id == student_id,
                                                   ExerciseProgress.completed.is_(True)))
                 .where(Exercise.lesson_id == Lesson.id).scalar_subquery())
    unlocked = (exists().where(LessonUnlock.class_id == ClassEnrollment.class_id, LessonUnlock.lesson_id == Lesson.id)
                .correlate_except(LessonUnlock))  # the enrollment two levels up, the lesson one

    def of_the_course(*where):
        return (select(func.count()).select_from(Lesson).join(Section, Section.id == Lesson.section_id)
                .where(Section.course_id == SchoolClass.course_id, *where).scalar_subquery())

    # The first unlocked lesson not completed, in the course's order.
    waiting = (select(Lesson.id.label("next_id"), Lesson.title.label("next_title"))
               .join(Section, Section.id == Lesson.section_id)
               .where(Section.course_id == SchoolClass.course_id, unlocked, not_(completed))
               .order_by(Section.order_index, Lesson.order_index).limit(1))
    if lateral:
        # PostgreSQL reads it once per card through the lessons' keys; joined on a subquery's answer (SQLite's
        # way) it hashed every lesson of the school on every visit.
        next_lesson = waiting.lateral("next_lesson")
        next_columns, next_on = (next_lesson.c.next_id, next_lesson.c.next_title), true()
    else:
        next_lesson = aliased(Lesson, name="next_lesson")
        next_columns = (next_lesson.id.label("next_id"), next_lesson.title.label("next_title"))
        next_on = next_lesson.id == waiting.with_only_columns(Lesson.id).scalar_subquery()
    return (select(ClassEnrollment.class_id, ClassEnrollment.meeting_credits, ClassEnrollment.credits_used,
                   SchoolClass.name, Course.title.label("course_title"), SchoolClass.schedule, SchoolClass.status,
                   SchoolClass.start_date, SchoolClass.end_date, of_the_course(completed).label("completed"),
                   of_the_course(unlocked).label("open"), *next_columns,
                   func.row_number().over(order_by=(ClassEnrollment.enrolled_at.desc(), ClassEnrollment.id))
                   .label("place"))
            .join(SchoolClass, SchoolClass.id == ClassEnrollment.class_id)
            .join(Course, Course.id == SchoolClass.course_id)
            .outerjoin(next_lesson, next_on)
            .where(ClassEnrollment.student_id == student_id, ClassEnrollment.status == "active"))


def _card(class_id, credits, used, name, course_title, schedule, status, start, end, completed, open_, next_id,
          next_title) -> ClassCard:
    from babyowl.services.classes import next_meeting_day

    school_class = CardClass(class_id, name, CardCourse(course_title), schedule, status, start, end)
    return ClassCard(school_class, (credits or 0) - (used or 0),
                     CardLesson(next_id, next_title) if next_id is not None else None,
                     next_meeting_day(school_class), completed, open_)


_CARD_FIELDS = 13  # `_card`'s: the columns of `_cards` but its place


@functools.cache
def _cards_statement():
    """SQLite's: the cards alone, built once with the student bound per request."""
    cards = _cards(bindparam("student_id", type_=Uuid)).subquery("cards")
    return select(*(column for column in cards.c if column.key != "place")).order_by(cards.c.place)


def _as_arrays(rows, name: str):
    """One row: each column of `rows` (a list with its `place`) as an array, in the list's order."""
    listed = rows.subquery()
    return select(*(func.array_agg(aggregate_order_by(column, listed.c.place)).label(column.key)
                    for column in listed.c if column.key != "place")).subquery(name)


@functools.cache
def _home_statement():
    """PostgreSQL: the whole page in one row, built once: the cards, the recent badges and the latest
    announcements as arrays, the level and the streak's window of days (issue 22: they were five statements)."""
    student_id = bindparam("student_id", type_=Uuid)
    zone = func.coalesce(func.nullif(UserLevel.time_zone, ""), bindparam("school_zone", type_=String))
    days, outage = streaks.window_day_arrays(student_id, zone, bindparam("earliest", type_=DateTime(timezone=True)),
                                             bindparam("earliest_day", type_=Date))
    cards = _as_arrays(_cards(student_id, lateral=True), "cards")
    held = _as_arrays(badges.latest_held(student_id, RECENT_BADGES), "recent_badges")
    sent = _as_arrays(announcements.latest_for_student(student_id, LATEST_ANNOUNCEMENTS), "latest_announcements")
    return (select(UserLevel.total_xp, UserLevel.leaderboard_opt_out, UserLevel.time_zone, days, outage,
                   *cards.c, *held.c, *sent.c)
            .select_from(cards).join(held, true()).join(sent, true())
            .outerjoin(UserLevel, UserLevel.user_id == student_id))


@functools.lru_cache(maxsize=8)
def _home_sql(dialect) -> tuple[str, Any]:
    """`_home_statement` compiled once for the engine's dialect, run as its SQL on the session's connection
    (its events, and so the statement counts, as any statement's). Executing the statement itself would have
    SQLAlchemy walk the whole expression for its cache key and set up its type processing on every request:
    a quarter of the statement's CPU in the app (0.41 -> 0.31 ms). Its parameters and columns are of types
    psycopg passes and returns as they are (UUIDs, dates, times, text, numbers, JSON, arrays of those), so
    the type processing had nothing to do."""
    compiled = _home_statement().compile(dialect=dialect)
    return str(compiled), compiled


def home_for(student: User) -> StudentHome:
    if db.engine.dialect.name != "postgresql":  # no arrays: the cards, then each service reads its own
        cards = [_card(*row) for row in db.session.execute(_cards_statement(), {"student_id": student.id})]
        standing = xp.standing(student.id)
        streak = streaks.streak_for(student.id, zone=streaks.zone_named(standing.time_zone))
        return StudentHome(student, standing, streak, cards,
                           [held.badge for held in badges.badges_of(student.id, limit=RECENT_BADGES)],
                           announcements.for_student(student, limit=LATEST_ANNOUNCEMENTS))
    now = utcnow()
    # The streak's window starts at midnight 182 days before today in the student's zone, which only the
    # statement knows: it reads from a little earlier, and `streak_from_window` leaves the extra days out.
    earliest = now - timedelta(days=streaks.WINDOW_DAYS + 2)
    sql, compiled = _home_sql(db.engine.dialect)
    row = db.session.connection().exec_driver_sql(sql, compiled.construct_params({
        "student_id": student.id, "school_zone": current_app.config["SCHOOL_TIMEZONE"], "earliest": earliest,
        "earliest_day": earliest.date()})).one()
    total_xp, opted_out, time_zone, days, outage = row[:5]
    badges_at = 5 + _CARD_FIELDS
    announcements_at = badges_at + len(HomeBadge._fields)
    zone = streaks.zone_named(time_zone)
    streak = streaks.streak_from_window(student.id, zone, now.astimezone(zone).date(), set(days or ()),
                                        set(outage or ()))
    return StudentHome(
        student, xp.standing_from(student.id, total_xp, opted_out, time_zone), streak,
        [_card(*card) for card in _rows_of(row[5:badges_at])],
        [HomeBadge(*badge) for badge in _rows_of(row[badges_at:announcements_at])],
        [(HomeAnnouncement(id_, title, HomeClassName(class_name), sent), is_read)
         for id_, title, class_name, sent, is_read in _rows_of(row[announcements_at:])])


def _rows_of(arrays) -> zip:
    """The rows back from `_as_arrays`' columns (each NULL when there is none)."""
    return zip(*(array or () for array in arrays))
