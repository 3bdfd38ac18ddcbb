"""XP ledger, level cache, badges, class leaderboard settings, streak repairs (rules: services/xp.py)."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, JSONType, UUIDPrimaryKey, utcnow
from .checks import in_check

if TYPE_CHECKING:
    from .users import User

BADGE_RARITIES = ("common", "rare", "epic", "legendary")
# Why XP was given; each reason names what `reference_id` points at.
XP_REASONS = (
    "exercise_completed",   # exercise id (material, video)
    "lesson_completed",     # lesson id
    "quiz_passed",          # exercise id
    "coding_passed",        # exercise id
    "assignment_graded",    # uuid5(exercise id, "best:<grade>"): one row per increase of the best grade
    "attendance",           # class_attendance id
    "streak_milestone",     # uuid5(user id, "streak:<days>:<first day>")
    "badge",                # badge id
    "bonus",                # a fresh uuid: staff's award or removal, with a note
    "community_post",       # the author's own user id: a first published community post, once
)
LEADERBOARD_MODES = ("off", "anonymous", "neighbours", "full")


class XPTransaction(UUIDPrimaryKey, CreatedAt, Base):
    """The append-only ledger: one row per thing that earned XP, never twice (the UNIQUE key)."""

    __tablename__ = "xp_transactions"
    __table_args__ = (
        UniqueConstraint("user_id", "reason", "reference_id"),
        CheckConstraint(in_check("reason", XP_REASONS), name="reason"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        CheckConstraint("reason = 'bonus' OR amount > 0", name="only_bonus_negative"),
        CheckConstraint("reason <> 'bonus' OR note IS NOT NULL", name="bonus_has_note"),
        Index("idx_xp_transactions_user", "user_id"),
        Index("idx_xp_transactions_class", "class_id", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(255))
    # Polymorphic pointer (lesson, exercise, attendance mark...), hence no foreign key.
    reference_id: Mapped[uuid.UUID]
    # Beyond the spec: the class the work was done in (its leaderboard counts it); NULL for school-wide XP.
    class_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("classes.id", ondelete="SET NULL"))
    # What a derived reference_id is about (the assignment exercise of a grade increase).
    source_id: Mapped[uuid.UUID | None]
    # A bonus: who gave or removed it and why (the audit).
    awarded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    giver: Mapped[User | None] = relationship(foreign_keys=[awarded_by])


class UserLevel(UUIDPrimaryKey, Base):
    """A cache of the ledger's sum (`flask xp-rebuild` recomputes it) plus the student's own choices.

    The level is derived from total_xp and the curve in settings, never stored:
    the spec's current_level, current_streak and last_activity_date are dropped
    (streaks are computed from the ledger when read).
    """

    __tablename__ = "user_levels"
    __table_args__ = (
        Index("idx_user_levels_user", "user_id"),
        CheckConstraint("total_xp >= 0", name="total_xp_not_negative"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    total_xp: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The student's choices: hidden from class leaderboards; the time zone their streak days are counted in.
    leaderboard_opt_out: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    time_zone: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())

    user: Mapped[User] = relationship()


class Badge(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "badges"
    __table_args__ = (
        CheckConstraint(in_check("rarity", BADGE_RARITIES), name="rarity"),
        CheckConstraint("xp >= 0", name="xp_not_negative"),
    )

    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(500))
    # {"type": "<criterion name>", ...its parameters}: evaluated by babyowl/badges.py's registry.
    criteria: Mapped[dict[str, Any]] = mapped_column(JSONType)
    rarity: Mapped[str] = mapped_column(String(50))
    xp: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class UserBadge(UUIDPrimaryKey, Base):
    __tablename__ = "user_badges"
    __table_args__ = (
        UniqueConstraint("user_id", "badge_id"),
        Index("idx_user_badges_user", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    badge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("badges.id"))
    earned_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # Open Badges 2.0: the hosted assertion exists only while shared (chosen by the student or staff).
    shared_at: Mapped[datetime | None]
    recipient_salt: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()
    badge: Mapped[Badge] = relationship()


class ClassLeaderboard(Base):
    """How a class's leaderboard shows (none by default: a class without a row is `off`)."""

    __tablename__ = "class_leaderboards"
    __table_args__ = (
        CheckConstraint(in_check("mode", LEADERBOARD_MODES), name="mode"),
        CheckConstraint("neighbours BETWEEN 1 AND 10", name="neighbours_range"),
    )

    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(20), default="off", server_default="off")
    neighbours: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())


class StreakRepair(CreatedAt, Base):
    """A school day that counts as active for every streak (an outage: nobody could practise)."""

    __tablename__ = "streak_repairs"

    day: Mapped[date] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
