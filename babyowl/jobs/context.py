"""Give a job an app context of its own, whether it runs in the worker, the CLI or a test.

Outside a request a job always pushes a fresh app context: it gets its own
database session, closed (and any transaction left open rolled back) when the
job ends, so one job never inherits what the job before it left in a shared
session (a SimpleWorker, the sweep run by `flask send-due-announcements`).
Without any app (a worker started by `rq worker`), one app is built per
process and reused.

Inline (no Redis, development) a job runs inside the request that queued it,
after that request's use case committed, and shares its context: the page
then shows what the job did (a graded submission) without reloading rows.
"""
from __future__ import annotations

import functools

from flask import Flask, current_app, has_app_context, has_request_context

_process_app: Flask | None = None


def _app() -> Flask:
    global _process_app
    if has_app_context():
        return current_app._get_current_object()
    if _process_app is None:
        from babyowl import create_app

        _process_app = create_app()
    return _process_app


def with_app_context(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if has_request_context():
            return fn(*args, **kwargs)
        with _app().app_context():
            return fn(*args, **kwargs)

    return wrapper
