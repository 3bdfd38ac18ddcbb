from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, UUIDPrimaryKey
from .checks import in_check

if TYPE_CHECKING:
    from .courses import Course
    from .users import User

# Shared with class_enrollments.payment_status.
PAYMENT_STATUSES = ("pending", "verified", "refunded")


class Payment(UUIDPrimaryKey, CreatedAt, Base):
    """A manually verified payment; the payer may not have an account yet."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(in_check("status", PAYMENT_STATUSES), name="status"),
        Index("idx_payments_email", "student_email"),
        Index("idx_payments_status", "status"),
    )

    student_name: Mapped[str | None] = mapped_column(String(255))
    student_email: Mapped[str | None] = mapped_column(String(255))
    student_phone: Mapped[str | None] = mapped_column(String(50))
    course_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("courses.id"))
    package_type: Mapped[str | None] = mapped_column(String(50))
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2))
    payment_method: Mapped[str | None] = mapped_column(String(100))
    payment_ref: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(50), default="pending", server_default="pending")
    notes: Mapped[str | None] = mapped_column(Text)
    verified_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None]

    course: Mapped[Course | None] = relationship()
    verifier: Mapped[User | None] = relationship()
