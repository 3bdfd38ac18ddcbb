"""The JSON API's DTOs of a person's own account: profile, signed-in devices, their data."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from babyowl.blueprints.api.core import ApiModel


class ProfileOut(ApiModel):
    id: uuid.UUID
    email: str
    full_name: str
    bio: str | None = None
    role: str
    language: str | None = None
    has_avatar: bool = Field(False, description="A picture is set: GET /me/profile/avatar answers it.")
    onboarding_completed: bool


class ProfileIn(ApiModel):
    """Only the fields sent change (as the profile page: name and "about me")."""

    full_name: str | None = Field(None, min_length=1, max_length=255)
    bio: str | None = Field(None, max_length=1000, description="An empty string removes it.")


class AvatarForm(ApiModel):
    file: Any = Field(None, json_schema_extra={"type": "string", "format": "binary"},
                      description="JPEG, PNG, GIF or WebP, at most 5 MB; stored as a JPEG.")


class DeviceOut(ApiModel):
    id: uuid.UUID
    device: str | None = Field(None, description="A short summary such as \"Chrome / Android\".")
    ip: str | None = None
    signed_in_at: datetime
    last_seen_at: datetime
    current: bool = Field(description="The device this request's token belongs to.")


class SignedOutOut(ApiModel):
    signed_out: int = Field(description="How many other devices were signed out.")
    message: str


class PasswordIn(ApiModel):
    password: str = Field(min_length=1, max_length=200)
