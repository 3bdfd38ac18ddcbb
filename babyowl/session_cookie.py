"""The signed session cookie, re-signed only when it changed or has aged.

Flask re-signs a permanent session on every response (SESSION_REFRESH_EACH_REQUEST)
to slide its expiry: an HMAC, a JSON dump and a `Set-Cookie` on every page and
htmx poll, and a response that differs each time. Here an unchanged session is
re-signed only once it is older than SESSION_REFRESH_AFTER, so the 24-hour
session still slides with use (expiring between 24 h minus that margin and 24 h
after the last request) and most responses carry no cookie.

A browser sends the same cookie with every request until it is re-signed, so
the verified contents of a cookie are remembered per process (a bounded memo
keyed by the exact cookie string and the signing keys): what the same bytes
would verify to, never anything a request wrote. Its age is checked against the
session lifetime on every request, as the signature check does.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

# Cookies remembered per process (each ~300 bytes): a school's signed-in people, a few times over.
VERIFIED_KEPT = 4096
# Only flat values are shared between requests: a list or dict in a session (flashed messages) is changed in
# place by the request that reads it.
_FLAT = (str, bool, int, float, type(None))


class SlidingSessionInterface(SecureCookieSessionInterface):
    def get_signing_serializer(self, app):
        return self._signing(app)[1]

    def _signing(self, app):
        # Built once per key set, not twice per request (open and save); the verified cookies go with the keys.
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = app.extensions.get("babyowl.session_serializer")
        if cached is None or cached[0] != keys:
            cached = (keys, super().get_signing_serializer(app), {})
            app.extensions["babyowl.session_serializer"] = cached
        return cached

    def open_session(self, app, request):
        _, serializer, verified = self._signing(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        known = verified.get(value)
        if known is None:
            try:
                data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
            except BadSignature:
                return self.session_class()
            if all(type(item) in _FLAT for item in data.values()):
                if len(verified) >= VERIFIED_KEPT:
                    verified.clear()
                verified[value] = (data, signed_at, int(signed_at.timestamp()))
        else:
            data, signed_at, signed_ts = known
            age = int(time.time()) - signed_ts  # itsdangerous's own check of the signature's age
            if age > max_age or age < 0:
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
