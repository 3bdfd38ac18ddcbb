from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UUIDPrimaryKey, utcnow
from .checks import in_check

if TYPE_CHECKING:
    from .classes import ClassEnrollment, SchoolClass
    from .users import User

ATTENDANCE_STATUSES = ("present", "absent", "late")
CREDIT_ADJUSTMENT_REASONS = ("makeup_class", "refund", "error_correction", "bonus", "other")


class ClassAttendance(UUIDPrimaryKey, Base):
    __tablename__ = "class_attendance"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "meeting_number"),  # one record per student per meeting
        CheckConstraint("meeting_number > 0", name="meeting_number_positive"),
        CheckConstraint(in_check("status", ATTENDANCE_STATUSES), name="status"),
        # class_id is copied from the enrollment for filtering; this key keeps the copy true.
        sa.ForeignKeyConstraint(["enrollment_id", "class_id"], ["class_enrollments.id", "class_enrollments.class_id"],
                                name="fk_class_attendance_enrollment_class"),
        Index("idx_class_attendance_class", "class_id"),
        Index("idx_class_attendance_enrollment", "enrollment_id"),
        Index("idx_class_attendance_meeting", "meeting_number"),
        # The sheet's "highest meeting of this class": without it PostgreSQL walks the meeting index backwards
        # past every other class's rows, a cost that grows with the school's history (issue 22).
        Index("idx_class_attendance_class_meeting", "class_id", "meeting_number"),
        Index("idx_class_attendance_date", "meeting_date"),
    )

    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"))
    enrollment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("class_enrollments.id"))
    meeting_number: Mapped[int] = mapped_column(Integer)
    meeting_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(20))
    # Records whether this row consumed a credit, so an edit can refund exactly that.
    credit_deducted: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    marked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    marked_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # Set only when the record is edited after it was first marked.
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)

    school_class: Mapped[SchoolClass] = relationship(back_populates="attendance_records")
    enrollment: Mapped[ClassEnrollment] = relationship(
        back_populates="attendance_records", primaryjoin="ClassEnrollment.id == foreign(ClassAttendance.enrollment_id)")
    marker: Mapped[User | None] = relationship(foreign_keys=[marked_by])
    updater: Mapped[User | None] = relationship(foreign_keys=[updated_by])


class CreditAdjustment(UUIDPrimaryKey, Base):
    """Audit log of manual changes to an enrollment's credits_used.

    The sign is defined once, here: a positive adjustment gives credits back
    (credits_used goes down by it), a negative one uses credits (a makeup
    meeting attended outside the register). The database holds the rule.
    """

    __tablename__ = "credit_adjustments"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        CheckConstraint(in_check("reason", CREDIT_ADJUSTMENT_REASONS), name="reason"),
        CheckConstraint("adjustment <> 0", name="adjustment_not_zero"),
        CheckConstraint("credits_after = credits_before - adjustment", name="after_follows_adjustment"),
        CheckConstraint("reason <> 'other' OR reason_detail IS NOT NULL", name="other_has_detail"),
        Index("idx_credit_adjustments_enrollment", "enrollment_id"),
        Index("idx_credit_adjustments_adjusted_by", "adjusted_by"),
        Index("idx_credit_adjustments_date", "adjusted_at"),
    )

    enrollment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("class_enrollments.id"))
    adjustment: Mapped[int] = mapped_column(Integer)  # positive gives credits back, negative uses them
    credits_before: Mapped[int] = mapped_column(Integer)  # credits_used before
    credits_after: Mapped[int] = mapped_column(Integer)  # credits_used after
    reason: Mapped[str] = mapped_column(String(100))
    reason_detail: Mapped[str | None] = mapped_column(Text)  # expected when reason = 'other'
    adjusted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    adjusted_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # From the form that sent it: the same form posted twice is one adjustment.
    idempotency_key: Mapped[uuid.UUID | None]

    enrollment: Mapped[ClassEnrollment] = relationship(back_populates="credit_adjustments")
    adjuster: Mapped[User | None] = relationship()


class AttendanceChange(UUIDPrimaryKey, Base):
    """Beyond the spec: every change of a mark, kept (old status → new, who, when, why).

    The spec keeps only the last `updated_by`; staff cannot reconcile credits
    from that. A tap carries an idempotency key, stored here, so the same tap
    re-sent after a dropped connection is recognised and changes nothing.
    """

    __tablename__ = "attendance_changes"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        CheckConstraint(in_check("new_status", ATTENDANCE_STATUSES), name="new_status"),
        CheckConstraint("old_status IS NULL OR " + in_check("old_status", ATTENDANCE_STATUSES), name="old_status"),
        Index("idx_attendance_changes_attendance", "attendance_id"),
        Index("idx_attendance_changes_enrollment", "enrollment_id"),
    )

    attendance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("class_attendance.id", ondelete="CASCADE"))
    enrollment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("class_enrollments.id"))
    meeting_number: Mapped[int] = mapped_column(Integer)
    old_status: Mapped[str | None] = mapped_column(String(20))
    new_status: Mapped[str] = mapped_column(String(20))
    # Credits moved by this change: +1 used a credit, -1 gave one back, 0 none.
    credit_change: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    changed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    reason: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[uuid.UUID | None]

    changer: Mapped[User | None] = relationship()
