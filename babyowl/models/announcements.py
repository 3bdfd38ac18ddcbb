from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Timestamps, UUIDPrimaryKey, utcnow

if TYPE_CHECKING:
    from .classes import SchoolClass
    from .users import User


class Announcement(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "announcements"
    __table_args__ = (
        Index("idx_announcements_instructor", "instructor_id"),
        Index("idx_announcements_class", "class_id"),
        # The sweep looks for what is not sent yet and due.
        Index("idx_announcements_due", "sent_at", "scheduled_at"),
        CheckConstraint("sent_at IS NULL OR cancelled_at IS NULL", name="sent_or_cancelled"),
    )

    # The author: the class's instructor, or the staff member who wrote it.
    instructor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)  # the Markdown the author typed, kept for editing
    # Beyond the spec: the Markdown rendered and sanitised (nh3) when it was saved.
    content_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    scheduled_at: Mapped[datetime | None]  # NULL means send immediately
    sent_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]  # beyond the spec: a scheduled one withdrawn before it went out

    @property
    def state(self) -> str:
        if self.sent_at is not None:
            return "sent"
        if self.cancelled_at is not None:
            return "cancelled"
        return "scheduled"

    school_class: Mapped[SchoolClass] = relationship(back_populates="announcements")
    instructor: Mapped[User] = relationship()
    reads: Mapped[list[AnnouncementRead]] = relationship(
        back_populates="announcement", cascade="all, delete-orphan", passive_deletes=True
    )


class AnnouncementRead(UUIDPrimaryKey, Base):
    __tablename__ = "announcement_reads"
    __table_args__ = (
        UniqueConstraint("announcement_id", "user_id"),
        Index("idx_announcement_reads_announcement", "announcement_id"),
    )

    announcement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    read_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    announcement: Mapped[Announcement] = relationship(back_populates="reads")
    user: Mapped[User] = relationship()
