"""Give a job an app context whether it runs in a request, the worker or a test."""
from __future__ import annotations

import functools

from flask import has_app_context


def with_app_context(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return fn(*args, **kwargs)
        from babyowl import create_app

        with create_app().app_context():
            return fn(*args, **kwargs)

    return wrapper
