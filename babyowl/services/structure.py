"""A course's structure: sections, the lessons inside them and the exercises inside those.

Every change first locks the course row, so two authors editing one course at
once take turns; together with the UNIQUE (parent, order_index) constraints
this means the order can never hold two items at one position. Each public
change is one use case (`@use_case`).
"""
from __future__ import annotations

import uuid

from flask_babel import gettext as _
from sqlalchemy import exists, func, select

from babyowl.extensions import db
from babyowl.models import (
    AssignmentSubmission, CodingSubmission, Course, Exercise, ExerciseProgress, Lesson, LessonProgress, LessonUnlock,
    QuizAttempt, Section, User,
)
from babyowl.services.courses import require_author
from babyowl.services.errors import DomainError, InvalidInput
from babyowl.transactions import use_case

DIRECTIONS = ("up", "down")


class NotFound(DomainError):
    status_code = 404


def lock_course(course_id: uuid.UUID) -> Course:
    return db.session.scalars(select(Course).where(Course.id == course_id).with_for_update()).one()


def _get(model, item_id: uuid.UUID):
    item = db.session.get(model, item_id)
    if item is None:
        raise NotFound(_("This item does not exist any more. Reload the page."))
    return item


def section_for_author(actor: User, section_id: uuid.UUID) -> Section:
    section = _get(Section, section_id)
    require_author(actor, section.course)
    return section


def lesson_for_author(actor: User, lesson_id: uuid.UUID) -> Lesson:
    lesson = _get(Lesson, lesson_id)
    require_author(actor, lesson.section.course)
    return lesson


def exercise_for_author(actor: User, exercise_id: uuid.UUID) -> Exercise:
    exercise = _get(Exercise, exercise_id)
    require_author(actor, exercise.lesson.section.course)
    return exercise


def clean_title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise InvalidInput(_("Enter a title."))
    if len(title) > 255:
        raise InvalidInput(_("Use at most %(max)d characters.", max=255))
    return title


def next_order_index(model, parent_column, parent_id) -> int:
    highest = db.session.scalar(select(func.max(model.order_index)).where(parent_column == parent_id))
    return 0 if highest is None else highest + 1


def _swap(item, model, parent_column, parent_id, direction: str) -> bool:
    """Swap `item` with its neighbour; False when it is already first/last."""
    if direction not in DIRECTIONS:
        raise InvalidInput(_("Unknown direction."))
    sibling_query = select(model).where(parent_column == parent_id)
    if direction == "up":
        sibling_query = sibling_query.where(model.order_index < item.order_index).order_by(model.order_index.desc())
    else:
        sibling_query = sibling_query.where(model.order_index > item.order_index).order_by(model.order_index)
    neighbour = db.session.scalars(sibling_query.limit(1)).first()
    if neighbour is None:
        return False
    mine, theirs = item.order_index, neighbour.order_index
    # The unique index allows no moment with two items at one place: park one in a free slot first.
    item.order_index = next_order_index(model, parent_column, parent_id)
    db.session.flush()
    neighbour.order_index = mine
    db.session.flush()
    item.order_index = theirs
    return True


@use_case
def add_section(actor: User, course: Course, title: str) -> Section:
    require_author(actor, course)
    lock_course(course.id)
    section = Section(course_id=course.id, title=clean_title(title),
                      order_index=next_order_index(Section, Section.course_id, course.id))
    db.session.add(section)
    return section


@use_case
def rename_section(actor: User, section: Section, title: str) -> None:
    require_author(actor, section.course)
    section.title = clean_title(title)


@use_case
def move_section(actor: User, section: Section, direction: str) -> bool:
    require_author(actor, section.course)
    lock_course(section.course_id)
    db.session.refresh(section)
    moved = _swap(section, Section, Section.course_id, section.course_id, direction)
    return moved


def students_started(*, lesson_ids=(), exercise_ids=()) -> bool:
    """Whether a class has opened, or a student worked on, any of this content."""
    lesson_ids, exercise_ids = list(lesson_ids), list(exercise_ids)
    exercises = select(Exercise.id).where(
        Exercise.lesson_id.in_(lesson_ids) | Exercise.id.in_(exercise_ids))
    checks = [
        exists().where(LessonUnlock.lesson_id.in_(lesson_ids)),
        exists().where(LessonProgress.lesson_id.in_(lesson_ids)),
        exists().where(ExerciseProgress.exercise_id.in_(exercises)),
        exists().where(QuizAttempt.exercise_id.in_(exercises)),
        exists().where(CodingSubmission.exercise_id.in_(exercises)),
        exists().where(AssignmentSubmission.exercise_id.in_(exercises)),
    ]
    return any(db.session.scalar(select(check)) for check in checks)


def refuse_if_students_started(*, lesson_ids=(), exercise_ids=()) -> None:
    # Content a class has opened or students worked on stays: archive the course instead.
    if students_started(lesson_ids=lesson_ids, exercise_ids=exercise_ids):
        raise DomainError(_("Students have already opened or worked on this content, so it cannot be deleted."))


@use_case
def delete_section(actor: User, section: Section) -> None:
    require_author(actor, section.course)
    lock_course(section.course_id)
    refuse_if_students_started(lesson_ids=[lesson.id for lesson in section.lessons])
    db.session.delete(section)


@use_case
def add_lesson(actor: User, section: Section, title: str) -> Lesson:
    require_author(actor, section.course)
    lock_course(section.course_id)
    lesson = Lesson(section_id=section.id, title=clean_title(title),
                    order_index=next_order_index(Lesson, Lesson.section_id, section.id), estimated_duration=0)
    db.session.add(lesson)
    return lesson


@use_case
def update_lesson(actor: User, lesson: Lesson, title: str, description: str | None = None) -> None:
    require_author(actor, lesson.section.course)
    lesson.title = clean_title(title)
    lesson.description = (description or "").strip() or None


@use_case
def move_lesson(actor: User, lesson: Lesson, direction: str) -> bool:
    require_author(actor, lesson.section.course)
    lock_course(lesson.section.course_id)
    db.session.refresh(lesson)
    moved = _swap(lesson, Lesson, Lesson.section_id, lesson.section_id, direction)
    return moved


@use_case
def delete_lesson(actor: User, lesson: Lesson) -> None:
    require_author(actor, lesson.section.course)
    lock_course(lesson.section.course_id)
    refuse_if_students_started(lesson_ids=[lesson.id])
    db.session.delete(lesson)


@use_case
def move_exercise(actor: User, exercise: Exercise, direction: str) -> bool:
    course = exercise.lesson.section.course
    require_author(actor, course)
    lock_course(course.id)
    db.session.refresh(exercise)
    moved = _swap(exercise, Exercise, Exercise.lesson_id, exercise.lesson_id, direction)
    return moved


def refresh_lesson_duration(lesson: Lesson) -> None:
    """A lesson lasts as long as its exercises together (spec)."""
    lesson.estimated_duration = db.session.scalar(
        select(func.coalesce(func.sum(Exercise.estimated_duration), 0)).where(Exercise.lesson_id == lesson.id))


def course_outline(course_id: uuid.UUID) -> Course:
    """The course with its sections, lessons and exercises loaded in three queries."""
    from sqlalchemy.orm import selectinload

    return db.session.scalars(
        select(Course).where(Course.id == course_id).options(
            selectinload(Course.sections).selectinload(Section.lessons).selectinload(Lesson.exercises))
    ).one()
