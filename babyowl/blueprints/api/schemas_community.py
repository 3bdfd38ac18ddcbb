"""Request and response bodies of the community operations (DTOs, never ORM objects)."""
from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any, Literal

from pydantic import Field

from babyowl.blueprints.api.core import ApiModel, PageQuery


class PostOut(ApiModel):
    id: uuid.UUID
    author_id: uuid.UUID
    author_name: str | None = None
    content: str
    content_html: str = Field(description="The Markdown rendered and sanitised (nh3) when it was written.")
    scope: Literal["school", "class", "group"]
    class_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None
    status: Literal["pending", "published", "hidden", "removed", "deleted"]
    likes_count: int
    comments_count: int
    liked: bool = Field(False, description="Whether I like it.")
    image_count: int = 0
    coding_submission_id: uuid.UUID | None = None
    created_at: datetime
    updated_at: datetime | None = None
    moderated_by: uuid.UUID | None = Field(None, description="Who hid, removed or deleted it (and when, and why).")
    moderated_at: datetime | None = None
    moderation_reason: str | None = None


class FeedQuery(PageQuery):
    show: Literal["all", "classes", "groups", "school"] = Field(
        "all", description="all I may see; my classes; my groups; the whole school's posts.")
    class_id: uuid.UUID | None = Field(None, description="One class's posts (a class I am not in: 404).")
    group_id: uuid.UUID | None = Field(None, description="One study group's posts.")


class PostIn(ApiModel):
    content: str = Field(max_length=5000, description="Markdown; sanitised on the server.")
    scope: Literal["school", "class", "group"] = "school"
    class_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None
    coding_submission_id: uuid.UUID | None = Field(None, description="One of my own coding submissions to show.")

    @property
    def target_id(self) -> uuid.UUID | None:
        """The class or group the post goes to, as `community.create_post` takes it (None for the school)."""
        return self.class_id if self.scope == "class" else self.group_id if self.scope == "group" else None


class PostFilesForm(PostIn):
    """A post with pictures (multipart/form-data): the fields of a post, and `images` repeated, one per picture."""
    drawing: str | None = Field(None, max_length=200_000,
                                description="A turtle drawing as the coding page's \"Share this drawing\" sends it.")
    images: Any = Field(None, json_schema_extra={"type": "array", "items": {"type": "string", "format": "binary"}},
                        description="Pictures (JPEG, PNG, WebP; re-encoded), as many as the school allows a post.")


class PostEditIn(ApiModel):
    content: str = Field(max_length=5000)


class CommentOut(ApiModel):
    id: uuid.UUID
    post_id: uuid.UUID
    author_id: uuid.UUID
    author_name: str | None = None
    content: str
    content_html: str
    status: str
    created_at: datetime
    moderated_by: uuid.UUID | None = None
    moderated_at: datetime | None = None
    moderation_reason: str | None = None


class CommentIn(ApiModel):
    content: str = Field(max_length=2000)


class CommunityReportIn(ApiModel):
    reason: str = Field(min_length=1, max_length=500)


class ModerationIn(ApiModel):
    action: Literal["approve", "hide", "remove", "dismiss"]
    reason: str | None = Field(None, max_length=500, description="Required to hide or remove.")


class GroupOut(ApiModel):
    id: uuid.UUID
    name: str
    description: str | None = None
    status: str
    join_policy: str
    members_count: int
    my_role: str | None = Field(None, description="creator, admin or member; null when I am not in it.")


class EventOut(ApiModel):
    id: uuid.UUID
    title: str
    description: str | None = None
    event_date: date
    start_time: time
    end_time: time
    online: bool
    location: str | None = None
    capacity: int | None = None
    attendees_count: int
    full: bool = False
    my_rsvp: str | None = None


class RsvpIn(ApiModel):
    status: Literal["attending", "maybe", "declined"]
