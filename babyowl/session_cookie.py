"""The signed session cookie, re-signed only when it changed or has aged.

Flask re-signs a permanent session on every response (SESSION_REFRESH_EACH_REQUEST)
to slide its expiry: an HMAC, a JSON dump and a `Set-Cookie` on every page and
htmx poll, and a response that differs each time. Here an unchanged session is
re-signed only once it is older than SESSION_REFRESH_AFTER, so the 24-hour
session still slides with use (expiring between 24 h minus that margin and 24 h
after the last request) and most responses carry no cookie.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature


class SlidingSessionInterface(SecureCookieSessionInterface):
    def get_signing_serializer(self, app):
        # Built once per key set, not twice per request (open and save).
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = app.extensions.get("babyowl.session_serializer")
        if cached is None or cached[0] != keys:
            cached = (keys, super().get_signing_serializer(app))
            app.extensions["babyowl.session_serializer"] = cached
        return cached[1]

    def open_session(self, app, request):
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        try:
            data, signed_at = serializer.loads(value, max_age=int(app.permanent_session_lifetime.total_seconds()),
                                               return_timestamp=True)
        except BadSignature:
            return self.session_class()
        session = self.session_class(data)
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app, session) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or datetime.now(timezone.utc) - signed_at >= refresh_after(app)


def refresh_after(app) -> timedelta:
    value = app.config["SESSION_REFRESH_AFTER"]
    return value if isinstance(value, timedelta) else timedelta(seconds=int(value))
