"""In-app notifications, with an email for each through the job queue.

`notify()` is the one way to tell people something: every feature (lesson
unlocked, announcement, later "assignment graded") calls it with its own
`kind`. A notification row is written per person, in that person's language,
and its email job is queued after the commit. The email's state lives on the
row (`email_status`), not in Redis: the job sends only a `pending` email, and
`requeue_lost_emails()` queues again any pending email whose job Redis no
longer has.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from babyowl.extensions import db
from babyowl.models import Notification, NotificationPreference, User
from babyowl.models.base import utcnow
from babyowl.services.errors import DomainError, InvalidInput
from babyowl.transactions import after_commit, use_case

# Every kind a person can turn emails off for, in the order of the settings page.
KINDS = {
    "announcement": _l("Class announcements"),
    "lesson_unlocked": _l("A new lesson is open"),
    "badge_earned": _l("A badge earned"),
    "message_digest": _l("Unread messages (one summary email)"),
    "community_comment": _l("A comment on your community post"),
    "community_likes": _l("Likes on your community posts (a summary)"),
    "event_reminder": _l("Reminders of events you are going to"),
    "group_invitation": _l("Invitations to study groups"),
}
UNSUBSCRIBE_SALT = "babyowl-unsubscribe"


class NotificationNotFound(DomainError):
    status_code = 404


class InvalidUnsubscribeLink(DomainError):
    status_code = 400


def _insert(model):
    """INSERT that can say ON CONFLICT DO NOTHING/UPDATE on PostgreSQL and SQLite alike."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def language_of(user: User) -> str:
    return user.language or current_app.config["BABEL_DEFAULT_LOCALE"]


def path_for(endpoint: str, **values) -> str:
    """A path in the app, also from a job or a CLI command (no request there)."""
    if has_request_context():
        return url_for(endpoint, **values)
    return current_app.url_map.bind("localhost").build(endpoint, values)


def external_url(endpoint: str, **values) -> str:
    """An absolute link for an email: the request's host, else PUBLIC_URL (worker, CLI)."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    return current_app.config["PUBLIC_URL"].rstrip("/") + path_for(endpoint, **values)


def notify(users: Iterable[User], *, kind: str, title, message, reference_id: uuid.UUID | None = None,
           link: str | None = None, event_key: str | None = None, email: bool = True) -> list[uuid.UUID]:
    """One notification per user, and one email each; returns the ids of the notifications written.

    Part of the caller's use case (it does not commit): the notifications go in
    with what the caller changed (an announcement's `sent_at` and its
    notifications: both or neither), and their emails are queued after that
    commit. `title` and `message` may be lazy strings (`_l(..., name=...)`):
    each person gets them in their own language. With `event_key`, a person
    already notified of that event is skipped (unique per user), so a retried
    or doubled call notifies nobody twice.
    """
    now = utcnow()
    rows = []
    for user in users:
        with force_locale(language_of(user)):
            rows.append({"id": uuid.uuid4(), "user_id": user.id, "type": kind, "title": str(title)[:255],
                         "message": str(message), "reference_id": reference_id, "link": link,
                         "event_key": event_key, "read": False, "created_at": now,
                         "email_status": "pending" if email else "none"})
    created: list[uuid.UUID] = []
    if rows:
        statement = _insert(Notification).values(rows).on_conflict_do_nothing(
            index_elements=["user_id", "event_key"]).returning(Notification.id)
        created = list(db.session.scalars(statement))
    if email and created:
        after_commit(queue_notification_emails, created)
    return created


def queue_notification_emails(notification_ids: Iterable[uuid.UUID]):
    from babyowl.jobs.notifications import enqueue_notification_email

    return [enqueue_notification_email(notification_id) for notification_id in notification_ids]


def pending_emails(older_than: timedelta) -> list[uuid.UUID]:
    """Emails still to send that were queued at least `older_than` ago (their job may be lost)."""
    return list(db.session.scalars(select(Notification.id).where(
        Notification.email_status == "pending", Notification.created_at <= utcnow() - older_than)))


# Reading ------------------------------------------------------------------

def unread_count_statement(user_id):
    """The bell's number: `user_id`'s unread notifications (a column or a bind parameter)."""
    return select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read.is_(False))


def unread_count(user: User) -> int:
    return db.session.scalar(unread_count_statement(user.id))


def notifications_page(user: User, page: int, per_page: int | None = None):
    from babyowl.services.listing import PER_PAGE, paginate

    return paginate(_notifications_of(user).order_by(*(key.column.desc() for key in _newest_first())), page,
                    per_page or PER_PAGE)


def _notifications_of(user: User):
    return select(Notification).where(Notification.user_id == user.id)


def _newest_first():
    from babyowl.services.listing import Key

    return (Key(Notification.created_at, datetime, descending=True), Key(Notification.id, uuid.UUID, descending=True))


def notifications_after(user: User, *, after: list | None = None, limit: int = 20):
    """One keyset page of the person's notifications, newest first."""
    from babyowl.services.listing import keyset_page

    return keyset_page(_notifications_of(user), _newest_first(), after=after, limit=limit)


