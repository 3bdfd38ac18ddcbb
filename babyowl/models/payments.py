"""Money: the spec's `payments` table, and the invoice flow of issue #17.

An invoice asks one student for one amount (a class's package, or meetings
added to a private class) plus a 3-digit unique code, so a line on the bank
statement matches exactly one open invoice (a partial UNIQUE index on the
expected total of open invoices). Every change of state is a row of
`invoice_events` (append-only: who, when, why, how much). A delivery row,
UNIQUE per invoice, is what makes "enrol / add credits" happen exactly once.
Proofs of transfer are stored files, hashed (sha256) to catch one screenshot
sent for two invoices. The rules are in `services/payments.py`.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, func, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, Timestamps, UUIDPrimaryKey, utcnow
from .checks import in_check

if TYPE_CHECKING:
    from .classes import ClassEnrollment, SchoolClass
    from .courses import Course
    from .users import User

# The spec's payments.status.
PAYMENT_STATUSES = ("pending", "verified", "refunded")
# class_enrollments.payment_status: the spec's values, plus what an invoice can leave it in.
ENROLLMENT_PAYMENT_STATUSES = ("pending", "partially_paid", "verified", "refunded", "partially_refunded")

INVOICE_KINDS = ("enrollment", "top_up")
INVOICE_STATUSES = ("pending", "submitted", "partially_paid", "verified", "rejected", "expired", "cancelled",
                    "refunded", "partially_refunded")
# Still waiting for money: these hold a seat and keep their unique code.
OPEN_INVOICE_STATUSES = ("pending", "submitted", "partially_paid", "rejected")


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


class BankAccount(UUIDPrimaryKey, CreatedAt, Base):
    """A school account students transfer to; set by super_admin, shown on every open invoice."""

    __tablename__ = "bank_accounts"
    __table_args__ = (UniqueConstraint("bank_name", "account_number"),)

    bank_name: Mapped[str] = mapped_column(String(100))
    account_number: Mapped[str] = mapped_column(String(50))
    account_holder: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class Invoice(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("number"),
        CheckConstraint(in_check("kind", INVOICE_KINDS), name="kind"),
        CheckConstraint(in_check("status", INVOICE_STATUSES), name="status"),
        CheckConstraint("unique_code BETWEEN 1 AND 999", name="unique_code_range"),
        CheckConstraint("amount_due >= 0", name="amount_due_non_negative"),
        CheckConstraint("expected_total = amount_due + unique_code", name="expected_total_adds_up"),
        CheckConstraint("amount_received >= 0", name="amount_received_non_negative"),
        CheckConstraint("amount_refunded >= 0 AND amount_refunded <= amount_received", name="refund_within_received"),
        CheckConstraint("meetings > 0", name="meetings_positive"),
        # No two open invoices expect the same total: a bank line matches one invoice.
        Index("uq_invoices_open_expected_total", "expected_total", unique=True,
              postgresql_where=text("status IN ('pending', 'submitted', 'partially_paid', 'rejected')"),
              sqlite_where=text("status IN ('pending', 'submitted', 'partially_paid', 'rejected')")),
        Index("idx_invoices_student", "student_id"),
        Index("idx_invoices_class", "class_id"),
        Index("idx_invoices_status_due", "status", "due_at"),
    )

    number: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(20))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"))
    # Set from the start when staff enrolled the student; on delivery for self-service.
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("class_enrollments.id"))
    meetings: Mapped[int] = mapped_column(Integer)
    amount_due: Mapped[Decimal] = mapped_column(Numeric(15, 2))
    unique_code: Mapped[int] = mapped_column(Integer)
    expected_total: Mapped[Decimal] = mapped_column(Numeric(15, 2))
    amount_received: Mapped[Decimal] = mapped_column(Numeric(15, 2), default=Decimal("0"), server_default="0")
    amount_refunded: Mapped[Decimal] = mapped_column(Numeric(15, 2), default=Decimal("0"), server_default="0")
    status: Mapped[str] = mapped_column(String(30), default="pending", server_default="pending")
    due_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    student: Mapped[User] = relationship(foreign_keys=[student_id])
    creator: Mapped[User | None] = relationship(foreign_keys=[created_by])
    school_class: Mapped[SchoolClass] = relationship()
    enrollment: Mapped[ClassEnrollment | None] = relationship()
    events: Mapped[list[InvoiceEvent]] = relationship(back_populates="invoice", order_by="InvoiceEvent.created_at")
    proofs: Mapped[list[PaymentProof]] = relationship(back_populates="invoice", order_by="PaymentProof.created_at")

    @property
    def amount_outstanding(self) -> Decimal:
        return max(Decimal("0"), self.expected_total - self.amount_received)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_INVOICE_STATUSES


class InvoiceEvent(UUIDPrimaryKey, Base):
    """One change of an invoice's state: append-only, never updated or deleted."""

    __tablename__ = "invoice_events"
    __table_args__ = (
        CheckConstraint("old_status IS NULL OR " + in_check("old_status", INVOICE_STATUSES), name="old_status"),
        CheckConstraint(in_check("new_status", INVOICE_STATUSES), name="new_status"),
        Index("idx_invoice_events_invoice", "invoice_id", "created_at"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))  # None: the expiry job
    old_status: Mapped[str | None] = mapped_column(String(30))
    new_status: Mapped[str] = mapped_column(String(30))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    invoice: Mapped[Invoice] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class PaymentProof(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "payment_proofs"
    __table_args__ = (
        CheckConstraint("file_size > 0", name="file_size_positive"),
        Index("idx_payment_proofs_invoice", "invoice_id"),
        Index("idx_payment_proofs_sha256", "sha256"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"))
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    file_key: Mapped[str] = mapped_column(String(500))
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    file_size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    transfer_date: Mapped[date | None]
    sender_name: Mapped[str | None] = mapped_column(String(255))
    sender_bank: Mapped[str | None] = mapped_column(String(100))

    invoice: Mapped[Invoice] = relationship(back_populates="proofs")
    uploader: Mapped[User | None] = relationship()


class InvoiceDelivery(UUIDPrimaryKey, Base):
    """What verifying an invoice gave (an enrollment, credits): one row per invoice, ever (UNIQUE)."""

    __tablename__ = "invoice_deliveries"
    __table_args__ = (UniqueConstraint("invoice_id"),)

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"))
    enrollment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("class_enrollments.id"))
    credits_added: Mapped[int] = mapped_column(Integer)
    delivered_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
