"""The JSON API's plumbing: the envelope, errors, bearer tokens, rate limits, pages and the OpenAPI document.

- Library: spectree (Pydantic 2 models, OpenAPI 3.1) on the plain `Flask` app: the HTML pages keep their app
  class, error pages, CSRF and sessions untouched (APIFlask and flask-openapi3 need their own app class).
- Envelope: `{"success": true, "data", "meta": {"timestamp", ...}}` or
  `{"success": false, "error": {"code", "message", "details"}, "meta"}`; messages in the caller's language.
- Bearer only (flask-jwt-extended, tokens read from the `Authorization` header and nowhere else): the session
  cookie is never looked at under `/api`, so the blueprint needs no CSRF.
- Revocation: a token's `jti` goes on a blocklist (Redis when `REDIS_URL` is set, with a TTL of the token's
  remaining lifetime, so it survives a restart; an in-process set otherwise). Every request also checks the
  account: a suspended or erased account, or a changed password (the token carries the password's fingerprint),
  ends every token of that person at once.
- Devices: signing in through the API starts a signed-in session (a device, as a browser's sign-in does) and its
  tokens carry its id (`sid`): signing that device out from the devices list or the page, or "everywhere else",
  ends its tokens too. A token without `sid` (none is issued by the API's own operations) belongs to no device.
"""
from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from flask import current_app, g, request
from flask_babel import gettext as _
from flask_jwt_extended import (
    JWTManager, create_access_token, create_refresh_token, decode_token, get_jwt, get_current_user,
    verify_jwt_in_request,
)
from pydantic import BaseModel, ConfigDict, Field, create_model
from spectree import Response as SpecResponse
from spectree import SpecTree
from werkzeug.exceptions import HTTPException

from babyowl import faces
from babyowl.extensions import db

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

# Stable error codes by status; clients switch on these, never on the message.
ERROR_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 422: "VALIDATION_ERROR",
    429: "RATE_LIMITED", 500: "INTERNAL_ERROR",
}
DOCUMENTED_ERRORS = (400, 401, 403, 404, 409, 422, 429)


def is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


# --- The envelope -----------------------------------------------------------------------------------------------

class ApiModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, from_attributes=True)


class Meta(ApiModel):
    timestamp: datetime
    request_id: str | None = None
    next_cursor: str | None = None
    has_more: bool | None = None
    total: int | None = None
    limit: int | None = None
    offset: int | None = None


class ErrorBody(ApiModel):
    code: str = Field(examples=["VALIDATION_ERROR"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(ApiModel):
    success: Literal[False]
    error: ErrorBody
    meta: Meta


_ENVELOPES: dict[tuple[type, bool], type[BaseModel]] = {}


def envelope_of(model: type[BaseModel], many: bool = False) -> type[BaseModel]:
    """The success envelope around `model` (or a list of it), one named schema each."""
    key = (model, many)
    if key not in _ENVELOPES:
        data_type = list[model] if many else model
        name = f"{model.__name__}{'List' if many else ''}Envelope"
        _ENVELOPES[key] = create_model(name, __base__=ApiModel, success=(Literal[True], ...),
                                       data=(data_type, ...), meta=(Meta, ...))
    return _ENVELOPES[key]


def responses(model: type[BaseModel] | None, status: int = 200, many: bool = False,
              extra: dict[str, Any] | None = None) -> SpecResponse:
    """Every operation's responses: its success and each documented refusal, all enveloped."""
    codes: dict[str, Any] = {f"HTTP_{code}": ErrorEnvelope for code in DOCUMENTED_ERRORS}
    codes[f"HTTP_{status}"] = envelope_of(model, many) if model is not None else None
    codes.update(extra or {})
    return SpecResponse(**codes)


def _meta(**extra) -> dict:
    meta = {"timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")}
    request_id = getattr(g, "request_id", None)
    if request_id:
        meta["request_id"] = str(request_id)
    meta.update({k: v for k, v in extra.items() if v is not None})
    return meta


def _json_response(body: dict, status: int):
    response = current_app.response_class(json.dumps(body, default=str, ensure_ascii=False), status=status,
                                          mimetype="application/json")
    return response


def ok(data: Any, status: int = 200, **meta):
    """A success envelope; `data` is a DTO, a list of DTOs, or None."""
    if isinstance(data, BaseModel):
        payload = data.model_dump(mode="json", by_alias=True)
    elif isinstance(data, list):
        payload = [item.model_dump(mode="json", by_alias=True) if isinstance(item, BaseModel) else item
                   for item in data]
    else:
        payload = data
    return _json_response({"success": True, "data": payload, "meta": _meta(**meta)}, status)


def error(status: int, message: str | None = None, details: dict | None = None, code: str | None = None):
    from babyowl.errors import ERROR_TEXT

    if message is None:
        title, text = ERROR_TEXT.get(status, ERROR_TEXT[500 if status >= 500 else 400])
        message = str(text)
    body = {"success": False,
            "error": {"code": code or ERROR_CODES.get(status, "ERROR"), "message": message, "details": details or {}},
            "meta": _meta()}
    return _json_response(body, status)


def refusal(exc) -> Any:
    """A refused use case: its status and message, and which refusal it was (`details.reason`, stable)."""
    import re

    reason = re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).upper()
    details: dict[str, Any] = {"reason": reason} if reason != "DOMAIN_ERROR" else {}
    if getattr(exc, "messages", None):  # exercise content: one message per problem
        details["problems"] = list(exc.messages)
    return error(exc.status_code, exc.message, details)