@use_case
def mark_read(user: User, notification_id: uuid.UUID | None) -> Notification:
    notification = db.session.get(Notification, notification_id) if notification_id else None
    if notification is None or notification.user_id != user.id:
        raise NotificationNotFound(_("This notification does not exist."))
    notification.read = True
    return notification


@use_case
def mark_all_read(user: User) -> int:
    result = db.session.execute(update(Notification).where(
        Notification.user_id == user.id, Notification.read.is_(False)).values(read=True))
    return result.rowcount


def mark_read_about(user: User, kind: str, reference_id: uuid.UUID) -> None:
    """Opening the thing a notification is about reads the notification too (no commit: part of that use case)."""
    db.session.execute(update(Notification).where(
        Notification.user_id == user.id, Notification.type == kind, Notification.reference_id == reference_id,
        Notification.read.is_(False)).values(read=True))


# Email choices --------------------------------------------------------------

def wants_email(user_id: uuid.UUID, kind: str | None) -> bool:
    chosen = db.session.scalar(select(NotificationPreference.email).where(
        NotificationPreference.user_id == user_id, NotificationPreference.kind == kind))
    return True if chosen is None else chosen


def email_choices(user: User) -> dict[str, bool]:
    chosen = dict(db.session.execute(select(NotificationPreference.kind, NotificationPreference.email).where(
        NotificationPreference.user_id == user.id)).all())
    return {kind: chosen.get(kind, True) for kind in KINDS}


def _choose(user_id: uuid.UUID, kind: str, email: bool) -> None:
    now = utcnow()
    statement = _insert(NotificationPreference).values(
        id=uuid.uuid4(), user_id=user_id, kind=kind, email=email, created_at=now, updated_at=now)
    # Two tabs saving at once: the later one wins instead of hitting the unique key.
    db.session.execute(statement.on_conflict_do_update(
        index_elements=["user_id", "kind"], set_={"email": email, "updated_at": now}))


@use_case
def save_preferences(user: User, *, emails_for: Iterable[str], language: str) -> None:
    """Email on for the kinds in `emails_for`, off for the others; emails in `language`."""
    wanted = set(emails_for)
    if wanted - KINDS.keys():
        raise InvalidInput(_("Unknown kind of notification."))
    if language not in current_app.config["LANGUAGES"]:
        raise InvalidInput(_("That language is not available."))
    for kind in KINDS:
        _choose(user.id, kind, kind in wanted)
    user.language = language


def unsubscribe_token(user: User, kind: str) -> str:
    # No expiry: a link in a year-old email must still stop the emails.
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT).dumps(
        {"uid": str(user.id), "kind": kind})


def read_unsubscribe_token(token: str) -> tuple[User, str]:
    try:
        payload = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT).loads(token)
        user = db.session.get(User, uuid.UUID(payload["uid"]))
        kind = payload["kind"]
    except (BadSignature, KeyError, TypeError, ValueError):
        user, kind = None, None
    if user is None or kind not in KINDS or user.erased_at is not None:
        raise InvalidUnsubscribeLink(_("This unsubscribe link is not valid. Change your email settings after "
                                       "signing in."))
    return user, kind


@use_case
def unsubscribe(token: str) -> tuple[User, str]:
    user, kind = read_unsubscribe_token(token)
    _choose(user.id, kind, False)
    return user, kind
