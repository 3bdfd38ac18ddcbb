"""Fixtures for the JSON API: bearer tokens for a person of each role."""
from __future__ import annotations

import pytest

from tests.factories import make_user


@pytest.fixture
def bearer(app, db):
    """`bearer(user)` -> the Authorization header of a fresh access token for `user` (as POST /auth/login gives)."""
    from babyowl.blueprints.api.core import issue_tokens

    def headers(user, kind: str = "access_token") -> dict:
        with app.test_request_context():
            tokens = issue_tokens(user)
        return {"Authorization": f"Bearer {tokens[kind]}"}

    return headers


@pytest.fixture
def api_as(bearer):
    """`api_as(role)` -> (a new user of that role, their Authorization header)."""

    def build(role: str = "student", **fields):
        user = make_user(role, **fields)
        return user, bearer(user)

    return build
