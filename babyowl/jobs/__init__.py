"""Background jobs: RQ when REDIS_URL is set, inline in the request otherwise.

A job is a plain function that takes ids and plain values, opens what it needs
itself and is safe to run twice. Enqueue only after the transaction the job
depends on has committed.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from flask import current_app
from redis import Redis
from rq import Queue, Retry

log = logging.getLogger(__name__)


def redis_connection(url: str | None = None) -> Redis:
    return Redis.from_url(url or current_app.config["REDIS_URL"])


def get_queue(name: str | None = None) -> Queue:
    config = current_app.config
    return Queue(name or config["RQ_QUEUE"], connection=redis_connection())


def enqueue(fn: Callable[..., Any], *args: Any, retry: Retry | None = None, job_timeout: int | None = None,
            job_id: str | None = None, on_queue: str | None = None, **kwargs: Any):
    """Run `fn` in the background (on the queue named `on_queue`, else the default); the RQ job, or None inline."""
    if current_app.config.get("REDIS_URL"):
        return get_queue(on_queue).enqueue(fn, *args, retry=retry, job_timeout=job_timeout, job_id=job_id, **kwargs)
    try:
        fn(*args, **kwargs)
    except Exception:
        # Inline (development) mode has no failed registry: the log is the record.
        log.exception("Inline job %s failed; args=%r", getattr(fn, "__name__", fn), args)
    return None


def enqueue_at(when: datetime, fn: Callable[..., Any], *args: Any, job_id: str | None = None):
    """Run `fn` at `when` (RQ's scheduler, in the worker); returns the RQ job.

    Without Redis nothing can wait: what is due now runs inline, the rest is
    left to whatever sweeps for due work (a `flask` command run by cron).
    """
    from babyowl.models.base import utcnow

    if current_app.config.get("REDIS_URL"):
        return get_queue().enqueue_at(when, fn, *args, job_id=job_id)
    if when <= utcnow():
        return enqueue(fn, *args)
    log.info("No Redis: %s for %s waits for the next sweep", getattr(fn, "__name__", fn), when.isoformat())
    return None
