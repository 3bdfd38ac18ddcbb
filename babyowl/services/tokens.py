"""Signed links sent by email: verify an address, reset or set a password.

A link carries the user's id and a fingerprint of what it is allowed to
change. Once that changes (the password is set, the address is verified or
changed), the same link no longer works: links are single-use without a table.
"""
from __future__ import annotations

import hashlib
import uuid

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from babyowl.extensions import db
from babyowl.models import User
from babyowl.services.errors import DomainError

VERIFY_EMAIL = "verify-email"
RESET_PASSWORD = "reset-password"
INVITATION = "invitation"

MAX_AGE_SETTING = {
    VERIFY_EMAIL: "EMAIL_VERIFICATION_MAX_AGE",
    RESET_PASSWORD: "PASSWORD_RESET_MAX_AGE",
    INVITATION: "INVITATION_MAX_AGE",
}


class InvalidLink(DomainError):
    status_code = 400


class ExpiredLink(InvalidLink):
    pass


def _fingerprint(purpose: str, user: User) -> str:
    if purpose == VERIFY_EMAIL:
        state = user.email
    else:
        state = user.password_hash or ""
    return hashlib.sha256(state.encode()).hexdigest()[:16]


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"babyowl-{purpose}")


def make_token(purpose: str, user: User) -> str:
    return _serializer(purpose).dumps({"uid": str(user.id), "fp": _fingerprint(purpose, user)})


def read_token(purpose: str, token: str) -> User:
    """The user the link was made for, or InvalidLink/ExpiredLink."""
    max_age = current_app.config[MAX_AGE_SETTING[purpose]]
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ExpiredLink(_("This link has expired. Ask for a new one.")) from exc
    except BadSignature as exc:
        raise InvalidLink(_("This link is not valid. Ask for a new one.")) from exc
    try:
        user = db.session.get(User, uuid.UUID(payload["uid"]))
    except (KeyError, TypeError, ValueError):
        user = None
    if user is None or payload.get("fp") != _fingerprint(purpose, user):
        raise InvalidLink(_("This link has already been used or is no longer valid. Ask for a new one."))
    return user
