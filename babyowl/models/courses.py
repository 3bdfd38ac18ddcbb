from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, JSONType, Timestamps, UUIDPrimaryKey
from .checks import in_check

if TYPE_CHECKING:
    from .users import User

COURSE_LEVELS = ("beginner", "intermediate", "advanced")
COURSE_STATUSES = ("draft", "published", "archived")
EXERCISE_TYPES = ("video", "quiz", "material", "assignment", "coding")


class Course(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint(in_check("level", COURSE_LEVELS), name="level"),
        CheckConstraint(in_check("status", COURSE_STATUSES), name="status"),
        Index("idx_courses_status", "status"),
        Index("idx_courses_category", "category"),
    )

    title: Mapped[str] = mapped_column(String(255))
    code: Mapped[str | None] = mapped_column(String(20))
    slug: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text)
    cover_image: Mapped[str | None] = mapped_column(String(500))
    category: Mapped[str | None] = mapped_column(String(100))
    level: Mapped[str | None] = mapped_column(String(50))
    language: Mapped[str] = mapped_column(String(50), default="indonesian", server_default="indonesian")
    estimated_duration: Mapped[int | None] = mapped_column(Integer)  # hours
    status: Mapped[str] = mapped_column(String(50), default="draft", server_default="draft")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None]

    creator: Mapped[User | None] = relationship()
    sections: Mapped[list[Section]] = relationship(
        back_populates="course",
        order_by="Section.order_index",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Section(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "sections"
    __table_args__ = (
        UniqueConstraint("course_id", "order_index", name="uq_sections_course_id_order_index"),
        CheckConstraint("order_index >= 0", name="order_index_non_negative"),
        Index("idx_sections_course", "course_id"),
    )

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    order_index: Mapped[int] = mapped_column(Integer)

    course: Mapped[Course] = relationship(back_populates="sections")
    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="section",
        order_by="Lesson.order_index",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Lesson(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "lessons"
    __table_args__ = (
        UniqueConstraint("section_id", "order_index", name="uq_lessons_section_id_order_index"),
        CheckConstraint("order_index >= 0", name="order_index_non_negative"),
        Index("idx_lessons_section", "section_id"),
    )

    section_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sections.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    order_index: Mapped[int] = mapped_column(Integer)
    estimated_duration: Mapped[int | None] = mapped_column(Integer)  # minutes, sum of its exercises
    # The spec gives no CHECK (and no value list) for lesson status.
    status: Mapped[str] = mapped_column(String(50), default="draft", server_default="draft")

    section: Mapped[Section] = relationship(back_populates="lessons")
    exercises: Mapped[list[Exercise]] = relationship(
        back_populates="lesson",
        order_by="Exercise.order_index",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Exercise(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "exercises"
    __table_args__ = (
        CheckConstraint(in_check("type", EXERCISE_TYPES), name="type"),
        UniqueConstraint("lesson_id", "order_index", name="uq_exercises_lesson_id_order_index"),
        CheckConstraint("order_index >= 0", name="order_index_non_negative"),
        Index("idx_exercises_lesson", "lesson_id"),
        Index("idx_exercises_type", "type"),
    )

    lesson_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(50))
    # Shape depends on `type` (see the spec's coding exercise content schema).
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    order_index: Mapped[int] = mapped_column(Integer)
    estimated_duration: Mapped[int | None] = mapped_column(Integer)  # minutes

    lesson: Mapped[Lesson] = relationship(back_populates="exercises")
