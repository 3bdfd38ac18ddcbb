"""One helper decides whether a request gets a whole page or one block of it.

htmx asks for fragments with the `HX-Request` header; a history restore
(`HX-History-Restore-Request`) needs the whole page again, and caches must
know the answer varies by that header.
"""
from __future__ import annotations

from flask import Response, current_app, make_response, redirect, render_template, request
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_fragment() -> bool:
    return is_htmx() and request.headers.get("HX-History-Restore-Request") != "true"


def render(template: str, block: str | None = None, status: int = 200, **context) -> Response:
    if block and wants_fragment():
        html = render_block(template, block, **context)
    else:
        html = render_template(template, **context)
    response = make_response(html, status)
    response.vary.add("HX-Request")
    return response


def redirect_to(location: str) -> Response:
    """After a successful post: 303 for a plain form, `HX-Location` for htmx.

    A 302 answered to htmx would be followed inside the swap target and put a
    whole page into one row of a grid.
    """
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Location"] = location
        return response
    return redirect(location, code=303)


def remembered() -> bool:
    """Whether this browser holds a "remember me" cookie (kept when the session is renewed)."""
    return current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies


def full_redirect(location: str) -> Response:
    """Leave the page entirely (expired session, language change)."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=303)
