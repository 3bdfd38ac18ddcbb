"""Exercises inside a lesson: created, changed and removed with their stored files."""
from __future__ import annotations

from flask_babel import gettext as _

from babyowl.exercise_types import get_type
from babyowl.extensions import db
from babyowl.models import Exercise, Lesson, User
from babyowl.services.courses import require_author
from babyowl.services.errors import InvalidInput
from babyowl.services.images import delete_stored
from babyowl.services.structure import (
    clean_title, lock_course, next_order_index, refresh_lesson_duration, refuse_if_students_started,
)


def _type(name: str):
    try:
        return get_type(name)
    except KeyError as exc:
        raise InvalidInput(_("Unknown exercise type.")) from exc


def create_exercise(actor: User, lesson: Lesson, *, type_name: str, title: str, content: dict,
                    estimated_duration: int | None) -> Exercise:
    course = lesson.section.course
    require_author(actor, course)
    kind = _type(type_name)
    content = kind.validate(content)
    lock_course(course.id)
    exercise = Exercise(lesson_id=lesson.id, title=clean_title(title), type=type_name, content=content,
                        order_index=next_order_index(Exercise, Exercise.lesson_id, lesson.id),
                        estimated_duration=kind.estimated_minutes(content, estimated_duration))
    db.session.add(exercise)
    db.session.flush()
    refresh_lesson_duration(lesson)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        for key in kind.stored_keys(content):
            delete_stored(key)
        raise
    return exercise


def update_exercise(actor: User, exercise: Exercise, *, title: str, content: dict,
                    estimated_duration: int | None) -> None:
    lesson = exercise.lesson
    require_author(actor, lesson.section.course)
    kind = _type(exercise.type)
    content = kind.validate(content)
    old_keys = set(kind.stored_keys(exercise.content))
    exercise.title = clean_title(title)
    exercise.content = content
    exercise.estimated_duration = kind.estimated_minutes(content, estimated_duration)
    db.session.flush()
    refresh_lesson_duration(lesson)
    db.session.commit()
    for key in old_keys - set(kind.stored_keys(content)):
        delete_stored(key)


def delete_exercise(actor: User, exercise: Exercise) -> None:
    lesson = exercise.lesson
    require_author(actor, lesson.section.course)
    lock_course(lesson.section.course_id)
    refuse_if_students_started(exercise_ids=[exercise.id])
    keys = get_type(exercise.type).stored_keys(exercise.content)
    db.session.delete(exercise)
    db.session.flush()
    refresh_lesson_duration(lesson)
    db.session.commit()
    for key in keys:
        delete_stored(key)
