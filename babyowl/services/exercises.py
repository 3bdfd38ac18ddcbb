"""Exercises inside a lesson: created, changed and removed with their stored files.

Each public function is one use case. The content it is given may name files
the exercise type stored from the form (an uploaded video): if the use case
does not commit, those files are deleted again; files the new content no
longer names are deleted only after the commit.
"""
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
from babyowl.services.uploads import use_case_owning_files
from babyowl.transactions import after_commit, use_case


def _type(name: str):
    try:
        return get_type(name)
    except KeyError as exc:
        raise InvalidInput(_("Unknown exercise type.")) from exc


def create_exercise(actor: User, lesson: Lesson, *, type_name: str, title: str, content: dict,
                    estimated_duration: int | None) -> Exercise:
    kind = _type(type_name)
    with use_case_owning_files("create_exercise", *kind.stored_keys(content)):
        course = lesson.section.course
        require_author(actor, course)
        content = kind.validate(content)
        lock_course(course.id)
        exercise = Exercise(lesson_id=lesson.id, title=clean_title(title), type=type_name, content=content,
                            order_index=next_order_index(Exercise, Exercise.lesson_id, lesson.id),
                            estimated_duration=kind.estimated_minutes(content, estimated_duration))
        db.session.add(exercise)
        db.session.flush()
        refresh_lesson_duration(lesson)
    return exercise


def update_exercise(actor: User, exercise: Exercise, *, title: str, content: dict,
                    estimated_duration: int | None) -> None:
    kind = _type(exercise.type)
    old_keys = set(kind.stored_keys(exercise.content))
    with use_case_owning_files("update_exercise", *(set(kind.stored_keys(content)) - old_keys)):
        lesson = exercise.lesson
        require_author(actor, lesson.section.course)
        content = kind.validate(content)
        exercise.title = clean_title(title)
        exercise.content = content
        exercise.estimated_duration = kind.estimated_minutes(content, estimated_duration)
        db.session.flush()
        refresh_lesson_duration(lesson)
        for key in old_keys - set(kind.stored_keys(content)):
            after_commit(delete_stored, key)


@use_case
def delete_exercise(actor: User, exercise: Exercise) -> None:
    lesson = exercise.lesson
    require_author(actor, lesson.section.course)
    lock_course(lesson.section.course_id)
    refuse_if_students_started(exercise_ids=[exercise.id])
    for key in get_type(exercise.type).stored_keys(exercise.content):
        after_commit(delete_stored, key)
    db.session.delete(exercise)
    db.session.flush()
    refresh_lesson_duration(lesson)
