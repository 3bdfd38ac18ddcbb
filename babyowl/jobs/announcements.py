"""Sending announcements, and the periodic sweep that makes Redis losable.

`send_announcement` is what RQ's scheduler runs at the scheduled time; it
carries that time, and the database decides whether there is still anything
to do (`services.announcements.deliver`). `sweep` sends every announcement
that is due but unsent and re-queues emails whose job is gone: the worker puts
it on the queue every SWEEP_INTERVAL seconds from its own clock (worker.py),
and `flask send-due-announcements` runs the same from cron where no worker
runs.
"""
from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime

from rq import Queue
from rq.job import Job

from babyowl import jobs
from babyowl.jobs.context import with_app_context
from babyowl.models.base import utcnow

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "babyowl-sweep"
EARLY_TOLERANCE = 5  # seconds


@with_app_context
def send_announcement(announcement_id: str, scheduled_for: str | None) -> int | None:
    from babyowl.services.announcements import deliver

    when = datetime.fromisoformat(scheduled_for) if scheduled_for else None
    early = (when - utcnow()).total_seconds() if when else 0
    if 0 < early <= EARLY_TOLERANCE:
        # A scheduler on a clock a little ahead: wait rather than leave it to the next sweep.
        time.sleep(early)
    return deliver(uuid.UUID(announcement_id), when)  # a use case: it rolls back what fails


@with_app_context
def sweep() -> dict[str, int]:
    from babyowl.jobs.email import requeue_pending_emails
    from babyowl.jobs.grading import requeue_lost_gradings
    from babyowl.jobs.messages import send_digests
    from babyowl.jobs.notifications import requeue_lost_emails
    from babyowl.jobs.payments import expire_due_invoices
    from babyowl.services.announcements import send_due_announcements
    from babyowl.services.attendance_reports import delete_expired_exports
    from babyowl.services.community import send_like_digests
    from babyowl.services.community_events import send_event_reminders
    from babyowl.services.sessions import prune_ended_sessions

    # Each announcement and each inline email is its own use case; the re-queueing only reads.
    done = {"announcements": send_due_announcements(), "emails": requeue_lost_emails(),
            "gradings": requeue_lost_gradings(), "account_emails": requeue_pending_emails(),
            "ended_sessions": prune_ended_sessions(), "message_digests": send_digests(),
            "like_digests": send_like_digests(), "event_reminders": send_event_reminders(),
            "expired_invoices": expire_due_invoices(), "expired_exports": delete_expired_exports()}
    if any(done.values()):
        log.info("Sweep: %(announcements)d announcements sent, %(emails)d notification emails, %(account_emails)d "
                 "account emails and %(gradings)d gradings re-queued", done)
    return done


def queue_sweep(queue: Queue) -> Job | None:
    """Put one sweep on the queue unless one is already waiting or running."""
    if jobs.job_status(SWEEP_JOB_ID, connection=queue.connection) in ("queued", "started", "deferred", "scheduled"):
        return None
    return queue.enqueue(sweep, job_id=SWEEP_JOB_ID, result_ttl=0, failure_ttl=24 * 3600)
