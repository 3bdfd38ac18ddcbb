from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, UUIDPrimaryKey

if TYPE_CHECKING:
    from .users import User


class Notification(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("idx_notifications_user", "user_id"),
        Index("idx_notifications_read", "read"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    type: Mapped[str | None] = mapped_column(String(100))  # e.g. 'lesson_unlocked', 'badge_earned'
    title: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)
    read: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    # Polymorphic pointer (lesson, assignment, badge...), hence no foreign key.
    reference_id: Mapped[uuid.UUID | None]

    user: Mapped[User] = relationship()
