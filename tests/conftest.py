"""Test harness: a real PostgreSQL and a real Redis, never skipped.

The database is created fresh for the session by running the migrations
(`flask db upgrade`), and emptied before every test that uses it.
"""
from __future__ import annotations

import contextvars
import os
import uuid
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from flask.testing import FlaskClient

from babyowl import create_app
from babyowl.extensions import db as _db
from babyowl.models.base import Base

# The storage fixtures (moto S3 server, both backends) for the tests of files.
pytest_plugins = ["tests.storage_fixtures"]

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")

BASE_TEST_CONFIG = {
    "ENV_NAME": "testing",
    "TESTING": True,
    "SECRET_KEY": "test-secret",
    "BCRYPT_ROUNDS": 4,
    # Tests post forms directly; the CSRF tests turn protection back on.
    "WTF_CSRF_ENABLED": False,
    # The rate-limit tests turn limits back on with their own storage.
    "RATELIMIT_ENABLED": False,
    "BABEL_DEFAULT_LOCALE": "en",
    "MAIL_BACKEND": "console",
    "REDIS_URL": None,
}


def _require(name: str, value: str | None) -> str:
    if not value:
        pytest.exit(f"{name} is not set. Run the suite with `make test`, which points it at PostgreSQL and Redis.",
                    returncode=3)
    return value


def _recreate_database(url: str) -> None:
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    except sa.exc.OperationalError as exc:
        pytest.exit(f"PostgreSQL at {target.render_as_string(hide_password=True)} is unreachable: {exc}", returncode=3)
    finally:
        admin.dispose()


class IsolatedClient(FlaskClient):
    """Each request runs in its own app context, as in production.

    Flask reuses an app context that is already pushed (the test's own), which
    would share `g`, the cached locale and the database session between the
    test and the request, and hide a missing commit.
    """

    def open(self, *args, **kwargs):
        def run():
            response = super(IsolatedClient, self).open(*args, **kwargs)
            if response.is_streamed:
                # A streamed body (CSV export) pops its request context when it
                # ends; read it here, in the context that pushed it.
                response.make_sequence()
            return response

        return contextvars.Context().run(run)


def _xdist_worker() -> int | None:
    """The number of this pytest-xdist worker (gw0 → 0), or None when the suite runs in one process."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else None


@pytest.fixture(scope="session")
def database_url() -> str:
    url = _require("TEST_DATABASE_URL", TEST_DATABASE_URL)
    worker = _xdist_worker()
    if worker is not None:  # parallel workers: a database each (the suite drops and re-creates it)
        target = make_url(url)
        url = target.set(database=f"{target.database}_gw{worker}").render_as_string(hide_password=False)
    _recreate_database(url)
    app = create_app({**BASE_TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        _db.engine.dispose()
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    url = _require("TEST_REDIS_URL", TEST_REDIS_URL)
    worker = _xdist_worker()
    if worker:  # parallel workers: a Redis database each, counting down from the one given (15, 14, ...)
        base, _, number = url.rpartition("/")
        url = f"{base}/{int(number or 0) - worker}"
    try:
        Redis.from_url(url).ping()
    except RedisConnectionError as exc:
        pytest.exit(f"Redis at {url} is unreachable: {exc}", returncode=3)
    return url


@pytest.fixture
def redis_db(redis_url):
    """A connection to the test's Redis database, emptied before and after the test."""
    from redis import Redis

    connection = Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build an app on the test database with extra configuration."""
    apps = []

    def factory(**overrides):
        config = {**BASE_TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url,
                  "MAIL_FILE_DIR": str(tmp_path / "mail"), "STORAGE_DIR": str(tmp_path / "uploads"), **overrides}
        new_app = create_app(config)
        new_app.test_client_class = IsolatedClient
        apps.append(new_app)
        return new_app

    yield factory
    for built in apps:
        with built.app_context():
            _db.engine.dispose()


@pytest.fixture(scope="session")
def shared_app(database_url, tmp_path_factory):
    """One app for every test that needs no configuration of its own: building one costs ~0.16 s (×1,400 tests)."""
    root = tmp_path_factory.mktemp("shared-app")
    built = create_app({**BASE_TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url,
                        "MAIL_FILE_DIR": str(root / "mail"), "STORAGE_DIR": str(root / "uploads")})
    built.test_client_class = IsolatedClient
    yield built
    with built.app_context():
        _db.engine.dispose()


@pytest.fixture
def app(shared_app, tmp_path):
    """The shared app, with this test's own mail and upload folders; whatever the test changes in its config is undone.

    A test that needs other configuration, or adds routes, builds its own with `make_app(**overrides)`.
    """
    saved = shared_app.config.copy()
    shared_app.config.update(MAIL_FILE_DIR=str(tmp_path / "mail"), STORAGE_DIR=str(tmp_path / "uploads"))
    shared_app.extensions.pop("babyowl.storage", None)  # built from STORAGE_DIR on first use
    yield shared_app
    shared_app.extensions.pop("babyowl.storage", None)
    shared_app.config.clear()
    shared_app.config.update(saved)


def _empty_all_tables(connection) -> None:
    # DELETE, children first: on tables this small it takes ~2 ms, where one
    # TRUNCATE of every table takes ~160 ms (measured), per test.
    connection.exec_driver_sql("; ".join(f'DELETE FROM "{t.name}"' for t in reversed(Base.metadata.sorted_tables)))


@pytest.fixture
def db(app):
    """The app's database session inside an app context, on empty tables."""
    with app.app_context():
        with _db.engine.begin() as connection:
            _empty_all_tables(connection)
        yield _db
        _db.session.rollback()
        _db.session.remove()


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def login_as(client, db):
    """Sign the test client in as a new user of `role`; returns that user."""
    from tests.factories import cookie_id_for, make_user

    def sign_in(role: str = "student", **fields):
        user = make_user(role=role, **fields)
        with client.session_transaction() as session:
            session["_user_id"] = cookie_id_for(user)
            session["_fresh"] = True
        return user

    return sign_in


@pytest.fixture
def count_queries(db):
    """Count the SQL statements run inside the `with` block (N+1 guard for list pages)."""

    @contextmanager
    def counter():
        statements: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        sa.event.listen(_db.engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            sa.event.remove(_db.engine, "before_cursor_execute", before)

    return counter


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]