def error_for_exception(exc: Exception):
    """Any error raised while answering an API request, as the envelope."""
    from babyowl.services.errors import DomainError

    if isinstance(exc, DomainError):
        return refusal(exc)
    if isinstance(exc, HTTPException):
        code = exc.code or 500
        response = error(code)
        if code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response
    return error(500)


# --- Request validation errors (spectree) -----------------------------------------------------------------------

def _validation_details(errors: list[dict]) -> dict[str, str]:
    details: dict[str, str] = {}
    for item in errors:
        where = ".".join(str(part) for part in item.get("loc", ())) or "body"
        details.setdefault(where, item.get("msg", ""))
    return details


def _before(req, resp, req_validation_error, instance, model_adapter=None):
    if req_validation_error is None or resp is None:
        return
    errors = req_validation_error.errors(include_url=False, include_context=False, include_input=False)
    body = {"success": False, "error": {"code": "VALIDATION_ERROR",
                                        "message": _("Some fields need your attention."),
                                        "details": _validation_details(errors)}, "meta": _meta()}
    resp.set_data(json.dumps(body, default=str, ensure_ascii=False))
    resp.status_code = 422
    resp.mimetype = "application/json"


def _schema_name(model) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in model.__name__)


spec = SpecTree("flask", mode="strict", title="Baby Owl API", version="1.0.0", path="_spectree_unused",
                page_templates={}, before=_before, validation_error_status=422, naming_strategy=_schema_name,
                nested_naming_strategy=lambda parent, child: child,
                description="The school's JSON API: the same rules as the pages, for apps and integrations. "
                            "Sign in with POST /api/v1/auth/login and send `Authorization: Bearer <access token>`.")

PUBLIC_OPERATIONS: set[str] = set()  # view names that take no bearer token (sign-in, sign-up, password links)
FILE_OPERATIONS: dict[str, dict] = {}  # view name -> the media types of the file it answers with


def _operations_by_path() -> dict[tuple[str, str], str]:
    """(OpenAPI path, method) -> view name, from the app's URL map."""
    import re

    found = {}
    for rule in current_app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            for method in rule.methods or ():
                found[(path, method.lower())] = rule.endpoint.split(".", 1)[1]
    return found


