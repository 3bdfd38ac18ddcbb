"""Account emails through an outbox: written in the use case, sent once by a job, never lost with Redis.

`add_to_outbox` (through `emails.send`) writes an `outbound_emails` row in
the caller's use case and queues `send_email` after the commit. The job
locks the row and sends it only while it is `pending`, so two copies of the
job (a retry racing the sweep, two workers) send one email. Our Redis keeps
nothing on disk: `requeue_pending_emails` (run by the worker's sweep and
`flask send-due-announcements`) queues again every pending email whose job
Redis no longer has, and sends them inline when no Redis is configured.
"""
from __future__ import annotations

import logging
import smtplib
import socket
import uuid
from datetime import timedelta

from flask import current_app
from rq import Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import select, update

from babyowl import jobs, mail
from babyowl.extensions import db
from babyowl.jobs.context import with_app_context
from babyowl.models import OutboundEmail
from babyowl.models.base import utcnow
from babyowl.transactions import after_commit, use_case

log = logging.getLogger(__name__)

# Errors worth another try later; anything else (a bad address) fails at once.
TRANSIENT_ERRORS = (smtplib.SMTPException, socket.error, TimeoutError)
JOB_PREFIX = "outbound-email-"
# A pending email younger than this may simply not have reached its worker yet.
LOST_AFTER = timedelta(minutes=2)
# RQ job states in which the email will still be tried (or waits for staff to re-send it).
STILL_HANDLED = {"queued", "started", "deferred", "scheduled", "failed"}


def deliver(message) -> None:
    """Send through the configured backend; a transient failure is logged and raised for RQ to retry."""
    to, subject = message["To"], message["Subject"]
    try:
        mail.get_backend(current_app.config).send(message)
    except TRANSIENT_ERRORS as exc:
        job = get_current_job()
        retries_left = job.retries_left if job is not None else 0
        if retries_left:
            log.warning("Sending email to %s (%s) failed, %s retries left: %s", to, subject, retries_left, exc)
        else:
            log.error("Sending email to %s (%s) failed for good; it stays in the failed job registry: %s",
                      to, subject, exc)
        raise


def mail_retry() -> Retry | None:
    intervals = current_app.config["MAIL_RETRY_INTERVALS"]
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def job_id(email_id) -> str:
    return f"{JOB_PREFIX}{email_id}"


def add_to_outbox(email, *, user_id: uuid.UUID | None = None) -> uuid.UUID:
    """Part of the caller's use case: the row commits with it, and the job is queued after."""
    row = OutboundEmail(id=uuid.uuid4(), user_id=user_id, to_address=email.to, subject=email.subject[:500],
                        text=email.text, html=email.html)
    db.session.add(row)
    after_commit(enqueue_email, row.id, email.to, email.subject)
    return row.id


def enqueue_email(email_id, to: str, subject: str):
    # `to` and `subject` only label the job in RQ's failed registry (services/failed_mail.py);
    # the row is what gets sent. A fixed job id: a re-queue never runs a second copy.
    return jobs.enqueue(send_email, to, subject, str(email_id), retry=mail_retry(), job_id=job_id(email_id))


@with_app_context
def send_email(to: str, subject: str, email_id: str) -> str:
    try:
        return _send_pending(uuid.UUID(email_id))
    except Exception as exc:
        _record_failure(uuid.UUID(email_id), exc)
        raise


@use_case
def _send_pending(email_id: uuid.UUID) -> str:
    row = db.session.scalars(select(OutboundEmail).where(OutboundEmail.id == email_id).with_for_update()
                             .execution_options(populate_existing=True)).first()
    if row is None or row.status != "pending":
        return "nothing to do"
    message = mail.build_message(current_app.config, to=row.to_address, subject=row.subject, text=row.text or "",
                                 html=row.html)
    # The row stays locked while the message goes out: a second copy of the job waits, then finds it sent.
    deliver(message)
    row.status, row.sent_at, row.attempts = "sent", utcnow(), row.attempts + 1
    row.text = row.html = None  # the links in it were for one person, once
    return "sent"


@use_case
def _record_failure(email_id: uuid.UUID, exc: Exception) -> None:
    db.session.execute(update(OutboundEmail).where(OutboundEmail.id == email_id)
                       .values(attempts=OutboundEmail.attempts + 1, last_error=str(exc)[:500]))


def pending_emails(older_than: timedelta) -> list[tuple[uuid.UUID, str, str]]:
    return list(db.session.execute(
        select(OutboundEmail.id, OutboundEmail.to_address, OutboundEmail.subject)
        .where(OutboundEmail.status == "pending", OutboundEmail.created_at <= utcnow() - older_than)
        .order_by(OutboundEmail.created_at)))


def requeue_pending_emails(older_than: timedelta | None = None) -> int:
    """Queue again the pending emails whose job Redis no longer has; returns how many."""
    lost = pending_emails(LOST_AFTER if older_than is None else older_than)
    if not current_app.config.get("REDIS_URL"):
        for email_id, to, subject in lost:  # inline: this is the retry
            enqueue_email(email_id, to, subject)
        return len(lost)
    connection = jobs.redis_connection()
    requeued = 0
    for email_id, to, subject in lost:
        try:
            status = Job.fetch(job_id(email_id), connection=connection).get_status()
        except NoSuchJobError:
            status = None
        if status not in STILL_HANDLED:
            enqueue_email(email_id, to, subject)
            requeued += 1
    if requeued:
        log.warning("Re-queued %d emails whose jobs were lost", requeued)
    return requeued
