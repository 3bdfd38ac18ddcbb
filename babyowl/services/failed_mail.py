"""Emails that failed for good: the job queue's failed jobs, read and re-queued by staff.

A failed email job keeps everything it needs to be sent again (its arguments,
or the id of a notification whose email is still `pending`), so re-sending is
the queue's own requeue (`babyowl.jobs`). The failed jobs live in Redis; if
Redis lost them, the sweep re-queues pending notification emails by itself.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from babyowl import jobs
from babyowl.extensions import db
from babyowl.models import Notification
from babyowl.services.errors import DomainError

EMAIL_FUNCTIONS = ("babyowl.jobs.email.send_email", "babyowl.jobs.notifications.send_notification_email")
NOTIFICATION_EMAIL = EMAIL_FUNCTIONS[1]
MAX_LISTED = 200


class FailedMailNotFound(DomainError):
    """Already re-sent (another tab, another person) or gone from the queue."""


class NoJobQueue(DomainError):
    """No Redis configured, or it does not answer."""


@dataclass(frozen=True)
class FailedMail:
    job_id: str
    to: str
    subject: str
    reason: str
    failed_at: datetime | None


@dataclass(frozen=True)
class FailedMailList:
    mails: list[FailedMail] = field(default_factory=list)
    problem: str | None = None  # why there is no list to show


def _no_queue_message() -> str:
    if not jobs.queued():
        return _("No job queue is configured (REDIS_URL): emails are sent at once and failures are only in the "
                 "log.")
    return _("The job queue (Redis) does not answer; try again in a moment.")


def _notification_id(job: jobs.FailedJob) -> uuid.UUID | None:
    try:
        return uuid.UUID(job.args[0])
    except (IndexError, TypeError, ValueError):
        return None


def failed_emails() -> FailedMailList:
    """Failed email jobs, newest first, each with whom it was for and why it failed; or why none can be listed."""
    try:
        failed = jobs.failed(EMAIL_FUNCTIONS, limit=MAX_LISTED)
    except jobs.QueueUnavailable:
        return FailedMailList(problem=_no_queue_message())
    ids = [_notification_id(job) for job in failed if job.function == NOTIFICATION_EMAIL]
    notes = {}
    if any(ids):
        notes = {n.id: n for n in db.session.scalars(select(Notification).options(joinedload(Notification.user))
                                                     .where(Notification.id.in_([i for i in ids if i])))}
    mails = []
    for job in failed:
        if job.function == NOTIFICATION_EMAIL:
            note = notes.get(_notification_id(job))
            to, subject = (note.user.email, note.title or "") if note else ("?", "?")
        else:
            to, subject = (tuple(job.args) + ("?", "?"))[:2]
        mails.append(FailedMail(job.id, to, subject, job.error or _("unknown"), job.failed_at))
    return FailedMailList(mails)


def resend(job_id: str) -> None:
    """Queue a failed email again; refused when it is no longer among the failed ones."""
    try:
        jobs.requeue(job_id, EMAIL_FUNCTIONS)
    except jobs.JobNotFound as gone:
        raise FailedMailNotFound(_("This email is no longer in the list of failed emails.")) from gone
    except jobs.QueueUnavailable as away:
        raise NoJobQueue(_no_queue_message()) from away