def openapi_document() -> dict:
    """spectree's document, with the bearer scheme stated, public operations marked, files typed."""
    document = json.loads(json.dumps(spec.spec))
    document["openapi"] = "3.1.0"
    document.setdefault("components", {})["securitySchemes"] = {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    names = _operations_by_path()
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            name = names.get((path, method))
            if not isinstance(operation, dict) or name is None:
                continue
            operation["operationId"] = name
            operation["security"] = [] if name in PUBLIC_OPERATIONS else [{"bearerAuth": []}]
            if name in FILE_OPERATIONS:
                operation["responses"]["200"] = {"description": "The file", "content": {
                    media: {"schema": {"type": "string", "format": "binary"}} for media in FILE_OPERATIONS[name]}}
    return document


def json_body() -> Any:
    """The validated JSON body; a form-encoded post to a JSON operation is refused, not a 500."""
    body = getattr(getattr(request, "context", None), "json", None)
    if body is None:
        from babyowl.services.errors import InvalidInput

        raise InvalidInput(_("Send the body as JSON (Content-Type: application/json)."))
    return body


def form_body() -> Any:
    body = getattr(getattr(request, "context", None), "form", None)
    if body is None:
        from babyowl.services.errors import InvalidInput

        raise InvalidInput(_("Send the body as multipart/form-data."))
    return body


# --- Pages: limit + opaque cursor ---------------------------------------------------------------------------------

class PageQuery(ApiModel):
    limit: int = Field(20, ge=1, le=100, description="How many items (at most 100).")
    cursor: str | None = Field(None, max_length=500, description="`meta.next_cursor` of the previous page.")


class OffsetQuery(ApiModel):
    limit: int = Field(20, ge=1, le=100, description="How many items (at most 100).")
    offset: int = Field(0, ge=0, le=1_000_000)


def encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        values = None
    if not isinstance(values, list):
        from babyowl.services.errors import InvalidInput

        raise InvalidInput(_("This page link is not valid. Start again from the first page."))
    return values


# --- Bearer tokens ---------------------------------------------------------------------------------------------

jwt = JWTManager()
_memory_blocklist: dict[str, float] = {}
_memory_lock = threading.Lock()
_BLOCK_PREFIX = "babyowl:jwt:revoked:"


def _redis():
    from babyowl.jobs import redis_connection

    return redis_connection() if current_app.config.get("REDIS_URL") else None


def revoke(payload: dict) -> bool:
    """Put a token on the blocklist until it would have expired anyway; False when it was already there.

    Atomic (Redis SET NX, or a lock in memory), so two requests racing to rotate one refresh token cannot
    both get a new pair.
    """
    jti, expires = payload["jti"], int(payload.get("exp", time.time() + 86400))
    ttl = max(1, expires - int(time.time()))
    connection = _redis()
    if connection is not None:
        return bool(connection.set(_BLOCK_PREFIX + jti, "1", ex=ttl, nx=True))
    with _memory_lock:
        now = time.time()
        for old in [k for k, until in _memory_blocklist.items() if until < now]:
            _memory_blocklist.pop(old, None)
        if _memory_blocklist.get(jti, 0) > now:
            return False
        _memory_blocklist[jti] = now + ttl
        return True


def is_revoked(jti: str) -> bool:
    connection = _redis()
    if connection is not None:
        from redis.exceptions import RedisError

        try:
            return bool(connection.exists(_BLOCK_PREFIX + jti))
        except RedisError:  # fail closed: a revoked token must never pass because Redis is away
            log.warning("JWT blocklist unreachable; refusing the token %s", jti)
            return True
    with _memory_lock:
        until = _memory_blocklist.get(jti)
    return until is not None and until > time.time()


def issue_tokens(user) -> dict:
    claims = {"userId": str(user.id), "email": user.email, "role": user.role, "pwd": user.password_fingerprint}
    if user.current_session_id is not None:  # the device the sign-in started (services/sessions.py)
        claims["sid"] = str(user.current_session_id)
    access = create_access_token(identity=str(user.id), additional_claims=claims)
    refresh = create_refresh_token(identity=str(user.id), additional_claims=claims)
    return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
            "expires_in": int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())}


def _configure_jwt(app) -> None:
    import hashlib

    # A key of its own, derived from SECRET_KEY (or API_JWT_SECRET_KEY), 256 bits whatever the length of the secret.
    secret = app.config.get("API_JWT_SECRET_KEY") or app.config["SECRET_KEY"]
    app.config.setdefault("JWT_SECRET_KEY", hashlib.sha256(f"babyowl-api-jwt:{secret}".encode()).hexdigest())
    app.config["JWT_TOKEN_LOCATION"] = ["headers"]  # never cookies: the session cookie means nothing here
    app.config.setdefault("JWT_ACCESS_TOKEN_EXPIRES",
                          timedelta(minutes=int(app.config.get("API_ACCESS_TOKEN_MINUTES", 24 * 60))))
    app.config.setdefault("JWT_REFRESH_TOKEN_EXPIRES",
                          timedelta(days=int(app.config.get("API_REFRESH_TOKEN_DAYS", 30))))
    app.config.setdefault("JWT_ERROR_MESSAGE_KEY", "message")
    jwt.init_app(app)


@jwt.user_lookup_loader
def _load_user(_header, payload):
    import uuid

    from babyowl.models import User
    from babyowl.services import sessions

    try:
        user_id = uuid.UUID(payload["sub"])
        session_id = uuid.UUID(payload["sid"]) if "sid" in payload else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    # With a device: the same one query as a page's request, and a signed-out device's tokens stop here.
    user = db.session.get(User, user_id) if session_id is None else sessions.signed_in_user(user_id, session_id)
    if user is None or user.status != "active" or user.erased_at is not None:
        return None  # suspended or erased: every token of this person stops working
    if payload.get("pwd") != user.password_fingerprint:
        return None  # the password changed since this token was issued
    return user


