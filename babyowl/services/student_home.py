"""The student's home (dashboard): what to do next and how far they have come, on one phone screen.

Read-only. Per active class: the next lesson to do (the first unlocked lesson
not completed) with its one button, the next meeting and the credits left;
then level, XP bar, streaks, recent badges. Announcements come from their own
area (the dashboard's include). A fixed number of queries whatever the
student's history.

It is the page students open most (issue 22), so it reads plain columns, not
ORM objects: the class cards are one statement (one row per lesson of each
active class's course, with the lesson's counts), the level one, the streaks
one (see services/streaks.py), the badges one. The rules are the same as the
progress pages' (`progress.MyClassProgress`): a lesson is completed when all its
exercises are, the next lesson is the first unlocked one not completed.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import exists, func, select

from babyowl.extensions import db
from babyowl.models import (
    ClassEnrollment, Course, Exercise, ExerciseProgress, Lesson, LessonUnlock, SchoolClass, Section, User, UserBadge,
)
from babyowl.services import badges, streaks, xp


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
    recent_badges: list[UserBadge] = field(default_factory=list)

    @property
    def next_step(self) -> ClassCard | None:
        """The one button at the top: the first class with a lesson waiting."""
        return next((card for card in self.cards if card.next_lesson is not None), None)


def _class_cards(student_id: uuid.UUID) -> list[ClassCard]:
    """The student's active classes, newest enrollment first, in one statement."""
    from babyowl.services.classes import next_meeting_day

    exercises = select(func.count()).where(Exercise.lesson_id == Lesson.id).scalar_subquery()
    done = (select(func.count()).select_from(ExerciseProgress)
            .join(Exercise, Exercise.id == ExerciseProgress.exercise_id)
            .where(Exercise.lesson_id == Lesson.id, ExerciseProgress.user_id == student_id,
                   ExerciseProgress.completed.is_(True)).scalar_subquery())
    unlocked = exists().where(LessonUnlock.class_id == ClassEnrollment.class_id, LessonUnlock.lesson_id == Lesson.id)
    rows = db.session.execute(
        select(ClassEnrollment.class_id, ClassEnrollment.meeting_credits, ClassEnrollment.credits_used,
               SchoolClass.name, Course.title, SchoolClass.schedule, SchoolClass.status, SchoolClass.start_date,
               SchoolClass.end_date, Lesson.id, Lesson.title, unlocked, exercises, done)
        .join(SchoolClass, SchoolClass.id == ClassEnrollment.class_id)
        .join(Course, Course.id == SchoolClass.course_id)
        .outerjoin(Section, Section.course_id == Course.id)
        .outerjoin(Lesson, Lesson.section_id == Section.id)
        .where(ClassEnrollment.student_id == student_id, ClassEnrollment.status == "active")
        .order_by(ClassEnrollment.enrolled_at.desc(), ClassEnrollment.id, Section.order_index, Lesson.order_index))
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
    standing = xp.standing(student.id)
    streak = streaks.streak_for(student.id, zone=streaks.zone_named(standing.time_zone))
    return StudentHome(student, standing, streak, _class_cards(student.id), badges.badges_of(student.id, limit=3))
