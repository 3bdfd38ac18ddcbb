from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, JSONType, Timestamps, UUIDPrimaryKey, utcnow
from .checks import in_check

if TYPE_CHECKING:
    from .classes import SchoolClass
    from .progress import CodingSubmission
    from .users import User

GROUP_MEMBER_ROLES = ("member", "admin", "creator")
RSVP_STATUSES = ("attending", "maybe", "declined")
# Where a post is seen: the whole school, one class (its students, instructor,
# staff) or one study group (its members, staff). Never outside the school.
POST_SCOPES = ("school", "class", "group")
# pending: waits for staff approval (the school's setting); published: seen by
# its scope; hidden/removed: a moderator took it away (who, when, why);
# deleted: its author took it away.
POST_STATUSES = ("pending", "published", "hidden", "removed", "deleted")
COMMENT_STATUSES = ("published", "hidden", "removed", "deleted")
GONE_STATUSES = ("hidden", "removed", "deleted")
MAX_POST_IMAGES = 4
GROUP_STATUSES = ("requested", "active", "rejected")
GROUP_JOIN_POLICIES = ("open", "invitation")
INVITATION_STATUSES = ("pending", "accepted", "declined")
# invitation: an admin invited the person; request: the person asked to join an invitation-only group.
INVITATION_KINDS = ("invitation", "request")
REPORT_STATUSES = ("open", "resolved", "dismissed")


def _scope_check() -> str:
    return ("(scope = 'school' AND class_id IS NULL AND group_id IS NULL) OR "
            "(scope = 'class' AND class_id IS NOT NULL AND group_id IS NULL) OR "
            "(scope = 'group' AND group_id IS NOT NULL AND class_id IS NULL)")


def _moderation_check(statuses) -> str:
    gone = ", ".join(f"'{s}'" for s in GONE_STATUSES)
    return (f"(status IN ({gone})) = (moderated_at IS NOT NULL) AND "
            "(status NOT IN ('hidden', 'removed') OR moderation_reason IS NOT NULL)")


class CommunityPost(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "community_posts"
    __table_args__ = (
        Index("idx_community_posts_author", "author_id"),
        # Spec: created_at DESC; a B-tree is scanned both ways, and a DESC
        # index makes Alembic autogenerate report false drift.
        Index("idx_community_posts_created", "created_at"),
        # The feed pages on (created_at, id), newest first.
        Index("idx_community_posts_feed", "created_at", "id"),
        Index("idx_community_posts_group", "group_id"),
        Index("idx_community_posts_class", "class_id"),
        Index("idx_community_posts_status", "status"),
        CheckConstraint(in_check("scope", POST_SCOPES), name="scope"),
        CheckConstraint(_scope_check(), name="scope_target"),
        CheckConstraint(in_check("status", POST_STATUSES), name="status"),
        CheckConstraint(_moderation_check(POST_STATUSES), name="moderation"),
        CheckConstraint("likes_count >= 0 AND comments_count >= 0", name="counters"),
    )

    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)
    # Beyond the spec: the sanitised HTML of `content` (rendered once, on write).
    content_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    scope: Mapped[str] = mapped_column(String(20), default="school", server_default="school")
    class_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("community_groups.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="published", server_default="published")
    # Who took the post away, when and why (a moderator; or its author, without a reason).
    moderated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moderated_at: Mapped[datetime | None]
    moderation_reason: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The author's own coding submission shown with the post (code read-only).
    coding_submission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("coding_submissions.id", ondelete="SET NULL"))
    # The turtle drawing of the shared program, as the coding page recorded it (validated, drawn as SVG).
    drawing: Mapped[dict | None] = mapped_column(JSONType)
    # Likes up to this moment were told to the author in a digest (never one notification per like).
    likes_notified_at: Mapped[datetime | None]
    media_urls: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")
    # Denormalised counters so the feed does not count rows per post.
    likes_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    comments_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    shares_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    moderator: Mapped[User | None] = relationship(foreign_keys=[moderated_by])
    group: Mapped[CommunityGroup | None] = relationship()
    school_class: Mapped[SchoolClass | None] = relationship()
    coding_submission: Mapped[CodingSubmission | None] = relationship()
    images: Mapped[list[CommunityPostImage]] = relationship(
        back_populates="post", order_by="CommunityPostImage.position", cascade="all, delete-orphan",
        passive_deletes=True)
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
    __table_args__ = (
        Index("idx_comments_post", "post_id"),
        Index("idx_comments_post_created", "post_id", "created_at", "id"),
        CheckConstraint(in_check("status", COMMENT_STATUSES), name="status"),
        CheckConstraint(_moderation_check(COMMENT_STATUSES), name="moderation"),
    )

    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_posts.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)
    content_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(20), default="published", server_default="published")
    moderated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moderated_at: Mapped[datetime | None]
    moderation_reason: Mapped[str | None] = mapped_column(Text)

    post: Mapped[CommunityPost] = relationship(back_populates="comments")
    author: Mapped[User] = relationship(foreign_keys=[author_id])