@jwt.token_in_blocklist_loader
def _blocked(_header, payload) -> bool:
    return is_revoked(payload["jti"])


def _unauthenticated(message: str | None = None):
    return error(401, message or _("Sign in first: send a valid bearer token."))


@jwt.unauthorized_loader
def _missing(reason):
    return _unauthenticated(_("Sign in first: send `Authorization: Bearer <access token>`."))


@jwt.invalid_token_loader
def _invalid(reason):
    return _unauthenticated(_("This token is not valid. Sign in again."))


@jwt.expired_token_loader
def _expired(_header, _payload):
    return error(401, _("This token has expired. Refresh it or sign in again."), code="TOKEN_EXPIRED")


@jwt.revoked_token_loader
def _revoked(_header, _payload):
    return error(401, _("This token was revoked. Sign in again."), code="TOKEN_REVOKED")


@jwt.user_lookup_error_loader
def _no_user(_header, _payload):
    return error(401, _("This account can no longer use this token. Sign in again."), code="TOKEN_REVOKED")


@jwt.needs_fresh_token_loader
def _not_fresh(_header, _payload):
    return _unauthenticated()


@jwt.token_verification_failed_loader
def _verification_failed(_header, _payload):
    return _unauthenticated()


def api_user():
    return get_current_user()


def authenticated(*roles: str, refresh: bool = False):
    """The bearer token is required (and, with `roles`, the caller's role must be one of them: else 403)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            verify_jwt_in_request(refresh=refresh)
            if get_jwt().get("type") != ("refresh" if refresh else "access"):
                return _unauthenticated()
            if roles and get_current_user().role not in roles:
                return error(403, _("You do not have permission to do this."))
            return view(*args, **kwargs)

        wrapped.api_roles = roles
        return wrapped

    return decorator


def public(view):
    PUBLIC_OPERATIONS.add(view.__name__)
    return view


def answers_file(*media_types: str):
    def decorator(view):
        FILE_OPERATIONS[view.__name__] = media_types
        return view

    return decorator


# --- Rate limits -------------------------------------------------------------------------------------------------

def api_rate_key() -> str:
    """Per person for a valid bearer token (a classroom shares an address), per address otherwise."""
    from flask_limiter.util import get_remote_address

    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        try:
            return f"api-user:{decode_token(header[7:].strip())['sub']}"
        except Exception:  # an invalid token is refused by the view; count it against the address
            pass
    return f"api-ip:{get_remote_address()}"


def api_auth_key() -> str:
    from flask_limiter.util import get_remote_address

    return f"api-auth:{get_remote_address()}"


# --- CORS ------------------------------------------------------------------------------------------------------

def _cors(app) -> None:
    origins = app.config.get("API_CORS_ORIGINS") or []
    if isinstance(origins, str):
        origins = [o.strip() for o in origins.split(",") if o.strip()]
    if not origins:
        return  # off by default
    from flask_cors import CORS

    CORS(app, resources={rf"{API_PREFIX}/*": {"origins": origins}}, supports_credentials=False,
         allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Accept-Language"],
         expose_headers=["Retry-After", "X-Request-ID"], max_age=600)


def init_api(app) -> None:
    """Attach the API to the app: tokens, CORS, the blueprint (CSRF-exempt: it takes no cookie)."""
    from babyowl.blueprints.api.views import bp
    from babyowl.extensions import csrf

    _configure_jwt(app)
    csrf.exempt(bp)
    app.register_blueprint(bp)
    faces.register(app, faces.Face(claims=is_api_request, error=error, refusal=refusal, rate_key=api_rate_key))
    _cors(app)


# A stored file (a message's attachment, a post's picture) is answered by the storage edge: the bytes from local
# storage, or a 302 to a short-lived signed link on S3.
STORED_FILE_ELSEWHERE: dict[str, Any] = {"HTTP_302": None}


def stored_file(key: str, **options):
    """The storage edge's answer for a file the caller may read, buffered: spectree reads every answer's body to
    check it against the document, which a file streamed in passthrough cannot give (pictures and PDFs here are
    size-capped)."""
    from babyowl.storage import serve_file

    response = serve_file(key, **options)
    response.direct_passthrough = False
    return response


def keyset_meta(page) -> dict:
    """The meta of a keyset page (services.listing.Slice): the opaque cursor of the next page, if any."""
    return {"has_more": page.has_more, "next_cursor": encode_cursor(page.last) if page.has_more else None,
            "limit": page.limit}
