"""Messaging (migration 0017): conversations with members, read pointers, moderation and audit.

The spec's `conversations.participant_1/participant_2` and `messages.read_at`
could hold neither a class conversation nor who read what in a group; they are
replaced by `conversation_members` (one row per person, with a read pointer)
and `conversations.kind`. A direct conversation is unique per pair through
`direct_key` (the two user ids in a fixed order); a class conversation is
unique per class.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, UUIDPrimaryKey, utcnow
from .checks import in_check

if TYPE_CHECKING:
    from .classes import SchoolClass
    from .users import User

CONVERSATION_KINDS = ("direct", "class")
REPORT_STATUSES = ("open", "resolved")


def direct_key(a: uuid.UUID, b: uuid.UUID) -> str:
    """The pair's key, the same whoever starts: the smaller id first."""
    first, second = sorted((str(a), str(b)))
    return f"{first}:{second}"


class Conversation(UUIDPrimaryKey, CreatedAt, Base):
    """A direct conversation between two people, or the conversation of one class."""

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint(in_check("kind", CONVERSATION_KINDS), name="kind"),
        CheckConstraint("(kind = 'direct' AND direct_key IS NOT NULL AND class_id IS NULL) OR "
                        "(kind = 'class' AND class_id IS NOT NULL AND direct_key IS NULL)", name="kind_key"),
        Index("idx_conversations_last_message", "last_message_at"),
    )

    kind: Mapped[str] = mapped_column(String(20), default="direct", server_default="direct")
    class_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), unique=True)
    direct_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    last_message_at: Mapped[datetime | None]

    school_class: Mapped[SchoolClass | None] = relationship()
    members: Mapped[list[ConversationMember]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", passive_deletes=True)


class ConversationMember(UUIDPrimaryKey, Base):
    """A person in a conversation; `last_read_message_id` only moves forward."""

    __tablename__ = "conversation_members"
    __table_args__ = (
        UniqueConstraint("conversation_id", "user_id"),
        Index("idx_conversation_members_user", "user_id"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    last_read_message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"))
    muted: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    joined_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=sa.func.now())
    left_at: Mapped[datetime | None]
    # The newest message an unread-messages digest email has told this person about.
    digested_through: Mapped[datetime | None]

    conversation: Mapped[Conversation] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class Message(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("idx_messages_sender", "sender_id"),
        # Spec: created_at DESC; see idx_community_posts_created for why plain.
        Index("idx_messages_created", "created_at"),
        # Cursor paging, polling and unread counts: one range scan per conversation.
        Index("idx_messages_conversation_created", "conversation_id", "created_at", "id"),
        # Who removed it and why exist only for a removed message.
        CheckConstraint("deleted_at IS NOT NULL OR (deleted_by IS NULL AND deletion_reason IS NULL)",
                        name="deletion"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    # SET NULL keeps the other participants' history when a sender row is deleted
    # (erasure keeps the anonymous row, so the sender reads "Erased user").
    sender_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    content: Mapped[str] = mapped_column(Text)
    # Sanitised HTML of the Markdown in `content` (nh3), made when the message is sent.
    content_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Soft delete: by the sender (no reason) or by a moderator (with a reason).
    deleted_at: Mapped[datetime | None]
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deletion_reason: Mapped[str | None] = mapped_column(Text)

    conversation: Mapped[Conversation] = relationship()
    sender: Mapped[User | None] = relationship(foreign_keys=[sender_id])
    attachments: Mapped[list[MessageAttachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan", passive_deletes=True,
        order_by="MessageAttachment.created_at")

    @property
    def removed_by_moderator(self) -> bool:
        return self.deleted_at is not None and self.deleted_by is not None and self.deleted_by != self.sender_id


class MessageAttachment(UUIDPrimaryKey, CreatedAt, Base):
    """An image (re-encoded) or a PDF sent with a message, kept through the storage edge."""

    __tablename__ = "message_attachments"
    __table_args__ = (Index("idx_message_attachments_message", "message_id"),)

    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(String(500), unique=True)
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)

    message: Mapped[Message] = relationship(back_populates="attachments")

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class MessageReport(UUIDPrimaryKey, CreatedAt, Base):
    """A person reports a message; staff see it in their queue with its context."""

    __tablename__ = "message_reports"
    __table_args__ = (
        UniqueConstraint("message_id", "reporter_id"),
        CheckConstraint(in_check("status", REPORT_STATUSES), name="status"),
        Index("idx_message_reports_status", "status", "created_at"),
    )

    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    reporter_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None]

    message: Mapped[Message] = relationship()
    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id])


class UserBlock(UUIDPrimaryKey, CreatedAt, Base):
    """`blocker_id` does not want direct messages from `blocked_id` (and cannot send them any)."""

    __tablename__ = "user_blocks"
    __table_args__ = (
        UniqueConstraint("blocker_id", "blocked_id"),
        CheckConstraint("blocker_id <> blocked_id", name="not_self"),
        Index("idx_user_blocks_blocked", "blocked_id"),
    )

    blocker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    blocked_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class ConversationReadAudit(UUIDPrimaryKey, Base):
    """Staff opened a conversation they are not a member of: who, which, when (shown to super_admin)."""

    __tablename__ = "conversation_read_audits"
    __table_args__ = (Index("idx_conversation_read_audits_read_at", "read_at"),)

    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    reader_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    read_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=sa.func.now())

    conversation: Mapped[Conversation] = relationship()
    reader: Mapped[User | None] = relationship()
