"""Emails that failed for good: RQ's failed job registry, read and re-queued by staff.

A failed email job keeps everything it needs to be sent again (its arguments,
or the id of a notification whose email is still `pending`), so re-sending is
RQ's own requeue. The registry is in Redis; if Redis lost it, the sweep
re-queues pending notification emails by itself.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from babyowl.extensions import db
from babyowl.models import Notification
from babyowl.services.errors import DomainError

EMAIL_FUNCTIONS = ("babyowl.jobs.email.send_email", "babyowl.jobs.notifications.send_notification_email")
MAX_LISTED = 200


class NoJobQueue(DomainError):
    pass


class FailedMailNotFound(DomainError):
    status_code = 404


@dataclass(frozen=True)
class FailedMail:
    job_id: str
    to: str
    subject: str
    reason: str
    failed_at: datetime | None


def _registry() -> FailedJobRegistry:
    from babyowl.jobs import get_queue

    if not current_app.config.get("REDIS_URL"):
        raise NoJobQueue(_("No job queue is configured (REDIS_URL): emails are sent at once and failures are "
                           "only in the log."))
    queue: Queue = get_queue()
    return FailedJobRegistry(queue=queue)


def _reason(job: Job) -> str:
    result = job.latest_result()
    text = (result.exc_string if result is not None else "") or ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else _("unknown")


def failed_emails() -> list[FailedMail]:
    """Failed email jobs, newest first, each with whom it was for and why it failed."""
    registry = _registry()
    ids = registry.get_job_ids(0, MAX_LISTED - 1, desc=True)
    found = [job for job in Job.fetch_many(ids, connection=registry.connection) if job is not None]
    jobs = [job for job in found if job.func_name in EMAIL_FUNCTIONS]
    notification_ids = []
    for job in jobs:
        if job.func_name.endswith("send_notification_email"):
            try:
                notification_ids.append(uuid.UUID(job.args[0]))
            except (IndexError, TypeError, ValueError):
                pass
    notes = {}
    if notification_ids:
        from sqlalchemy import select
        from sqlalchemy.orm import joinedload

        notes = {n.id: n for n in db.session.scalars(select(Notification).options(joinedload(Notification.user))
                                                     .where(Notification.id.in_(notification_ids)))}
    mails = []
    for job in jobs:
        if job.func_name.endswith("send_notification_email"):
            note = notes.get(uuid.UUID(job.args[0])) if job.args else None
            to, subject = (note.user.email, note.title or "") if note else ("?", "?")
        else:
            to, subject = (tuple(job.args) + ("?", "?"))[:2]
        mails.append(FailedMail(job.id, to, subject, _reason(job), job.ended_at))
    return mails


def resend(job_id: str) -> None:
    registry = _registry()
    try:
        job = Job.fetch(job_id, connection=registry.connection)
    except NoSuchJobError as exc:
        raise FailedMailNotFound(_("This email is no longer in the list of failed emails.")) from exc
    if job.func_name not in EMAIL_FUNCTIONS:
        raise FailedMailNotFound(_("This email is no longer in the list of failed emails."))
    try:
        registry.requeue(job)
    except InvalidJobOperation as exc:
        raise FailedMailNotFound(_("This email is no longer in the list of failed emails.")) from exc
