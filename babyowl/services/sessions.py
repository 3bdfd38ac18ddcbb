"""Signed-in sessions: one row per sign-in on a device, checked on every request.

Rules:
- Signing in starts a session (`start_session`, inside the sign-in use case);
  its id travels in the session cookie and in the remember-me cookie (through
  `User.get_id()`), so both die with the row.
- Every request loads the person and their session in one query by primary key
  (`signed_in_user`). A revoked session, one idle longer than the remember-me
  lifetime, or one whose password fingerprint no longer matches, is signed out.
- Signing out revokes this session only; the person's other devices stay
  signed in. They can end one other device, or all of them but this one; a
  new password ends all the others (`revoke_others`).
- PostgreSQL holds the sessions, never Redis, so signing in and out keep
  working while Redis is down. `last_seen_at` is written at most every few
  minutes per session, on its own short connection, so a page view never
  joins (or waits for) a use case's transaction.
"""
from __future__ import annotations

import functools
import re
import uuid
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, delete, select, update

from babyowl.extensions import db
from babyowl.models import User, UserSession
from babyowl.models.base import utcnow
from babyowl.services.errors import DomainError
from babyowl.transactions import use_case

# How stale `last_seen_at` may get before a request refreshes it.
TOUCH_EVERY = timedelta(minutes=5)


class SessionNotFound(DomainError):
    """Already signed out, or not this person's: the same answer, so ids of others' sessions tell nothing."""


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("SamsungBrowser", "Samsung Internet"), ("Firefox/", "Firefox"),
             ("Chrome/", "Chrome"), ("CriOS", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("CrOS", "ChromeOS"),
            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Linux", "Linux"))


def describe_device(user_agent: str | None) -> str | None:
    """A short summary such as "Chrome on Android"; the full header says more than a person needs to see."""
    if not user_agent:
        return None
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), None)
    if browser and system:
        return f"{browser} / {system}"
    # Something else (a script, a test client): its first word, printable only.
    return (browser or system or re.sub(r"[^\w./ -]", "", user_agent.split(" ", 1)[0]))[:200] or None


def _max_idle() -> timedelta:
    # The longest a remember-me cookie lives: no session outlives it.
    duration = current_app.config["REMEMBER_COOKIE_DURATION"]
    return duration if isinstance(duration, timedelta) else timedelta(seconds=int(duration))


def start_session(user: User, *, user_agent: str | None, ip: str | None) -> UserSession:
    """A new signed-in session for `user`, part of the caller's sign-in use case."""
    login_session = UserSession(id=uuid.uuid4(), user_id=user.id, user_agent=describe_device(user_agent),
                                ip=(ip or None) and ip[:45], last_seen_at=utcnow())
    db.session.add(login_session)
    user.current_session_id = login_session.id
    return login_session


# Built once: constructing the statement cost more CPU than running it, on every request.
_LIVE_SESSION = (
    select(User, UserSession.last_seen_at).join(UserSession, UserSession.user_id == User.id)
    .where(UserSession.id == bindparam("session_id"), User.id == bindparam("user_id"),
           UserSession.revoked_at.is_(None), UserSession.last_seen_at > bindparam("seen_after"))
)


@functools.cache
def _live_session_with_header_counts():
    from babyowl.services import header_counts

    return _LIVE_SESSION.add_columns(*header_counts.count_columns(User.id))


def signed_in_user(user_id: uuid.UUID, session_id: uuid.UUID, *, header_counts: bool = False) -> User | None:
    """The user of a live session (one query by primary key), or None.

    `header_counts`: a page the layout will frame reads the header's unread counts in the same statement
    (services/header_counts.py) instead of one of its own."""
    now = utcnow()
    statement = _live_session_with_header_counts() if header_counts else _LIVE_SESSION
    row = db.session.execute(statement, {"session_id": session_id, "user_id": user_id,
                                         "seen_after": now - _max_idle()}).first()
    if row is None:
        return None
    user, last_seen_at = row[0], row[1]
    if header_counts:
        from babyowl.services.header_counts import remember

        remember(user.id, row[2], row[3])
    user.current_session_id = session_id
    if last_seen_at < now - TOUCH_EVERY:
        _touch(session_id, now)
    return user


def _touch(session_id: uuid.UUID, now) -> None:
    # Its own connection and transaction: a request's use case commits or rolls
    # back on its own, and a busy row is simply skipped until the next request.
    with db.engine.begin() as connection:
        connection.execute(update(UserSession).where(UserSession.id == session_id,
                                                     UserSession.last_seen_at < now - TOUCH_EVERY)
                           .values(last_seen_at=now))


def active_sessions(user: User) -> list[UserSession]:
    return list(db.session.scalars(_active(user).order_by(UserSession.last_seen_at.desc())))


def _active(user: User):
    return select(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None),
                                     UserSession.last_seen_at > utcnow() - _max_idle())


def active_sessions_after(user: User, *, after: list | None = None, limit: int = 20):
    """The same devices, one keyset page, newest sign-in first (not by last activity, which moves while a client
    pages: a device active between two pages would jump past the cursor)."""
    from datetime import datetime

    from babyowl.services.listing import Key, keyset_page

    keys = (Key(UserSession.created_at, datetime, descending=True), Key(UserSession.id, uuid.UUID, descending=True))
    return keyset_page(_active(user), keys, after=after, limit=limit)


def _revoke(user: User, session_ids=None, *, keep: uuid.UUID | None = None) -> int:
    query = (update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
             .values(revoked_at=utcnow()))
    if session_ids is not None:
        query = query.where(UserSession.id.in_(session_ids))
    if keep is not None:
        query = query.where(UserSession.id != keep)
    return db.session.execute(query).rowcount


def revoke_all(user: User) -> int:
    """End every session of `user` (inside the caller's use case): suspended, or erased."""
    return _revoke(user)


def revoke_others(user: User) -> int:
    """End every session of `user` but the current one (inside the caller's use case)."""
    return _revoke(user, keep=getattr(user, "current_session_id", None))


@use_case
def sign_out(user: User) -> None:
    """End this session; the person's other devices stay signed in."""
    session_id = getattr(user, "current_session_id", None)
    if session_id is not None:
        _revoke(user, [session_id])


@use_case
def sign_out_device(user: User, session_id: uuid.UUID) -> None:
    """End one of the person's other sessions (a lost phone, a shared computer)."""
    if not _revoke(user, [session_id], keep=getattr(user, "current_session_id", None)):
        raise SessionNotFound(_("This device is no longer signed in."))


@use_case
def sign_out_everywhere_else(user: User) -> int:
    return revoke_others(user)


# Kept this long after a session ended, so the devices list and an export can still say when it was used.
ENDED_KEPT = timedelta(days=30)


@use_case
def prune_ended_sessions() -> int:
    """Delete sessions revoked, or idle past the remember-me lifetime, more than 30 days ago; how many went."""
    now = utcnow()
    return db.session.execute(delete(UserSession).where(
        (UserSession.revoked_at < now - ENDED_KEPT)
        | (UserSession.last_seen_at < now - _max_idle() - ENDED_KEPT))).rowcount
