"""The database pool and the statement timeout come from the environment (issue 22, point 4)."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from babyowl.config import ConfigError, load_config
from babyowl.extensions import db as _db

POOL_VARIABLES = ("DB_POOL_SIZE", "DB_MAX_OVERFLOW", "DB_POOL_TIMEOUT", "DB_STATEMENT_TIMEOUT_MS", "DB_PGBOUNCER",
                  "DB_POOL_RECYCLE", "DB_PING_IDLE_SECONDS")


@pytest.fixture
def pool_env(monkeypatch):
    for name in POOL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_engine_gets_the_pool_sizes_from_the_environment(pool_env, make_app):
    pool_env.setenv("DB_POOL_SIZE", "3")
    pool_env.setenv("DB_MAX_OVERFLOW", "1")
    pool_env.setenv("DB_POOL_TIMEOUT", "4")
    pool_env.setenv("DB_POOL_RECYCLE", "600")
    app = make_app()
    with app.app_context():
        pool = _db.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout, pool._recycle) == (3, 1, 4, 600)


def test_without_settings_the_pool_is_sqlalchemys_default_and_nothing_times_out(pool_env, make_app):
    app = make_app()
    with app.app_context():
        pool = _db.engine.pool
        # No pre-ping round trip on every request: idle connections are checked instead (below).
        assert (pool.size(), pool._max_overflow, pool._pre_ping, pool._recycle) == (5, 10, False, 1800)
        assert _db.session.scalar(sa.text("SHOW statement_timeout")) == "0"


def test_a_process_never_opens_more_than_pool_plus_overflow_connections(pool_env, make_app):
    pool_env.setenv("DB_POOL_SIZE", "1")
    pool_env.setenv("DB_MAX_OVERFLOW", "1")
    pool_env.setenv("DB_POOL_TIMEOUT", "1")
    app = make_app()
    with app.app_context(), _db.engine.connect(), _db.engine.connect():
        started = time.monotonic()
        with pytest.raises(sa.exc.TimeoutError):
            _db.engine.connect()
        assert time.monotonic() - started < 5


def test_a_query_longer_than_the_statement_timeout_is_cancelled(pool_env, make_app):
    pool_env.setenv("DB_STATEMENT_TIMEOUT_MS", "500")
    app = make_app()
    with app.app_context():
        assert _db.session.scalar(sa.text("SHOW statement_timeout")) == "500ms"
        started = time.monotonic()
        with pytest.raises(OperationalError, match="statement timeout"):
            _db.session.execute(sa.text("SELECT pg_sleep(2)"))
        assert time.monotonic() - started < 1.8
        _db.session.rollback()


def test_a_request_whose_query_runs_too_long_answers_an_error_page_not_a_hang(pool_env, make_app, db):
    pool_env.setenv("DB_STATEMENT_TIMEOUT_MS", "500")
    app = make_app()

    def slow_page():  # stands for a page whose query went wrong on a big school
        _db.session.execute(sa.text("SELECT pg_sleep(2)"))
        return "finished"

    app.add_url_rule("/slow-page-for-the-test", "slow_page_for_the_test", slow_page)
    client = app.test_client()
    started = time.monotonic()
    response = client.get("/slow-page-for-the-test")
    assert time.monotonic() - started < 1.8
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    # The connection went back to the pool usable: the next request is served.
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code in (200, 302)


def test_behind_pgbouncer_psycopg_prepares_no_statements(pool_env, make_app):
    pool_env.setenv("DB_PGBOUNCER", "1")
    app = make_app()
    with app.app_context(), _db.engine.connect() as connection:
        assert connection.connection.dbapi_connection.prepare_threshold is None


def test_a_statement_timeout_through_pgbouncer_is_refused_at_start_up(pool_env, tmp_path):
    # PgBouncer does not pass the start-up `options` on: the timeout would silently not apply.
    pool_env.setenv("DB_PGBOUNCER", "1")
    pool_env.setenv("DB_STATEMENT_TIMEOUT_MS", "30000")
    with pytest.raises(ConfigError, match="ALTER ROLE"):
        load_config(str(tmp_path), {"SQLALCHEMY_DATABASE_URI": "postgresql://u@127.0.0.1/babyowl"})


def test_sqlite_gets_no_postgresql_settings(pool_env, tmp_path):
    pool_env.delenv("DATABASE_URL", raising=False)
    pool_env.setenv("DB_STATEMENT_TIMEOUT_MS", "500")
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True}


def _terminate(database_url: str, pid: int) -> None:
    """End one backend from outside, as a database restart or a closed idle connection does."""
    from sqlalchemy.engine import make_url

    admin = sa.create_engine(make_url(database_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        assert connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    admin.dispose()


def _on_the_pool(app, query: str):
    """`query`'s one value, read on a pooled connection of `app`."""
    with app.app_context():
        value = _db.session.scalar(sa.text(query))
        _db.session.remove()
    return value


