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


@pytest.fixture
def statements_per_get(client, count_queries):
    """`statements_per_get([(url, headers), ...])` -> the SQL statements each GET ran (each must answer 200)."""

    def measure(lists) -> list[int]:
        found = []
        for url, headers in lists:
            with count_queries() as statements:
                response = client.get(url, headers=headers)
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
            found.append(len(statements))
        return found

    return measure


@pytest.fixture
def at_once(app):
    """`at_once(n, call)`: n threads, each with its own test client, send `call(client)` together (a barrier);
    -> their statuses. Any exception in a thread fails the test."""
    import threading

    def run(n: int, call) -> list[int]:
        barrier, statuses, errors = threading.Barrier(n), [], []

        def worker():
            try:
                browser = app.test_client()
                barrier.wait()
                statuses.append(call(browser).status_code)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        return statuses

    return run
