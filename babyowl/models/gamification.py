from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, JSONType, UUIDPrimaryKey, utcnow
from .checks import in_check

if TYPE_CHECKING:
    from .users import User

BADGE_RARITIES = ("common", "rare", "epic", "legendary")


class XPTransaction(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "xp_transactions"
    __table_args__ = (Index("idx_xp_transactions_user", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(255))  # e.g. 'lesson_complete', 'quiz_complete'
    # Polymorphic pointer (lesson, quiz, assignment...), hence no foreign key.
    reference_id: Mapped[uuid.UUID | None]

    user: Mapped[User] = relationship()


class UserLevel(UUIDPrimaryKey, Base):
    __tablename__ = "user_levels"
    __table_args__ = (Index("idx_user_levels_user", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    current_level: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    total_xp: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    current_streak: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_activity_date: Mapped[date | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())

    user: Mapped[User] = relationship()


class Badge(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "badges"
    __table_args__ = (CheckConstraint(in_check("rarity", BADGE_RARITIES), name="rarity"),)

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(500))
    criteria: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # unlock criteria
    rarity: Mapped[str | None] = mapped_column(String(50))


class UserBadge(UUIDPrimaryKey, Base):
    __tablename__ = "user_badges"
    __table_args__ = (
        UniqueConstraint("user_id", "badge_id"),
        Index("idx_user_badges_user", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    badge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("badges.id"))
    earned_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    user: Mapped[User] = relationship()
    badge: Mapped[Badge] = relationship()
