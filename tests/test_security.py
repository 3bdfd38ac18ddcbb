"""The security baseline: headers, cookies, CSRF on every state change, rate limits."""
from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD, cookie_id_for, make_user

HX = {"HX-Request": "true"}


def test_security_headers_on_pages_fragments_and_errors(client):
    for response in (client.get("/"), client.get("/login", headers=HX), client.get("/missing")):
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://babyowl.example")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_session_and_remember_cookies_are_httponly_and_lax(client, db):
    make_user(email="c@example.com")
    response = client.post("/login", data={"email": "c@example.com", "password": PASSWORD, "remember": "y"})
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    for name in ("session", "remember_token"):
        assert "HttpOnly" in cookies[name] and "SameSite=Lax" in cookies[name]
        assert "Secure" not in cookies[name]  # plain http in development


def test_cookies_are_secure_in_production(make_app, db):
    app = make_app(ENV_NAME="production", SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    make_user(email="p@example.com")
    response = app.test_client().post("/login", base_url="https://babyowl.example",
                                      data={"email": "p@example.com", "password": PASSWORD, "remember": "y"})
    for cookie in response.headers.getlist("Set-Cookie"):
        assert "Secure" in cookie and "HttpOnly" in cookie


def test_production_config_turns_secure_cookies_on(monkeypatch, tmp_path):
    from babyowl.config import load_config

    monkeypatch.setenv("BABYOWL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k" * 64)
    config = load_config(str(tmp_path))
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]


@pytest.fixture
def csrf_client(make_app, db):
    return make_app(WTF_CSRF_ENABLED=True).test_client()


def _token(client) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)


@pytest.mark.parametrize("url, data", [
    ("/login", {"email": "x@example.com", "password": "x"}),
    ("/register", {"full_name": "X", "email": "x@example.com", "password": "Str0ng#Pass", "confirm": "Str0ng#Pass"}),
    ("/forgot-password", {"email": "x@example.com"}),
    ("/language", {"lang": "id"}),
])
def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(csrf_client, url, data):
    from babyowl.models import User
    from babyowl.extensions import db

    _token(csrf_client)  # a session exists, so only the token is missing
    for attempt in ({}, {"csrf_token": "forged"}):
        response = csrf_client.post(url, data={**data, **attempt})
        assert response.status_code == 400
        assert "security check failed" in response.get_data(as_text=True)
    htmx = csrf_client.post(url, data=data, headers={**HX, "X-CSRFToken": "forged"})
    assert htmx.status_code == 400 and "<html" not in htmx.get_data(as_text=True)
    assert db.session.query(User).count() == 0


def test_a_signed_in_post_needs_the_token_too(csrf_client, db):
    make_user(email="t@example.com")
    token = _token(csrf_client)
    assert csrf_client.post("/login", data={"email": "t@example.com", "password": PASSWORD,
                                            "csrf_token": token}).status_code == 303
    assert csrf_client.post("/logout").status_code == 400
    assert csrf_client.get("/dashboard").status_code == 200  # still signed in
    assert csrf_client.post("/logout", headers={"X-CSRFToken": _token(csrf_client)}).status_code == 303


def test_a_page_signs_its_token_once_per_browser_and_another_browser_cannot_use_it(make_app, db):
    # The signed token is reused for a while per session secret (security.csrf_token), never across browsers.
    app = make_app(WTF_CSRF_ENABLED=True)
    mine, theirs = app.test_client(), app.test_client()
    token = _token(mine)
    assert _token(mine) == token and _token(theirs) != token
    assert theirs.post("/language", data={"lang": "id", "csrf_token": token}).status_code == 400
    assert mine.post("/language", data={"lang": "id", "csrf_token": token}).status_code in (302, 303)


@pytest.fixture(params=["memory", "redis"])
def limited_app(request, make_app, db):
    if request.param == "redis":
        from redis import Redis

        url = request.getfixturevalue("redis_url")
        Redis.from_url(url).flushdb()
        storage = url
    else:
        storage = "memory://"
    return make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=storage)


def test_the_eleventh_sign_in_attempt_in_a_minute_is_refused(limited_app):
    make_user(email="r@example.com")
    client = limited_app.test_client()
    for _ in range(10):
        assert client.post("/login", data={"email": "r@example.com", "password": "wrong"}).status_code == 422
    refused = client.post("/login", data={"email": "r@example.com", "password": PASSWORD})
    assert refused.status_code == 429
    assert "Too many requests" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    fragment = client.post("/login", data={"email": "r@example.com", "password": PASSWORD}, headers=HX)
    assert fragment.status_code == 429 and "<html" not in fragment.get_data(as_text=True)
    # Looking at the page is not an attempt.
    assert client.get("/login").status_code == 200


@pytest.mark.parametrize("url, data", [("/register", {"email": "n@example.com"}),
                                       ("/forgot-password", {"email": "n@example.com"})])
def test_sign_up_and_forgot_password_are_limited_per_address(limited_app, url, data):
    client = limited_app.test_client()
    statuses = [client.post(url, data=data).status_code for _ in range(11)]
    assert 429 not in statuses[:10] and statuses[10] == 429


def test_signed_in_users_get_100_requests_a_minute_each(limited_app):
    assert limited_app.config["RATELIMIT_APPLICATION"] == "100 per minute"
    first, second = limited_app.test_client(), limited_app.test_client()
    for client, email in ((first, "u1@example.com"), (second, "u2@example.com")):
        user = make_user(email=email)
        with client.session_transaction() as session:
            session["_user_id"] = cookie_id_for(user)
    statuses = [first.get("/dashboard").status_code for _ in range(101)]
    assert statuses[:100] == [200] * 100 and statuses[100] == 429
    # The same address, another account: its own budget (a classroom shares one IP).
    assert second.get("/dashboard").status_code == 200


def test_coding_submissions_are_limited_per_student(make_app, db):
    # Each submission starts a sandboxed Python on the worker: a student gets a few a minute.
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_GRADING="3 per minute")
    client, other = app.test_client(), app.test_client()
    for c in (client, other):
        with c.session_transaction() as session:
            session["_user_id"] = cookie_id_for(make_user("student"))
    url = "/exercises/00000000-0000-0000-0000-000000000000/submissions"
    statuses = [client.post(url, data={"code": "print(1)"}).status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    assert other.post(url, data={"code": "print(1)"}).status_code == 404  # counted per student
