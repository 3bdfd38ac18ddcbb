"""The app through PgBouncer in transaction mode (deploy/pgbouncer/pgbouncer.ini, Debian's 1.18).

Transaction pooling hands each transaction whichever server connection is free:
a statement psycopg prepared on one is missing on the next. With DB_PGBOUNCER=1
psycopg prepares nothing, and many parallel transactions of the same queries
run cleanly through it.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from babyowl.extensions import db as _db
from babyowl.models import User
from tests.factories import make_user
from tests.ops.conftest import PROJECT, free_port, wait_for_port

PGBOUNCER = "/usr/sbin/pgbouncer"


def _swap(text: str, old: str, new: str) -> str:
    assert old in text, f"deploy/pgbouncer/pgbouncer.ini no longer contains {old!r}"
    return text.replace(old, new)


@pytest.fixture
def pgbouncer(processes, database_url):
    """deploy/pgbouncer/pgbouncer.ini in front of the test database; yields the URL clients use."""
    target = make_url(database_url)
    port = free_port()
    # PgBouncer will not run as root: it drops to the postgres user, who must read its files.
    directory = Path(tempfile.mkdtemp(prefix="babyowl-pgbouncer-"))
    directory.chmod(0o755)
    ini = (PROJECT / "deploy/pgbouncer/pgbouncer.ini").read_text()
    ini = _swap(ini, "babyowl = host=10.0.0.20 port=5432 dbname=babyowl",
                f"babyowl = host={target.host} port={target.port or 5432} dbname={target.database}")
    ini = _swap(ini, "listen_port = 6432", f"listen_port = {port}")
    ini = _swap(ini, "unix_socket_dir = /var/run/postgresql", "unix_socket_dir =")
    ini = _swap(ini, "logfile = /var/log/postgresql/pgbouncer.log", f"logfile = {directory}/pgbouncer.log")
    ini = _swap(ini, "pidfile = /var/run/postgresql/pgbouncer.pid", f"pidfile = {directory}/pgbouncer.pid")
    # The test's PostgreSQL trusts loopback connections; production uses SCRAM (see the file).
    ini = _swap(ini, "auth_type = scram-sha-256", "auth_type = trust")
    # Two server connections for the tests' six clients: consecutive transactions of one client land on
    # different server connections every time, not only when the threads happen to interleave (with 20, a
    # run where each client kept meeting its own server connection prepared statements without an error).
    ini = _swap(ini, "default_pool_size = 20", "default_pool_size = 2")
    ini = _swap(ini, "min_pool_size = 4", "min_pool_size = 0")
    ini = _swap(ini, "auth_file = /etc/pgbouncer/userlist.txt", f"auth_file = {directory}/userlist.txt")
    (directory / "userlist.txt").write_text(f'"{target.username}" ""\n')
    (directory / "pgbouncer.ini").write_text(ini)
    for path in directory.iterdir():
        path.chmod(0o644)
    if os.geteuid() == 0:
        shutil.chown(directory, user="postgres")
    command = [PGBOUNCER] + (["-u", "postgres"] if os.geteuid() == 0 else []) + [str(directory / "pgbouncer.ini")]
    process = processes.start("pgbouncer", command, dict(os.environ))
    try:
        wait_for_port(port, process)
        yield target.set(host="127.0.0.1", port=port, database="babyowl").render_as_string(hide_password=False)
    finally:
        processes.stop_all()
        shutil.rmtree(directory, ignore_errors=True)


def _same_queries_in_parallel(app, email: str, threads: int = 6, rounds: int = 40) -> list[BaseException]:
    """Each thread runs the same queries, one short transaction per round, as web requests do."""
    failures: list[BaseException] = []
    start = threading.Barrier(threads)

    def requests_of_one_thread():
        start.wait()
        for _ in range(rounds):
            with app.app_context():
                try:
                    assert _db.session.scalars(select(User).where(User.email == email)).one().email == email
                    _db.session.commit()
                except Exception as error:  # collected: the test shows them all
                    failures.append(error)
                    return
                finally:
                    _db.session.remove()

    workers = [threading.Thread(target=requests_of_one_thread) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    return failures


def test_through_pgbouncer_in_transaction_mode_parallel_requests_run_cleanly(pgbouncer, make_app, db, monkeypatch):
    user = make_user("student")
    monkeypatch.setenv("DB_PGBOUNCER", "1")
    monkeypatch.delenv("DB_STATEMENT_TIMEOUT_MS", raising=False)
    app = make_app(SQLALCHEMY_DATABASE_URI=pgbouncer)
    # psycopg prepares a statement on its 5th run; here every query is run 40 times per connection.
    assert _same_queries_in_parallel(app, user.email) == []
    client = app.test_client()
    assert client.get("/login").status_code == 200


def test_pgbouncer_without_its_setting_is_what_the_setting_prevents(pgbouncer, make_app, db, monkeypatch):
    # The same run with psycopg's prepared statements: transactions land on server
    # connections where the statement was never prepared (or already was).
    user = make_user("student")
    monkeypatch.delenv("DB_PGBOUNCER", raising=False)
    monkeypatch.delenv("DB_STATEMENT_TIMEOUT_MS", raising=False)
    app = make_app(SQLALCHEMY_DATABASE_URI=pgbouncer)
    failures = _same_queries_in_parallel(app, user.email)
    assert failures and all("prepared statement" in str(error) for error in failures), failures


def test_pgbouncer_refuses_the_startup_options_that_carry_a_statement_timeout(pgbouncer):
    # Why DB_STATEMENT_TIMEOUT_MS is refused with DB_PGBOUNCER=1 (babyowl/config.py).
    import psycopg

    url = make_url(pgbouncer)
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
        psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database,
                        options="-c statement_timeout=500").close()
