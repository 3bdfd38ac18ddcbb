from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, JSONType, Timestamps, UUIDPrimaryKey, utcnow
from .checks import in_check

if TYPE_CHECKING:
    from .users import User

GROUP_MEMBER_ROLES = ("member", "admin", "creator")
RSVP_STATUSES = ("attending", "maybe", "declined")


class CommunityPost(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "community_posts"
    __table_args__ = (
        Index("idx_community_posts_author", "author_id"),
        # Spec: created_at DESC; a B-tree is scanned both ways, and a DESC
        # index makes Alembic autogenerate report false drift.
        Index("idx_community_posts_created", "created_at"),
    )

    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)
    media_urls: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")
    # Denormalised counters so the feed does not count rows per post.
    likes_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    comments_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    shares_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    author: Mapped[User] = relationship()
    comments: Mapped[list[CommunityComment]] = relationship(
        back_populates="post",
        order_by="CommunityComment.created_at",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    likes: Mapped[list[CommunityPostLike]] = relationship(
        back_populates="post", cascade="all, delete-orphan", passive_deletes=True
    )


class CommunityPostLike(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "community_post_likes"
    __table_args__ = (
        UniqueConstraint("post_id", "user_id"),
        Index("idx_post_likes_post", "post_id"),
    )

    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_posts.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    post: Mapped[CommunityPost] = relationship(back_populates="likes")
    user: Mapped[User] = relationship()


class CommunityComment(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "community_comments"
    __table_args__ = (Index("idx_comments_post", "post_id"),)

    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_posts.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)

    post: Mapped[CommunityPost] = relationship(back_populates="comments")
    author: Mapped[User] = relationship()


class CommunityGroup(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "community_groups"

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    icon: Mapped[str | None] = mapped_column(String(50))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    members_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    creator: Mapped[User | None] = relationship()
    members: Mapped[list[CommunityGroupMember]] = relationship(
        back_populates="group", cascade="all, delete-orphan", passive_deletes=True
    )


class CommunityGroupMember(UUIDPrimaryKey, Base):
    __tablename__ = "community_group_members"
    __table_args__ = (
        UniqueConstraint("group_id", "user_id"),
        CheckConstraint(in_check("role", GROUP_MEMBER_ROLES), name="role"),
        Index("idx_group_members_group", "group_id"),
        Index("idx_group_members_user", "user_id"),
    )

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_groups.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(50), default="member", server_default="member")
    joined_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    group: Mapped[CommunityGroup] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class CommunityEvent(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "community_events"

    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    event_date: Mapped[date]
    start_time: Mapped[time]
    end_time: Mapped[time]
    location: Mapped[str | None] = mapped_column(String(255))  # 'Online' or a physical place
    attendees_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    creator: Mapped[User | None] = relationship()
    rsvps: Mapped[list[CommunityEventRSVP]] = relationship(
        back_populates="event", cascade="all, delete-orphan", passive_deletes=True
    )


class CommunityEventRSVP(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "community_event_rsvps"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        CheckConstraint(in_check("status", RSVP_STATUSES), name="status"),
        Index("idx_event_rsvps_event", "event_id"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_events.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(50), default="attending", server_default="attending")

    event: Mapped[CommunityEvent] = relationship(back_populates="rsvps")
    user: Mapped[User] = relationship()
