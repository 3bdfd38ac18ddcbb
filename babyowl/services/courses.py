"""Courses: who may author them, their details, their life cycle draft → published → archived.

Each public function that changes a course is one use case (`@use_case`): it
commits once or changes nothing. A cover stored for a change that is refused
is deleted again; the cover it replaces is deleted only after the commit.
"""
from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from babyowl.authz import AUTHORS
from babyowl.extensions import db
from babyowl.models import COURSE_LEVELS, Course, Exercise, Lesson, SchoolClass, Section, User
from babyowl.models.base import utcnow
from babyowl.navigation import COURSE_STATUS_NAMES
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.images import delete_stored, store_image
from babyowl.services.uploads import use_case_owning_files
from babyowl.transactions import after_commit, use_case

COVER_SIZE = (1200, 675)
COVER_PREFIX = "covers"  # stored covers are public (the catalog serves them); nothing else is under it
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANGUAGES = ("indonesian", "english")
# Allowed status changes; anything else is refused with a message.
TRANSITIONS = {"draft": ("published",), "published": ("archived",), "archived": ("published",)}


class CourseNotFound(DomainError):
    status_code = 404


class SlugTaken(InvalidInput):
    pass


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80].strip("-") or "course"


def _slug_in_use(slug: str, exclude: uuid.UUID | None = None) -> bool:
    query = select(exists().where(Course.slug == slug, *([Course.id != exclude] if exclude else [])))
    return bool(db.session.scalar(query))


def unique_slug(title: str) -> str:
    base = slugify(title)
    slug, n = base, 2
    while _slug_in_use(slug):
        slug, n = f"{base}-{n}", n + 1
    return slug


def status_name(status: str) -> str:
    """A status as people read it (never the stored code); an unknown one is shown as sent."""
    return str(COURSE_STATUS_NAMES.get(status, status))


def can_author(actor: User, course: Course) -> bool:
    return actor.role == "super_admin" or (actor.role == "instructor" and course.created_by == actor.id)


def require_author(actor: User, course: Course) -> None:
    if not can_author(actor, course):
        raise NotAllowed(_("Only the course's author can change it."))


def course_for_author(actor: User, course_id: uuid.UUID) -> Course:
    course = db.session.get(Course, course_id)
    if course is None:
        raise CourseNotFound(_("This course does not exist."))
    require_author(actor, course)
    return course


def authored_courses(actor: User) -> list[Course]:
    query = _authored(actor).options(selectinload(Course.sections).selectinload(Section.lessons)).order_by(
        Course.updated_at.desc())
    return list(db.session.scalars(query))


def _authored(actor: User):
    query = select(Course)
    if actor.role != "super_admin":
        query = query.where(Course.created_by == actor.id)
    return query


def authored_after(actor: User, *, after: list | None = None, limit: int = 20):
    """The courses `actor` writes (every one for super_admin), one keyset page, newest first (by creation, which
    never changes: ordered by the last change, a course edited between two pages would move past the cursor)."""
    from babyowl.services.listing import Key, keyset_page

    keys = (Key(Course.created_at, datetime, descending=True), Key(Course.id, uuid.UUID, descending=True))
    return keyset_page(_authored(actor), keys, after=after, limit=limit)


def _check_details(*, title: str, slug: str, level: str | None, language: str, exclude: uuid.UUID | None) -> None:
    if not title.strip():
        raise InvalidInput(_("Enter a title."))
    if not SLUG_PATTERN.match(slug):
        raise InvalidInput(_("The address may only use lowercase letters, digits and single hyphens."))
    if _slug_in_use(slug, exclude):
        raise SlugTaken(_("The address “%(slug)s” is already used by another course.", slug=slug))
    if level and level not in COURSE_LEVELS:
        raise InvalidInput(_("Unknown level."))
    if language not in LANGUAGES:
        raise InvalidInput(_("Unknown language."))


def _flush_or_slug_taken(slug: str) -> None:
    try:
        db.session.flush()
    except IntegrityError as exc:  # two authors took the same address at once; the use case rolls back
        raise SlugTaken(_("The address “%(slug)s” is already used by another course.", slug=slug)) from exc


def create_course(actor: User, *, title: str, description: str, slug: str | None = None, code: str | None = None,
                  category: str | None = None, level: str | None = None, language: str = "indonesian",
                  cover=None) -> Course:
    with use_case_owning_files("create_course") as new_files:
        if actor.role not in AUTHORS:
            raise NotAllowed(_("Only instructors and administrators create courses."))
        slug = (slug or "").strip().lower() or unique_slug(title)
        _check_details(title=title, slug=slug, level=level, language=language, exclude=None)
        new_cover = store_image(cover, COVER_PREFIX, COVER_SIZE) if cover else None
        new_files.append(new_cover)
        course = Course(title=title.strip(), description=description.strip(), slug=slug,
                        code=(code or "").strip() or None, category=(category or "").strip() or None,
                        level=level or None, language=language, cover_image=new_cover, created_by=actor.id,
                        status="draft")
        db.session.add(course)
        _flush_or_slug_taken(slug)
    return course


def update_course(actor: User, course: Course, *, title: str, description: str, slug: str, code: str | None,
                  category: str | None, level: str | None, language: str, cover=None,
                  remove_cover: bool = False) -> None:
    with use_case_owning_files("update_course") as new_files:
        require_author(actor, course)
        slug = slug.strip().lower()
        _check_details(title=title, slug=slug, level=level, language=language, exclude=course.id)
        new_cover = store_image(cover, COVER_PREFIX, COVER_SIZE) if cover else None
        new_files.append(new_cover)
        old_cover = course.cover_image
        course.title, course.description, course.slug = title.strip(), description.strip(), slug
        course.code = (code or "").strip() or None
        course.category = (category or "").strip() or None
        course.level, course.language = level or None, language
        if new_cover or remove_cover:
            course.cover_image = new_cover
            after_commit(delete_stored, old_cover)
        _flush_or_slug_taken(slug)


def _has_a_lesson_with_an_exercise(course: Course) -> bool:
    return bool(db.session.scalar(select(exists().where(
        Exercise.lesson_id == Lesson.id, Lesson.section_id == Section.id, Section.course_id == course.id))))


@use_case
def change_status(actor: User, course: Course, status: str) -> None:
    require_author(actor, course)
    if status not in TRANSITIONS.get(course.status, ()):
        raise DomainError(_("A course cannot go from %(old)s to %(new)s.", old=status_name(course.status),
                            new=status_name(status)))
    if status == "published" and not _has_a_lesson_with_an_exercise(course):
        raise DomainError(_("Add at least one lesson with one exercise before publishing."))
    course.status = status
    if status == "published" and course.published_at is None:
        course.published_at = utcnow()


@use_case
def delete_course(actor: User, course: Course) -> None:
    require_author(actor, course)
    if course.status != "draft":
        raise DomainError(_("Only a draft course can be deleted; archive a published one instead."))
    if db.session.scalar(select(func.count()).where(SchoolClass.course_id == course.id)):
        raise DomainError(_("A class uses this course, so it cannot be deleted."))
    after_commit(delete_stored, course.cover_image)
    db.session.delete(course)
