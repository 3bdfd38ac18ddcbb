"""The email job: retried on SMTP failure, never lost silently."""
from __future__ import annotations

import logging
import smtplib
import socket

from flask import current_app
from rq import Retry, get_current_job

from babyowl import jobs, mail
from babyowl.jobs.context import with_app_context

log = logging.getLogger(__name__)

# Errors worth another try later; anything else (a bad address) fails at once.
TRANSIENT_ERRORS = (smtplib.SMTPException, socket.error, TimeoutError)


@with_app_context
def send_email(to: str, subject: str, text: str, html: str | None = None) -> None:
    deliver(mail.build_message(current_app.config, to=to, subject=subject, text=text, html=html))


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


def queue_email(to: str, subject: str, text: str, html: str | None = None):
    return jobs.enqueue(send_email, to, subject, text, html, retry=mail_retry())
