from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, JSONType, UUIDPrimaryKey

if TYPE_CHECKING:
    from .users import User


class Conversation(UUIDPrimaryKey, CreatedAt, Base):
    """A one-to-one message thread between two users."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("participant_1", "participant_2"),
        CheckConstraint("participant_1 <> participant_2", name="distinct_participants"),
        Index("idx_conversations_participants", "participant_1", "participant_2"),
    )

    # The unique pair is ordered, so (a, b) and (b, a) are different rows to the
    # database; services must store the pair in a canonical order.
    participant_1: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    participant_2: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    last_message_at: Mapped[datetime | None]

    participant_one: Mapped[User] = relationship(foreign_keys=[participant_1])
    participant_two: Mapped[User] = relationship(foreign_keys=[participant_2])
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation",
        order_by="Message.created_at",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Message(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("idx_messages_conversation", "conversation_id"),
        Index("idx_messages_sender", "sender_id"),
        # Spec: created_at DESC; see idx_community_posts_created for why plain.
        Index("idx_messages_created", "created_at"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    # SET NULL keeps the other participant's history when a sender is deleted.
    sender_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    content: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")
    read_at: Mapped[datetime | None]

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    sender: Mapped[User | None] = relationship()
