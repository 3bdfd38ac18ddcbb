from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, Timestamps, UUIDPrimaryKey
from .checks import in_check

if TYPE_CHECKING:
    from .users import User

# none: no email wanted; pending: the email job has yet to run; sent; skipped:
# the person had turned emails of this kind off when the job ran.
EMAIL_STATUSES = ("none", "pending", "sent", "skipped")


class Notification(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("idx_notifications_user", "user_id"),
        Index("idx_notifications_read", "read"),
        Index("idx_notifications_reference", "reference_id"),
        Index("idx_notifications_email_status", "email_status"),
        CheckConstraint(in_check("email_status", EMAIL_STATUSES), name="email_status"),
        # One notification per person per event (an announcement, a lesson of a
        # class): a retried or doubled send cannot notify anyone twice.
        UniqueConstraint("user_id", "event_key"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    type: Mapped[str | None] = mapped_column(String(100))  # e.g. 'lesson_unlocked', 'badge_earned'
    title: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)
    read: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    # Polymorphic pointer (lesson, assignment, badge...), hence no foreign key.
    reference_id: Mapped[uuid.UUID | None]
    # Beyond the spec: where the notification leads (a path in the app), what
    # makes it unique, and whether its email went out.
    link: Mapped[str | None] = mapped_column(String(500))
    event_key: Mapped[str | None] = mapped_column(String(200))
    email_status: Mapped[str] = mapped_column(String(20), default="none", server_default="none")
    emailed_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class NotificationPreference(UUIDPrimaryKey, Timestamps, Base):
    """Beyond the spec: a person's choice of email per kind of notification (no row: emails on)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(100))
    email: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
