"""Background jobs: RQ when REDIS_URL is set, inline in the request otherwise.

This package (with worker.py) is the only code that knows RQ: services queue,
cancel and list jobs through `enqueue`, `enqueue_at`, `cancel`, `failed` and
`requeue`.

A job is a plain function that takes ids and plain values, opens what it needs
itself and is safe to run twice. Enqueue only after the transaction the job
depends on has committed.

Redis may be down. Queueing then gives up within REDIS_TIMEOUT seconds, logs a
warning and returns None: the use case has already committed, and every job
queued from a request has a sweep that finds its work in the database later
(pending notification emails, announcements due, ungraded submissions). A
request never fails, nor hangs, because Redis is away.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry as RedisRetry
from rq import Queue, Retry, get_current_job
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

log = logging.getLogger(__name__)

__all__ = ["FailedJob", "JobNotFound", "QueueUnavailable", "Retry", "cancel", "counts", "current_job_meta", "enqueue",
           "enqueue_at", "failed", "job_status", "queued", "redis_connection", "requeue"]

# What a dead, hung or restarting Redis raises (redis-py wraps most socket errors, not all).
UNREACHABLE = (RedisError, OSError)
_CONNECTION = "babyowl.redis"


class QueueUnavailable(RuntimeError):
    """No job queue to ask: REDIS_URL is not set, or Redis does not answer."""


class JobNotFound(LookupError):
    """The job is not (or no longer) where it was looked for."""


@dataclass(frozen=True)
class FailedJob:
    id: str
    function: str  # dotted name, e.g. "babyowl.jobs.email.send_email"
    args: tuple
    error: str  # the last line of the exception
    failed_at: datetime | None


def queued() -> bool:
    """Whether jobs go through Redis (else they run inline, in the request)."""
    return bool(current_app.config.get("REDIS_URL"))


def redis_connection(url: str | None = None, *, patient: bool = False) -> Redis:
    """A connection that gives up after REDIS_TIMEOUT seconds.

    A request's connection (the default) does not retry: a page must not wait
    for Redis. The worker's (`patient`) keeps redis-py's retries, and RQ
    lengthens its read timeout for the blocking wait on the queue.
    """
    config = current_app.config
    timeout = config.get("REDIS_TIMEOUT", 1)
    options: dict[str, Any] = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    if not patient:
        options["retry"] = RedisRetry(NoBackoff(), 0)
    if url is not None or patient:
        return Redis.from_url(url or config["REDIS_URL"], **options)
    # One pool per app: a request reuses a connection instead of opening one per job.
    connection = current_app.extensions.get(_CONNECTION)
    if connection is None:
        connection = current_app.extensions[_CONNECTION] = Redis.from_url(config["REDIS_URL"], **options)
    return connection


def get_queue(name: str | None = None) -> Queue:
    return Queue(name or current_app.config["RQ_QUEUE"], connection=redis_connection())


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", repr(fn))


def _could_not_queue(fn: Callable[..., Any], job_id: str | None, error: Exception) -> None:
    log.warning("Could not queue %s (job %s): Redis is unreachable (%s); its sweep will pick the work up",
                _name(fn), job_id or "-", error)


def current_job_meta() -> dict[str, Any]:
    """The meta of the RQ job running in this process (empty outside a job)."""
    try:
        job = get_current_job()
    except Exception:  # no worker, no connection: simply no job
        return {}
    return dict(job.meta or {}) if job is not None else {}


def _request_meta() -> dict[str, Any]:
    from babyowl.observability import current_request_id

    request_id = current_request_id()
    return {"request_id": request_id} if request_id else {}


def enqueue(fn: Callable[..., Any], *args: Any, retry: Retry | None = None, job_timeout: int | None = None,
            job_id: str | None = None, on_queue: str | None = None, **kwargs: Any) -> Job | None:
    """Run `fn` in the background (on the queue named `on_queue`, else the default); the RQ job, or None when run
    inline or Redis is unreachable."""
    if queued():
        try:
            # The request's id goes with the job, so the worker's log lines for it carry the same id.
            return get_queue(on_queue).enqueue(fn, *args, retry=retry, job_timeout=job_timeout, job_id=job_id,
                                               meta=_request_meta(), **kwargs)
        except UNREACHABLE as error:
            _could_not_queue(fn, job_id, error)
            return None
    try:
        fn(*args, **kwargs)
    except Exception:
        # Inline (development) mode has no failed registry: the log is the record.
        log.exception("Inline job %s failed; args=%r", _name(fn), args)
    return None


def enqueue_at(when: datetime, fn: Callable[..., Any], *args: Any, job_id: str | None = None) -> Job | None:
    """Run `fn` at `when` (RQ's scheduler, in the worker); returns the RQ job, or None.

    Without Redis nothing can wait: what is due now runs inline, the rest is
    left to whatever sweeps for due work (a `flask` command run by cron).
    """
    from babyowl.models.base import utcnow

    if queued():
        try:
            return get_queue().enqueue_at(when, fn, *args, job_id=job_id, meta=_request_meta())
        except UNREACHABLE as error:
            _could_not_queue(fn, job_id, error)
            return None
    if when <= utcnow():
        return enqueue(fn, *args)
    log.info("No Redis: %s for %s waits for the next sweep", _name(fn), when.isoformat())
    return None


def cancel(job_id: str) -> bool:
    """Remove a job that the database has made pointless; False when it was not there or Redis is away.

    Only tidiness: a job must itself find in the database that it has nothing to do.
    """
    if not queued():
        return False
    try:
        Job.fetch(job_id, connection=redis_connection()).delete()
    except NoSuchJobError:
        return False
    except UNREACHABLE:
        log.warning("Could not remove job %s from Redis; it will find nothing to do", job_id, exc_info=True)
        return False
    return True


def job_status(job_id: str, connection: Redis | None = None) -> str | None:
    """RQ's state of the job ("queued", "started", "failed", ...), None when Redis has no such job.

    Raises a Redis error when Redis is away: a sweep must not take "unknown" for "lost".
    """
    try:
        status = Job.fetch(job_id, connection=connection or redis_connection()).get_status()
    except NoSuchJobError:
        return None
    return getattr(status, "value", status)


def _failed_registry() -> FailedJobRegistry:
    if not queued():
        raise QueueUnavailable("REDIS_URL is not set")
    return FailedJobRegistry(queue=get_queue())


def _last_line(job: Job) -> str:
    result = job.latest_result()
    lines = [line for line in ((result.exc_string if result is not None else "") or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def failed(functions: Iterable[str] | None = None, limit: int = 200) -> list[FailedJob]:
    """Jobs in RQ's failed registry (of `functions`, dotted names, when given), newest first.

    Raises QueueUnavailable without Redis, or when it does not answer.
    """
    wanted = set(functions) if functions is not None else None
    try:
        registry = _failed_registry()
        ids = registry.get_job_ids(0, limit - 1, desc=True)
        found = [job for job in Job.fetch_many(ids, connection=registry.connection) if job is not None]
        return [FailedJob(job.id, job.func_name, tuple(job.args or ()), _last_line(job), job.ended_at)
                for job in found if wanted is None or job.func_name in wanted]
    except UNREACHABLE as error:
        raise QueueUnavailable(str(error)) from error


def counts() -> dict[str, int]:
    """Jobs waiting on the default and grading queues, and jobs failed (for /metrics).

    Raises QueueUnavailable without Redis, or when it does not answer.
    """
    if not queued():
        raise QueueUnavailable("REDIS_URL is not set")
    config = current_app.config
    try:
        found = {name: get_queue(config[key]).count for name, key in (("default", "RQ_QUEUE"),
                                                                    ("grading", "RQ_GRADING_QUEUE"))}
        found["failed"] = sum(FailedJobRegistry(queue=get_queue(name)).count
                              for name in {config["RQ_QUEUE"], config["RQ_GRADING_QUEUE"]})
        return found
    except UNREACHABLE as error:
        raise QueueUnavailable(str(error)) from error


def requeue(job_id: str, functions: Iterable[str] | None = None) -> None:
    """Put a failed job back on its queue (of `functions`, when given); JobNotFound when it is not failed."""
    try:
        registry = _failed_registry()
        try:
            job = Job.fetch(job_id, connection=registry.connection)
        except NoSuchJobError as missing:
            raise JobNotFound(job_id) from missing
        if functions is not None and job.func_name not in set(functions):
            raise JobNotFound(job_id)
        try:
            registry.requeue(job)
        except InvalidJobOperation as gone:
            raise JobNotFound(job_id) from gone
    except UNREACHABLE as error:
        raise QueueUnavailable(str(error)) from error
