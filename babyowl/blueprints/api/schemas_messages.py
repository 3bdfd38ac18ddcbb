"""Request and response bodies of the messages operations (DTOs, never ORM objects)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from babyowl.blueprints.api.core import ApiModel, PageQuery


class ConversationOut(ApiModel):
    id: uuid.UUID
    kind: Literal["direct", "class"]
    title: str
    class_id: uuid.UUID | None = None
    other_user_id: uuid.UUID | None = Field(None, description="The other person of a direct conversation.")
    unread: int = Field(description="Messages after my read pointer (not mine, not removed).")
    muted: bool
    last_message_at: datetime | None = None


class ConversationDetailOut(ApiModel):
    id: uuid.UUID
    kind: Literal["direct", "class"]
    title: str
    class_id: uuid.UUID | None = None
    other_user_id: uuid.UUID | None = None
    members_count: int
    is_member: bool = Field(description="False: staff reading as a moderator (reading the messages is logged).")
    can_write: bool
    refusal: str | None = Field(None, description="Why I cannot write here, when I cannot.")


class StartConversationIn(ApiModel):
    user_id: uuid.UUID


class AttachmentOut(ApiModel):
    id: uuid.UUID
    file_name: str
    content_type: str
    size_bytes: int


class MessageOut(ApiModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    sender_id: uuid.UUID | None = None
    sender_name: str | None = None
    content: str | None = Field(None, description="The Markdown as written; null once deleted or removed.")
    content_html: str | None = Field(None, description="Sanitised HTML of the Markdown; null once deleted.")
    created_at: datetime
    deleted: bool = False
    removed_by_moderator: bool = False
    deletion_reason: str | None = Field(None, description="Why a moderator removed it (shown to moderators).")
    attachments: list[AttachmentOut] = Field(default_factory=list)


class MessagesQuery(PageQuery):
    after: uuid.UUID | None = Field(None, description=(
        "Polling: the messages newer than this one, oldest first (send the newest id you have). Without it: "
        "newest first, older pages by `cursor`."))


class SendMessageIn(ApiModel):
    text: str = Field(max_length=5000)


class SendFileForm(ApiModel):
    text: str | None = Field(None, max_length=5000)
    file: Any = Field(json_schema_extra={"type": "string", "format": "binary"},
                      description="A picture (re-encoded as JPEG) or a PDF, size-capped by the school.")


class MarkReadIn(ApiModel):
    message_id: uuid.UUID = Field(description="The newest message read; the pointer never moves back.")


class MarkReadOut(ApiModel):
    moved: bool
    unread: int = Field(description="What is still unread in this conversation.")


class ReasonIn(ApiModel):
    reason: str = Field(min_length=1, max_length=1000)


class MessageReportOut(ApiModel):
    id: uuid.UUID
    message_id: uuid.UUID
    status: str
    created_at: datetime


class PersonOut(ApiModel):
    id: uuid.UUID
    full_name: str
    role: str


class PeopleQuery(ApiModel):
    q: str = Field("", max_length=200, description="A name or an email to search for.")
    limit: int = Field(20, ge=1, le=50)


class BlockOut(ApiModel):
    user_id: uuid.UUID
    blocked: bool
