"""Error pages that also render as htmx fragments.

htmx only swaps what its `responseHandling` (base layout) allows: 422 and 409
go into the form's own target, every other error into `#htmx-error`, so a
refused request never fails silently on a tablet.
"""
from __future__ import annotations

import logging

from flask import flash, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

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
    title, text = ERROR_TEXT.get(code, ERROR_TEXT[500 if code >= 500 else 400])
    return render("errors/error.html", block="error_message", status=code, code=code, title=title, text=detail or text)


def register_error_handlers(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return error_response(
            400, str(_l("This form has expired (security check failed). Reload the page and try again."))
        )

    @app.errorhandler(DomainError)
    def domain_error(error):
        # Views normally catch these and answer inline; this is the safety net.
        if error.status_code in (403, 404):
            return error_response(error.status_code, error.message)
        if is_htmx():
            return render("errors/error.html", block="error_message", status=error.status_code,
                          code=error.status_code, title=ERROR_TEXT.get(error.status_code, ERROR_TEXT[409])[0],
                          text=error.message)
        flash(error.message, "error")
        return redirect_to(safe_next_url(request.referrer))

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
        return error_response(500)
