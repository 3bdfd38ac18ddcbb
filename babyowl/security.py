"""Response headers and URL checks shared by every request."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import url_for

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Materials may show pictures from other sites; lesson videos play in
        # YouTube's privacy-enhanced player or Vimeo's.
        "img-src 'self' data: https:",
        "frame-src https://www.youtube-nocookie.com https://player.vimeo.com",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def safe_next_url(target: str | None, fallback_endpoint: str = "main.index") -> str:
    """Only follow a `next`/referrer that stays on this site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
        from flask import request

        if parts.netloc == request.host and parts.scheme in {"http", "https"}:
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return url_for(fallback_endpoint)


# Fetched by the runner frame's worker, whose origin is opaque: cross-origin reads. (Pyodide's own files
# reach the frame as bytes from the coding page.)
RUNNER_FILES = ("/pyodide-packages/",)


def static_headers(headers, production: bool) -> None:
    """Headers of a static file (served by WhiteNoise, outside Flask: see babyowl/static_files.py)."""
    if production:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"


def add_security_headers(response):
    from flask import current_app, request

    headers = response.headers
    if request.path.startswith(RUNNER_FILES):
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    if request.is_secure or current_app.config["ENV_NAME"] == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    return response


# A signed CSRF token is reused for this long for the same session's secret: signing costs ~0.07 ms a page (the
# serializer, a key derivation, an HMAC), and an unexpiring token (WTF_CSRF_TIME_LIMIT None) is as valid when
# signed a few minutes earlier. With a time limit, every page signs afresh, as Flask-WTF does.
CSRF_TOKEN_REUSE_SECONDS = 300
CSRF_TOKENS_KEPT = 4096
_signed_csrf_tokens: dict[tuple, tuple[str, float]] = {}


def csrf_token() -> str:
    """Flask-WTF's `generate_csrf` (the same token for the rest of the request, kept in `g`), signed at most once
    per session and CSRF_TOKEN_REUSE_SECONDS in this process."""
    from flask import current_app, g, session
    from flask_wtf.csrf import generate_csrf

    config = current_app.config
    field = config["WTF_CSRF_FIELD_NAME"]
    signed = g.get(field)
    if signed is not None:
        return signed
    raw = session.get(field)
    if not isinstance(raw, str) or config["WTF_CSRF_TIME_LIMIT"] is not None:
        return generate_csrf()
    key = (config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key, raw)
    now = time.monotonic()
    kept = _signed_csrf_tokens.get(key)
    if kept is not None and now - kept[1] < CSRF_TOKEN_REUSE_SECONDS:
        setattr(g, field, kept[0])
        return kept[0]
    signed = generate_csrf()
    if len(_signed_csrf_tokens) >= CSRF_TOKENS_KEPT:
        _signed_csrf_tokens.clear()
    _signed_csrf_tokens[key] = (signed, now)
    return signed
