"""Error pages that also render as htmx fragments.

htmx only swaps what its `responseHandling` (base layout) allows: 422 and 409
go into the form's own target, every other error into `#htmx-error`, so a
refused request never fails silently on a tablet.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Response, flash, make_response, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from babyowl import faces
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.security import safe_next_url
from babyowl.services.errors import DomainError

log = logging.getLogger(__name__)

ERROR_TEXT = {
    400: (_l("Bad request"), _l("The request could not be understood. Please check what you entered and try again.")),
    401: (_l("Please sign in"), _l("You need to sign in to see this page.")),
    403: (_l("Not allowed"), _l("You do not have permission to do this.")),
    404: (_l("Page not found"), _l("The page you asked for does not exist or was moved.")),
    405: (_l("Not allowed"), _l("This action cannot be done this way.")),
    409: (_l("Could not be done"), _l("This conflicts with the current state. Reload the page and try again.")),
    413: (_l("File too large"), _l("The file you sent is larger than allowed.")),
    422: (_l("Please check your input"), _l("Some fields need your attention.")),
    429: (_l("Too many requests"), _l("You are going too fast. Wait a moment and try again.")),
    500: (_l("Something went wrong"),
          _l("An unexpected error happened on our side. It has been logged; please try again.")),
}


def error_response(code: int, detail: str | None = None):
    face = faces.current()
    if face is not None:  # the JSON API answers its envelope, also for URLs and methods it does not have
        return face.error(code, detail)
    title, text = ERROR_TEXT.get(code, ERROR_TEXT[500 if code >= 500 else 400])
    return render("errors/error.html", block="error_message", status=code, code=code, title=title, text=detail or text)


@contextmanager
def on_refusal(render: Callable[[DomainError], Response] | None = None, *,
               redirect_to_url: str | None = None) -> Iterator[None]:
    """How a view answers when the use case it calls is refused; the view itself catches nothing.

    `render(error)` re-renders the form or block with `error.message` (answered
    with the error's 409/422, to htmx and to a plain post alike, so what was
    typed or picked stays on the page). `redirect_to_url` instead flashes the
    message and sends a plain post back there with a 303 (htmx still gets
    `render` when given). Without either: the message flashed, back to the
    page the post came from.
    """
    try:
        yield
    except DomainError as error:
        error.render, error.redirect_to_url = render, redirect_to_url
        raise


def _rollback_quietly() -> None:
    # A failed flush leaves the session unusable until it is rolled back, and
    # the error page itself may need the session (the signed-in user, the menu).
    from babyowl.extensions import db

    try:
        db.session.rollback()
    except Exception:  # the connection itself may be gone; the page must still render
        log.exception("Rollback after an error failed")


def _answer_refusal(error: DomainError):
    face = faces.current()
    if face is not None:
        return face.refusal(error)
    if error.status_code in (403, 404):
        return error_response(error.status_code, error.message)
    render_block, back_to = getattr(error, "render", None), getattr(error, "redirect_to_url", None)
    if render_block is not None and (is_htmx() or back_to is None):
        response = make_response(render_block(error))
        response.status_code = error.status_code
        return response
    if is_htmx():
        return render("errors/error.html", block="error_message", status=error.status_code,
                      code=error.status_code, title=ERROR_TEXT.get(error.status_code, ERROR_TEXT[409])[0],
                      text=error.message)
    flash(error.message, "error")
    return redirect_to(back_to or safe_next_url(request.referrer))


def _reject_nul_bytes():
    # PostgreSQL cannot store U+0000 in text; refuse it up front, with a message,
    # instead of failing at commit. A NUL in the query can only come from "%00" or a raw NUL byte, and a request
    # without a body has no form: most requests (a page, a poll) parse neither here.
    query = request.query_string
    values = [*request.args.values()] if b"%00" in query or b"\x00" in query else []
    if request.content_length or request.headers.get("Transfer-Encoding"):
        values.extend(request.form.values())
    if any("\x00" in value for value in values):
        return error_response(422, str(_l("What you entered contains a character that cannot be saved (a NUL "
                                           "byte). Remove it and try again.")))
    return None


def register_error_handlers(app) -> None:
    app.before_request(_reject_nul_bytes)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return error_response(
            400, str(_l("This form has expired (security check failed). Reload the page and try again."))
        )

    @app.errorhandler(DomainError)
    def domain_error(error):
        # The one place a refused use case becomes a response (see `on_refusal`).
        _rollback_quietly()
        return _answer_refusal(error)

    @app.errorhandler(DataError)
    def data_error(error):
        # The database refused a value that got past the forms (out of range, bad encoding).
        _rollback_quietly()
        log.warning("Value refused by the database on %s %s: %s", request.method, request.path, error.orig)
        return error_response(422, str(_l("A value you entered cannot be saved. Check the form and try again.")))

    @app.errorhandler(HTTPException)
    def http_error(error):
        if error.code is None or error.code < 400:
            return error
        response = error_response(error.code)
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        _rollback_quietly()
        try:
            return error_response(500)
        except Exception:  # the error page needs the database (signed-in user, menu): say it plainly without
            log.exception("The error page itself failed")
            title, text = ERROR_TEXT[500]
            return Response(f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{text}</p>", 500,
                            content_type="text/html; charset=utf-8")