class CommunityPostImage(UUIDPrimaryKey, CreatedAt, Base):
    """Beyond the spec: up to four pictures of a post, re-encoded, kept through the storage edge."""

    __tablename__ = "community_post_images"
    __table_args__ = (
        UniqueConstraint("post_id", "position"),
        CheckConstraint(f"position >= 0 AND position < {MAX_POST_IMAGES}", name="position"),
    )

    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_posts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(500), unique=True)

    post: Mapped[CommunityPost] = relationship(back_populates="images")


class CommunityGroup(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "community_groups"
    __table_args__ = (
        CheckConstraint(in_check("status", GROUP_STATUSES), name="status"),
        CheckConstraint(in_check("join_policy", GROUP_JOIN_POLICIES), name="join_policy"),
        CheckConstraint("members_count >= 0", name="members_count"),
    )

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    icon: Mapped[str | None] = mapped_column(String(50))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    members_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Beyond the spec: a student's request waits for staff; open groups are joined, others by invitation.
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    join_policy: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]

    creator: Mapped[User | None] = relationship(foreign_keys=[created_by])
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


class CommunityGroupInvitation(UUIDPrimaryKey, CreatedAt, Base):
    """Beyond the spec: an invitation to a group, or a person's request to join one (one per person and group)."""

    __tablename__ = "community_group_invitations"
    __table_args__ = (
        UniqueConstraint("group_id", "user_id"),
        CheckConstraint(in_check("status", INVITATION_STATUSES), name="status"),
        CheckConstraint(in_check("kind", INVITATION_KINDS), name="kind"),
        Index("idx_group_invitations_user", "user_id"),
    )

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_groups.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    invited_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20), default="invitation", server_default="invitation")
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    answered_at: Mapped[datetime | None]

    group: Mapped[CommunityGroup] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class CommunityEvent(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "community_events"
    __table_args__ = (
        CheckConstraint("end_time > start_time", name="times"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity"),
        # The service refuses with "full"; this is the last guard.
        CheckConstraint("attendees_count >= 0 AND (capacity IS NULL OR attendees_count <= capacity)",
                        name="attendees_within_capacity"),
        Index("idx_community_events_date", "event_date"),
    )

    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    event_date: Mapped[date]
    start_time: Mapped[time]
    end_time: Mapped[time]
    location: Mapped[str | None] = mapped_column(String(255))  # 'Online' or a physical place
    attendees_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Beyond the spec: date and times are the school's wall clock (SCHOOL_TIMEZONE).
    online: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    capacity: Mapped[int | None] = mapped_column(Integer)
    reminder_sent_at: Mapped[datetime | None]

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


class CommunityReport(UUIDPrimaryKey, CreatedAt, Base):
    """Beyond the spec: a person reports a post or a comment; staff see it in their queue."""

    __tablename__ = "community_reports"
    __table_args__ = (
        CheckConstraint("(post_id IS NULL) <> (comment_id IS NULL)", name="one_target"),
        CheckConstraint(in_check("status", REPORT_STATUSES), name="status"),
        # Reporting the same thing twice changes nothing.
        UniqueConstraint("reporter_id", "post_id"),
        UniqueConstraint("reporter_id", "comment_id"),
        Index("idx_community_reports_status", "status"),
    )

    post_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("community_posts.id", ondelete="CASCADE"))
    comment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("community_comments.id", ondelete="CASCADE"))
    reporter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None]

    post: Mapped[CommunityPost | None] = relationship()
    comment: Mapped[CommunityComment | None] = relationship()
    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id])


class CommunitySettings(Base):
    """Beyond the spec: the school's one row of community settings."""

    __tablename__ = "community_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    # Off by default: students' posts are seen at once.
    posts_need_approval: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    muted_words: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())
