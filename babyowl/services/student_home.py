"""The student's home (dashboard): what to do next and how far they have come, on one phone screen.

Read-only. Per active class: the next lesson to do (the first unlocked lesson
not completed) with its one button, the next meeting and the credits left;
then level, XP bar, streaks, recent badges and the latest announcements. A
fixed number of queries whatever the student's history.

It is the page students open most (issue 22), so it reads plain columns, not
ORM objects, with statements built once: the class cards are one statement (one
row per lesson of each active class's course, with the lesson's counts); on
PostgreSQL the level, the streak's days (see services/streaks.py), the recent
badges and the announcements are one more (one row, the lists as arrays), where
SQLite asks each service in turn. The rules are the same as the progress pages'
(`progress.MyClassProgress`): a lesson is completed when all its exercises are,
the next lesson is the first unlocked one not completed; the badges, the
announcements and the streak's days are the rows their services choose.
"""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import Date, DateTime, String, Uuid, bindparam, exists, func, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by

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
_BADGE_COLUMNS = HomeBadge._fields
_ANNOUNCEMENT_COLUMNS = ("id", "title", "class_name", "sent_at", "read")


@functools.cache
def _cards_statement():
    """The class cards' statement, built once with the student bound per request (building it cost more CPU
    than running it, issue 22)."""
    student_id = bindparam("student_id", type_=Uuid)
    exercises = select(func.count()).where(Exercise.lesson_id == Lesson.id).scalar_subquery()
    done = (select(func.count()).select_from(ExerciseProgress)
            .join(Exercise, Exercise.id == ExerciseProgress.exercise_id)
            .where(Exercise.lesson_id == Lesson.id, ExerciseProgress.user_id == student_id,
                   ExerciseProgress.completed.is_(True)).scalar_subquery())
    unlocked = exists().where(LessonUnlock.class_id == ClassEnrollment.class_id, LessonUnlock.lesson_id == Lesson.id)
    return (select(ClassEnrollment.class_id, ClassEnrollment.meeting_credits, ClassEnrollment.credits_used,
                   SchoolClass.name, Course.title, SchoolClass.schedule, SchoolClass.status, SchoolClass.start_date,
                   SchoolClass.end_date, Lesson.id, Lesson.title, unlocked, exercises, done)
            .join(SchoolClass, SchoolClass.id == ClassEnrollment.class_id)
            .join(Course, Course.id == SchoolClass.course_id)
            .outerjoin(Section, Section.course_id == Course.id)
            .outerjoin(Lesson, Lesson.section_id == Section.id)
            .where(ClassEnrollment.student_id == student_id, ClassEnrollment.status == "active")
            .order_by(ClassEnrollment.enrolled_at.desc(), ClassEnrollment.id, Section.order_index,
                      Lesson.order_index))


def _as_arrays(rows, name: str):
    """One row: each column of `rows` (a service's list with its `place`) as an array, in the list's order."""
    listed = rows.subquery()
    return select(*(func.array_agg(aggregate_order_by(column, listed.c.place)).label(column.key)
                    for column in listed.c if column.key != "place")).subquery(name)


@functools.cache
def _rest_statement():
    """PostgreSQL: the level, the streak's window of days, the recent badges and the latest announcements in
    one row, built once (issue 22: they were four statements)."""
    student_id = bindparam("student_id", type_=Uuid)
    zone = func.coalesce(func.nullif(UserLevel.time_zone, ""), bindparam("school_zone", type_=String))
    days, outage = streaks.window_day_arrays(student_id, zone, bindparam("earliest", type_=DateTime(timezone=True)),
                                             bindparam("earliest_day", type_=Date))
    held = _as_arrays(badges.latest_held(student_id, RECENT_BADGES), "recent_badges")
    sent = _as_arrays(announcements.latest_for_student(student_id, LATEST_ANNOUNCEMENTS), "latest_announcements")
    return (select(UserLevel.total_xp, UserLevel.leaderboard_opt_out, UserLevel.time_zone, days, outage,
                   *(held.c[name] for name in _BADGE_COLUMNS), *(sent.c[name] for name in _ANNOUNCEMENT_COLUMNS))
            .select_from(held).join(sent, true()).outerjoin(UserLevel, UserLevel.user_id == student_id))


def _class_cards(student_id: uuid.UUID) -> list[ClassCard]:
    """The student's active classes, newest enrollment first, in one statement."""
    from babyowl.services.classes import next_meeting_day

    rows = db.session.execute(_cards_statement(), {"student_id": student_id})
    cards: dict[uuid.UUID, ClassCard] = {}
    for (class_id, credits, used, name, course_title, schedule, status, start, end,
         lesson_id, lesson_title, is_unlocked, total, completed) in rows:
        card = cards.get(class_id)
        if card is None:
            school_class = CardClass(class_id, name, CardCourse(course_title), schedule, status, start, end)
            card = cards[class_id] = ClassCard(school_class, (credits or 0) - (used or 0), None,
                                               next_meeting_day(school_class), 0, 0)
        if lesson_id is None:  # a course (or section) without lessons
            continue
        is_completed = total > 0 and completed >= total
        card.lessons_completed += is_completed
        if is_unlocked:
            card.lessons_open += 1
            if card.next_lesson is None and not is_completed:
                card.next_lesson = CardLesson(lesson_id, lesson_title)
    return list(cards.values())


def home_for(student: User) -> StudentHome:
    cards = _class_cards(student.id)
    if db.engine.dialect.name != "postgresql":  # no arrays: each service reads its own
        standing = xp.standing(student.id)
        streak = streaks.streak_for(student.id, zone=streaks.zone_named(standing.time_zone))
        return StudentHome(student, standing, streak, cards,
                           [held.badge for held in badges.badges_of(student.id, limit=RECENT_BADGES)],
                           announcements.for_student(student, limit=LATEST_ANNOUNCEMENTS))
    now = utcnow()
    # The streak's window starts at midnight 182 days before today in the student's zone, which only the
    # statement knows: it reads from a little earlier, and `streak_from_window` leaves the extra days out.
    earliest = now - timedelta(days=streaks.WINDOW_DAYS + 2)
    row = db.session.execute(_rest_statement(), {
        "student_id": student.id, "school_zone": current_app.config["SCHOOL_TIMEZONE"], "earliest": earliest,
        "earliest_day": earliest.date()}).one()
    total_xp, opted_out, time_zone, days, outage = row[:5]
    badge_lists, announcement_lists = row[5:5 + len(_BADGE_COLUMNS)], row[5 + len(_BADGE_COLUMNS):]
    zone = streaks.zone_named(time_zone)
    streak = streaks.streak_from_window(student.id, zone, now.astimezone(zone).date(), set(days or ()),
                                        set(outage or ()))
    return StudentHome(
        student, xp.standing_from(student.id, total_xp, opted_out, time_zone), streak, cards,
        [HomeBadge(*badge) for badge in zip(*(column or () for column in badge_lists))],
        [(HomeAnnouncement(id_, title, HomeClassName(class_name), sent), is_read)
         for id_, title, class_name, sent, is_read in zip(*(column or () for column in announcement_lists))])
