"""Signed-in sessions and the email outbox (beyond the spec, migration 0008).

`user_sessions`: one row per sign-in on a device. The session cookie and the
remember-me cookie carry its id, and every request checks the row, so signing
out (which revokes it) really ends that session, even for a copied cookie,
and a person can see and end their other devices. PostgreSQL holds it, not
Redis: signing in and out keep working when Redis is down.

`outbound_emails`: every account email (verification, reset, invitation,
erasure notice) is written here in the use case that sends it, then queued
after the commit. The job sends a row once (row lock, status); a sweep
re-queues rows whose job Redis lost.
"""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, CreatedAt, UUIDPrimaryKey, utcnow
from .checks import in_check

OUTBOUND_EMAIL_STATUSES = ("pending", "sent")


class UserSession(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "user_sessions"
    __table_args__ = (
        # The signed-in devices of a person, newest first.
        Index("idx_user_sessions_user", "user_id", "last_seen_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=sa.func.now())
    # A short, readable summary ("Chrome on Android"), never the full header.
    user_agent: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(45))
    revoked_at: Mapped[datetime | None]


class OutboundEmail(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "outbound_emails"
    __table_args__ = (
        CheckConstraint(in_check("status", OUTBOUND_EMAIL_STATUSES), name="status"),
        # The sweep looks for pending rows only.
        Index("idx_outbound_emails_pending", "created_at", postgresql_where=sa.text("status = 'pending'")),
    )

    # Who it is about, so a person's export and erasure find it; NULL for the
    # notice sent after an erasure (the account no longer has that address).
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    to_address: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(500))
    # The body is cleared once sent: the outbox is not an archive of links and tokens.
    text: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None]
