"""Every email the school sends is written here: templates, links, language.

Services call these functions with plain values (an address, a name, a
token) and never render a template or build a URL for an email themselves.
`send(email, user_id=...)` writes the email to the outbox inside the caller's
use case and queues its job after the commit (jobs/email.py), so a refused use
case sends nothing and a Redis outage delays an email without losing it.

Links are absolute: the request's host when there is a request, PUBLIC_URL in
the worker and the CLI. The language is the recipient's (`language`), else
the request's, else the school's default.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import current_app, has_request_context, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def external_url(endpoint: str, **values) -> str:
    """An absolute link for an email: the request's host, else PUBLIC_URL (worker, CLI)."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


@contextmanager
def _in_language(language: str | None) -> Iterator[None]:
    if language:
        with force_locale(language):
            yield
    else:
        yield


def _school() -> str:
    return current_app.config["SCHOOL_NAME"]


def _text(template: str, **context) -> str:
    return render_template(template, school_name=_school(), **context)


def verify_email(*, to: str, name: str, token: str, language: str | None = None) -> Email:
    link = external_url("auth.verify_email", token=token)
    with _in_language(language):
        return Email(to, _("Confirm your email address"), _text("email/verify_email.txt", name=name, link=link))


def reset_password(*, to: str, name: str, token: str, language: str | None = None) -> Email:
    link = external_url("auth.reset_password", token=token)
    with _in_language(language):
        return Email(to, _("Reset your password"), _text("email/reset_password.txt", name=name, link=link))


def invitation(*, to: str, name: str, token: str, language: str | None = None) -> Email:
    link = external_url("auth.accept_invitation", token=token)
    with _in_language(language):
        return Email(to, _("Your %(school)s account", school=_school()),
                     _text("email/invitation.txt", name=name, email=to, link=link))


def account_erased(*, to: str, name: str, language: str | None = None) -> Email:
    with _in_language(language):
        return Email(to, _("Your %(school)s account has been deleted", school=_school()),
                     _text("email/account_erased.txt", name=name))


def notification(*, to: str, name: str, title: str, message: str, kind_name: str, link: str | None,
                 unsubscribe_url: str, preferences_url: str, body_html: str | None = None,
                 language: str | None = None) -> Email:
    """A notification's email; `body_html` was sanitised when its announcement was saved."""
    context = {"name": name, "title": title, "message": message, "kind_name": kind_name, "link": link,
               "unsubscribe_url": unsubscribe_url, "preferences_url": preferences_url, "body_html": body_html}
    with _in_language(language):
        return Email(to, title, _text("email/notification.txt", **context),
                     _text("email/notification.html", **context),
                     headers={"List-Unsubscribe": f"<{unsubscribe_url}>"})


def message_digest(*, to: str, name: str, conversations: list[tuple[str, int]], link: str, unsubscribe_url: str,
                   language: str | None = None) -> Email:
    """One email about every conversation with unread messages (never one email per message)."""
    total = sum(count for _title, count in conversations)
    context = {"name": name, "conversations": conversations, "total": total, "link": link,
               "unsubscribe_url": unsubscribe_url}
    with _in_language(language):
        from flask_babel import ngettext

        return Email(to, ngettext("You have %(num)d unread message", "You have %(num)d unread messages", total),
                     _text("email/message_digest.txt", **context),
                     headers={"List-Unsubscribe": f"<{unsubscribe_url}>"})


def payment_notice(*, to: str, name: str, title: str, message: str, invoice_id, language: str | None = None) -> Email:
    """An invoice created, paid, partly paid or its proof rejected (services/payments.py); no opt-out: it is money."""
    link = external_url("payments.my_invoice", invoice_id=invoice_id)
    with _in_language(language):
        return Email(to, title, _text("email/payment.txt", name=name, message=message, link=link))


def send(email: Email, *, user_id: uuid.UUID | None = None) -> None:
    """Write `email` to the outbox in the current use case; its job is queued after the commit."""
    from babyowl.jobs.email import add_to_outbox

    add_to_outbox(email, user_id=user_id)
