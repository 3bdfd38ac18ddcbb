"""Fixtures for the JSON API: bearer tokens for a person of each role."""
from __future__ import annotations

import pytest

from tests.factories import make_user
from tests.helpers import requests_at_once


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


@pytest.fixture
def list_statements(client, count_queries):
    """`list_statements([(url, headers), ...])` -> how many SQL statements each GET ran (each must answer 200)."""

    def counts(lists) -> list[int]:
        found = []
        for url, headers in lists:
            with count_queries() as statements:
                response = client.get(url, headers=headers)
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
            found.append(len(statements))
        return found

    return counts


@pytest.fixture
def at_once(app):
    """`at_once(n, call)`: n clients send `call(client)` together (tests.helpers.requests_at_once); -> their
    statuses. Any exception in a thread fails the test."""

    def run(n: int, call) -> list[int]:
        responses, errors = requests_at_once(app, lambda client, index: call(client), n)
        assert errors == []
        return [response.status_code for response in responses]

    return run
