"""Readiness: can this node serve requests? Asked by the load balancer through `/readyz`.

Each dependency is asked in a thread of its own with a short deadline, so a
hung database or Redis makes the answer "down", never a hung probe. The check
uses its own connections: no request session, no rows, no cookies.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import current_app
from sqlalchemy import text

CHECK_TIMEOUT = 1.0  # seconds, for every dependency at once
OK = "ok"


def _database_check() -> Callable[[], None]:
    from babyowl.extensions import db

    engine = db.engine

    def check() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    return check


def _redis_check() -> Callable[[], None]:
    from babyowl.jobs import redis_connection

    connection = redis_connection(current_app.config["REDIS_URL"])  # a new pool: a dead one is not reused

    def check() -> None:
        try:
            connection.ping()
        finally:
            connection.close()

    return check


def readiness(timeout: float = CHECK_TIMEOUT) -> dict[str, str]:
    """Each dependency → "ok", "down (<why>)" or "not configured"; they are asked at the same time."""
    checks: dict[str, Callable[[], None]] = {"database": _database_check()}
    states = {"database": ""}
    if current_app.config.get("REDIS_URL"):
        checks["redis"] = _redis_check()
        states["redis"] = ""
    else:
        states["redis"] = "not configured"

    def run(name: str, check: Callable[[], None]) -> None:
        try:
            check()
        except Exception as error:  # whatever the driver raises, the dependency is down
            states[name] = f"down ({type(error).__name__})"
        else:
            states[name] = OK

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in checks.items()]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {name: state or f"down (no answer within {timeout:g} s)" for name, state in states.items()}


def down(states: dict[str, str]) -> list[str]:
    """The dependencies that did not answer."""
    return [name for name, state in states.items() if state not in (OK, "not configured")]
