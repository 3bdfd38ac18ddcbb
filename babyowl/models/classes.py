from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, JSONType, Timestamps, UUIDPrimaryKey, utcnow
from .checks import in_check
from .payments import ENROLLMENT_PAYMENT_STATUSES

if TYPE_CHECKING:
    from .announcements import Announcement
    from .attendance import ClassAttendance, CreditAdjustment
    from .courses import Course, Lesson
    from .users import User

CLASS_TYPES = ("group", "private")
CLASS_STATUSES = ("draft", "enrollment_open", "active", "completed", "cancelled")
ENROLLMENT_STATUSES = ("active", "completed", "withdrawn")


class SchoolClass(UUIDPrimaryKey, Timestamps, Base):
    """A taught class (a cohort) running one course; named to avoid `class`."""

    __tablename__ = "classes"
    __table_args__ = (
        CheckConstraint(in_check("type", CLASS_TYPES), name="type"),
        CheckConstraint("max_capacity > 0", name="max_capacity_positive"),
        CheckConstraint("current_capacity >= 0", name="current_capacity_non_negative"),
        CheckConstraint("total_meetings > 0", name="total_meetings_positive"),
        CheckConstraint(in_check("status", CLASS_STATUSES), name="status"),
        # The row invariants the services keep; the database is the last guard.
        CheckConstraint("lessons_unlocked <= meetings_completed", name="unlocked_within_meetings_held"),
        CheckConstraint("current_capacity <= max_capacity", name="capacity_within_max"),
        CheckConstraint("type <> 'group' OR enrollment_deadline IS NOT NULL", name="group_has_deadline"),
        CheckConstraint("package_price IS NULL OR package_price >= 0", name="package_price_non_negative"),
        CheckConstraint("meeting_price IS NULL OR meeting_price >= 0", name="meeting_price_non_negative"),
        Index("idx_classes_instructor", "instructor_id"),
        Index("idx_classes_course", "course_id"),
        Index("idx_classes_status", "status"),
        Index("idx_classes_type", "type"),
    )

    name: Mapped[str] = mapped_column(String(255))
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"))
    instructor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    type: Mapped[str] = mapped_column(String(50))
    max_capacity: Mapped[int | None] = mapped_column(Integer)
    current_capacity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # Package: 1 meeting = 1 lesson, so total_meetings caps the lessons a class can reach.
    total_meetings: Mapped[int] = mapped_column(Integer)
    meetings_completed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # 1 meeting = 1 lesson: never more lessons open than meetings held (CHECK).
    lessons_unlocked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # e.g. {"days": ["Monday", "Thursday"], "time": "19:00-21:00"}
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    enrollment_deadline: Mapped[date | None]  # required for group classes (CHECK)
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(50), default="draft", server_default="draft")
    # Set when a private class continues a finished group class.
    continued_from_class_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("classes.id"))
    # Rupiah: the package (all its meetings) and, for a private class, one added meeting. None: no price set.
    package_price: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    meeting_price: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))

    course: Mapped[Course] = relationship()
    instructor: Mapped[User | None] = relationship()
    continued_from: Mapped[SchoolClass | None] = relationship(remote_side="SchoolClass.id")
    enrollments: Mapped[list[ClassEnrollment]] = relationship(back_populates="school_class")
    lesson_unlocks: Mapped[list[LessonUnlock]] = relationship(back_populates="school_class")
    attendance_records: Mapped[list[ClassAttendance]] = relationship(back_populates="school_class")
    announcements: Mapped[list[Announcement]] = relationship(
        back_populates="school_class", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def meetings_remaining(self) -> int:
        return (self.total_meetings or 0) - (self.meetings_completed or 0)


class ClassEnrollment(UUIDPrimaryKey, Base):
    __tablename__ = "class_enrollments"
    __table_args__ = (
        UniqueConstraint("class_id", "student_id"),
        # Target of class_attendance's composite key: a mark's class is its enrollment's class.
        UniqueConstraint("id", "class_id", name="uq_class_enrollments_id_class"),
        CheckConstraint("meeting_credits >= 0", name="meeting_credits_non_negative"),
        CheckConstraint(in_check("payment_status", ENROLLMENT_PAYMENT_STATUSES), name="payment_status"),
        CheckConstraint(in_check("status", ENROLLMENT_STATUSES), name="status"),
        Index("idx_class_enrollments_class", "class_id"),
        Index("idx_class_enrollments_student", "student_id"),
        Index("idx_class_enrollments_status", "status"),
    )

    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))

    # Credit-based attendance: starts at the class's total_meetings; present/late
    # consume a credit, absent keeps it for a later makeup meeting. credits_used
    # may go below zero when bonus credits exceed the meetings attended.
    meeting_credits: Mapped[int] = mapped_column(Integer)
    credits_used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    lessons_completed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    exercises_completed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attendance_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))  # percent

    payment_status: Mapped[str] = mapped_column(String(50), default="pending", server_default="pending")
    payment_amount: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))

    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    completed_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(50), default="active", server_default="active")

    school_class: Mapped[SchoolClass] = relationship(back_populates="enrollments")
    student: Mapped[User] = relationship()
    attendance_records: Mapped[list[ClassAttendance]] = relationship(
        back_populates="enrollment", primaryjoin="ClassEnrollment.id == foreign(ClassAttendance.enrollment_id)")
    credit_adjustments: Mapped[list[CreditAdjustment]] = relationship(back_populates="enrollment")

    @property
    def credits_remaining(self) -> int:
        return (self.meeting_credits or 0) - (self.credits_used or 0)


class LessonUnlock(UUIDPrimaryKey, Base):
    __tablename__ = "lesson_unlocks"
    __table_args__ = (
        UniqueConstraint("class_id", "lesson_id"),
        Index("idx_lesson_unlocks_class", "class_id"),
    )

    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"))
    lesson_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lessons.id"))
    unlocked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    unlocked_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    school_class: Mapped[SchoolClass] = relationship(back_populates="lesson_unlocks")
    lesson: Mapped[Lesson] = relationship()
    unlocker: Mapped[User | None] = relationship()
