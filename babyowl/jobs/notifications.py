"""The email of a notification: sent once, in the recipient's language, only if they still want it.

The job takes the notification's id and locks its row while it sends, so two
copies of the job (a retry racing a re-queue, two workers) send one email: the
second finds `email_status` no longer `pending`. Whether the person wants the
email is read when the job runs, not when it was queued.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select

from babyowl import emails, jobs, mail
from babyowl.extensions import db
from babyowl.jobs.context import with_app_context
from babyowl.jobs.email import deliver, mail_retry
from babyowl.models import Announcement, Notification
from babyowl.models.base import utcnow
from babyowl.transactions import use_case

log = logging.getLogger(__name__)

EMAIL_JOB_PREFIX = "notification-email-"
# A pending email younger than this may simply not have reached its worker yet.
LOST_AFTER = timedelta(minutes=2)
# RQ job states in which the email will still be tried (or waits for staff to re-send it).
STILL_HANDLED = {"queued", "started", "deferred", "scheduled", "failed"}


def email_job_id(notification_id) -> str:
    return f"{EMAIL_JOB_PREFIX}{notification_id}"


def enqueue_notification_email(notification_id):
    # A fixed job id: re-queueing a lost email replaces nothing that still runs twice.
    return jobs.enqueue(send_notification_email, str(notification_id), retry=mail_retry(),
                        job_id=email_job_id(notification_id))


def _absolute(path: str) -> str:
    from flask import has_request_context, request

    base = request.host_url if has_request_context() else current_app.config["PUBLIC_URL"]
    return base.rstrip("/") + path


def _html_body(notification: Notification) -> str | None:
    """The sanitised HTML the notification is about, where there is one."""
    if notification.type == "announcement" and notification.reference_id:
        announcement = db.session.get(Announcement, notification.reference_id)
        return announcement.content_html if announcement else None
    return None


def compose(notification: Notification):
    from babyowl.services.notifications import KINDS, language_of, unsubscribe_token

    user = notification.user
    language = language_of(user)
    with force_locale(language):
        kind_name = str(KINDS.get(notification.type, notification.type))
    email = emails.notification(
        to=user.email, name=user.full_name, title=notification.title or "", message=notification.message or "",
        kind_name=kind_name, link=_absolute(notification.link) if notification.link else None,
        unsubscribe_url=emails.external_url("notifications.unsubscribe",
                                            token=unsubscribe_token(user, notification.type)),
        preferences_url=emails.external_url("notifications.preferences"), body_html=_html_body(notification),
        language=language)
    message = mail.build_message(current_app.config, to=email.to, subject=email.subject, text=email.text,
                                 html=email.html)
    for name, value in email.headers.items():
        message[name] = value
    return message


@with_app_context
def send_notification_email(notification_id: str) -> str:
    # A failed send rolls the use case back (the row stays pending, its lock released); RQ retries or keeps
    # the job in its failed registry.
    return _send_if_pending(uuid.UUID(notification_id))


@use_case
def _send_if_pending(notification_id: uuid.UUID) -> str:
    from babyowl.services.notifications import KINDS, wants_email

    notification = db.session.scalars(
        select(Notification).where(Notification.id == notification_id)
        .with_for_update().execution_options(populate_existing=True)).first()
    if notification is None or notification.email_status != "pending":
        return "nothing to do"
    user = notification.user
    if (user.status != "active" or user.erased_at is not None
            or (notification.type in KINDS and not wants_email(user.id, notification.type))):
        notification.email_status = "skipped"
        return "skipped"
    # The row stays locked while the message goes out: a second copy of the job waits, then finds it sent.
    deliver(compose(notification))
    notification.email_status = "sent"
    notification.emailed_at = utcnow()
    return "sent"


def requeue_lost_emails() -> int:
    """Queue again the pending emails whose job Redis no longer has (a restart, a flush); returns how many."""
    from babyowl.services.notifications import pending_emails

    lost = pending_emails(older_than=LOST_AFTER)
    if not current_app.config.get("REDIS_URL"):
        for notification_id in lost:  # inline: this is the retry
            enqueue_notification_email(notification_id)
        return len(lost)
    requeued = 0
    for notification_id in lost:
        if jobs.job_status(email_job_id(notification_id)) not in STILL_HANDLED:
            enqueue_notification_email(notification_id)
            requeued += 1
    if requeued:
        log.warning("Re-queued %d notification emails whose jobs were lost", requeued)
    return requeued