def _pooled_backend(app) -> int:
    return _on_the_pool(app, "SELECT pg_backend_pid()")


def test_a_connection_that_died_while_idle_is_replaced_before_a_request_uses_it(pool_env, make_app, database_url):
    pool_env.setenv("DB_PING_IDLE_SECONDS", "0.2")
    pool_env.setenv("DB_POOL_SIZE", "1")
    pool_env.setenv("DB_MAX_OVERFLOW", "0")
    app = make_app()
    _terminate(database_url, _pooled_backend(app))
    time.sleep(0.3)
    assert app.test_client().get("/").status_code in (200, 302)
    assert _pooled_backend(app) is not None


def test_a_connection_back_in_the_pool_a_moment_ago_is_used_without_a_ping(pool_env, make_app):
    pool_env.setenv("DB_PING_IDLE_SECONDS", "30")
    app = make_app()
    with app.app_context():
        pings = []
        dialect = _db.engine.dialect
        original = dialect.do_ping
        dialect.do_ping = lambda connection: pings.append(1) or original(connection)
        try:
            for _ in range(3):
                with _db.engine.connect() as connection:
                    connection.execute(sa.text("SELECT 1"))
        finally:
            dialect.do_ping = original
    assert pings == []


def _prepared_statements(app, requests: int) -> int:
    """Statements prepared on the pool's one connection after `requests` GET requests of the same page."""
    client = app.test_client()
    for _ in range(requests):
        assert client.get("/catalog").status_code == 200
    return _on_the_pool(app, "SELECT count(*) FROM pg_prepared_statements")


def test_pages_that_only_read_keep_their_statements_prepared(pool_env, make_app, db):
    # psycopg forgets its prepared statements on ROLLBACK; a read-only request now ends with COMMIT, so the
    # catalog's statements, run more than psycopg's threshold (5) times on the one connection, stay prepared.
    pool_env.setenv("DB_POOL_SIZE", "1")
    pool_env.setenv("DB_MAX_OVERFLOW", "0")
    assert _prepared_statements(make_app(), 8) > 0


def test_a_transaction_that_wrote_is_still_rolled_back(pool_env, make_app, db):
    from babyowl.models import Course

    app = make_app()
    with app.app_context():
        _db.session.execute(sa.select(Course.id)).all()  # a read first: the transaction is not read-only after
        _db.session.execute(sa.text("CREATE TEMPORARY TABLE rolled_back (n int)"))
        _db.session.rollback()
        assert _db.session.scalar(sa.text("SELECT to_regclass('pg_temp.rolled_back') IS NULL"))
        with pytest.raises(sa.exc.DataError):
            _db.session.execute(sa.text("SELECT 1 / 0"))  # a failed read: the transaction is in error
        _db.session.rollback()
        assert _db.session.scalar(sa.text("SELECT 1")) == 1
        _db.session.remove()
