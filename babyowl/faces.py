"""Other faces of the app on the same services (the JSON API beside the HTML pages).

A face claims its own requests (by URL) and answers their errors, refused use
cases and rate-limit keys its own way; the error handlers and the limiter ask
here instead of importing a blueprint (edges and core never import one). The
face registers itself on the app when its blueprint is attached.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_request_context

_KEY = "babyowl.faces"


@dataclass(frozen=True)
class Face:
    claims: Callable[[], bool]                      # is the current request this face's?
    error: Callable[[int, str | None], Any]         # (status, message or None) -> response
    refusal: Callable[[Any], Any]                   # a refused use case (DomainError) -> response
    rate_key: Callable[[], str]                     # whom the rate limits count


def register(app, face: Face) -> None:
    app.extensions.setdefault(_KEY, []).append(face)


def current() -> Face | None:
    """The face that claims this request, or None for the HTML pages."""
    if not has_request_context():
        return None
    return next((face for face in current_app.extensions.get(_KEY, ()) if face.claims()), None)
