"""The public catalog: published courses, searchable, with their syllabus."""
from __future__ import annotations

import uuid

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from babyowl.extensions import db
from babyowl.models import Course, Lesson, Section
from babyowl.services.errors import DomainError
from babyowl.services.courses import COVER_PREFIX
from babyowl.services.listing import PER_PAGE, Key, Page, Slice, keyset_page, paginate, text_matches


class CourseNotInCatalog(DomainError):
    status_code = 404


# The catalog's order, by title; the id parts courses of the same title.
ORDER = (Key(Course.title, str), Key(Course.id, uuid.UUID))


def _published(q: str, category: str, level: str):
    query = select(Course).where(Course.status == "published")
    if q.strip():
        query = query.where(text_matches(q, Course.title, Course.description))
    if category:
        query = query.where(Course.category == category)
    if level:
        query = query.where(Course.level == level)
    return query


def search(*, q: str = "", category: str = "", level: str = "", page: int = 1,
           per_page: int = PER_PAGE) -> Page[Course]:
    return paginate(_published(q, category, level).order_by(*(key.column for key in ORDER)), page, per_page)


def search_after(*, q: str = "", category: str = "", level: str = "", after: list | None = None,
                 limit: int = PER_PAGE) -> Slice[Course]:
    """The same search, one keyset page after the cursor's course."""
    return keyset_page(_published(q, category, level), ORDER, after=after, limit=limit)


def lesson_counts(courses) -> dict:
    """Lessons per course for a page of courses, in one query."""
    ids = [course.id for course in courses]
    if not ids:
        return {}
    rows = db.session.execute(
        select(Section.course_id, func.count(Lesson.id)).join(Lesson, Lesson.section_id == Section.id)
        .where(Section.course_id.in_(ids)).group_by(Section.course_id))
    return dict(rows.all())


def categories() -> list[str]:
    return list(db.session.scalars(
        select(Course.category).where(Course.status == "published", Course.category.is_not(None))
        .distinct().order_by(Course.category)))


def published_course(slug: str) -> Course:
    """A published course with its sections and lesson titles (never exercise content)."""
    course = db.session.scalars(
        select(Course).where(Course.slug == slug, Course.status == "published")
        .options(selectinload(Course.sections).selectinload(Section.lessons))).first()
    if course is None:
        raise CourseNotInCatalog(_("This course is not in the catalog."))
    return course


def cover_key(key: str) -> str:
    """A stored course cover: public (the catalog shows it to everyone); any other stored file does not exist here."""
    if not key.startswith(f"{COVER_PREFIX}/"):
        raise CourseNotInCatalog(_("This image does not exist."))
    return key
