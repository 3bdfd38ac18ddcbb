"""Sign-in tells nothing about which emails have accounts, and one account cannot be guessed at from many
addresses (issue 15, defect 6; ASVS 2.2.1)."""
from __future__ import annotations

import statistics
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from babyowl.models import User
from babyowl.services import passwords
from tests.factories import PASSWORD, make_user
from tests.helpers import text

TRIES = 7


def _median_seconds(client, *attempts: tuple[str, str]) -> list[float]:
    """The median time of each (email, password) attempt, tried in turn so a busy machine slows all of them alike."""
    durations: list[list[float]] = [[] for _ in attempts]
    for _ in range(TRIES):
        for index, (email, password) in enumerate(attempts):
            started = time.perf_counter()
            response = client.post("/login", data={"email": email, "password": password})
            durations[index].append(time.perf_counter() - started)
            assert response.status_code == 422
    return [statistics.median(d) for d in durations]


@pytest.fixture
def real_cost_app(make_app):
    # The cost production runs with, not the suite's fast one: the leak is the difference bcrypt makes.
    return make_app(BCRYPT_ROUNDS=passwords.BCRYPT_ROUNDS)


def test_an_unknown_email_costs_as_much_as_a_wrong_password(real_cost_app, db):
    with real_cost_app.app_context():
        make_user("student", email="ada@example.com")
    client = real_cost_app.test_client()
    client.post("/login", data={"email": "warm@example.com", "password": "x"})  # first request: app start-up

    wrong_password, unknown_email = _median_seconds(client, ("ada@example.com", "Wrong#Pass1"),
                                                    ("nobody@example.com", "Wrong#Pass1"))

    assert 0.5 < unknown_email / wrong_password < 2, (unknown_email, wrong_password)


def test_an_erased_or_invited_account_costs_as_much_as_a_wrong_password(real_cost_app, db):
    with real_cost_app.app_context():
        make_user("student", email="ada@example.com")
        invited = make_user("student", email="baru@example.com")
        db.session.execute(update(User).where(User.id == invited.id).values(password_hash=None))
        db.session.commit()
    client = real_cost_app.test_client()
    client.post("/login", data={"email": "warm@example.com", "password": "x"})

    wrong_password, no_password_yet = _median_seconds(client, ("ada@example.com", "Wrong#Pass1"),
                                                      ("baru@example.com", "Wrong#Pass1"))

    assert 0.5 < no_password_yet / wrong_password < 2, (no_password_yet, wrong_password)


# --- per-account throttle -----------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    # The in-memory rate-limit storage reads the time through its module: move it without sleeping.
    import limits.storage.memory

    fake = Clock()
    monkeypatch.setattr(limits.storage.memory, "time", SimpleNamespace(time=fake.time))
    return fake


@pytest.fixture
def limited_app(make_app, db, clock):
    # After `db`, whose own app would set the shared limiter up again without limits.
    # Per-address limits out of the way (a botnet has many addresses): only the per-account one can answer 429.
    return make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_AUTH="1000 per minute")


def _attempt(app, email, password, address):
    return app.test_client().post("/login", data={"email": email, "password": password},
                                  environ_base={"REMOTE_ADDR": address})


def test_many_failures_from_many_addresses_slow_that_account_down_for_a_short_while(limited_app, db, clock):
    make_user("student", email="ada@example.com")
    make_user("student", email="budi@example.com")
    statuses = [_attempt(limited_app, " Ada@Example.com ", f"Guess#{n}x", f"198.51.100.{n}").status_code
                for n in range(10)]
    assert statuses == [422] * 10

    # The eleventh, even with the right password and from the owner's own address, waits.
    throttled = _attempt(limited_app, "ada@example.com", PASSWORD, "203.0.113.7")
    assert throttled.status_code == 429
    assert "Too many failed sign-ins for this account" in text(throttled)
    # Another account is not touched.
    assert _attempt(limited_app, "budi@example.com", PASSWORD, "198.51.100.1").status_code == 303

    clock.now += 15 * 60 + 1  # a quarter of an hour later the owner signs in again
    assert _attempt(limited_app, "ada@example.com", PASSWORD, "203.0.113.7").status_code == 303


def test_successful_sign_ins_do_not_count_against_the_account(limited_app, db, clock):
    make_user("student", email="ada@example.com")
    statuses = [_attempt(limited_app, "ada@example.com", PASSWORD, "203.0.113.7").status_code for _ in range(12)]
    assert statuses == [303] * 12
