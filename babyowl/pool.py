"""Pooled PostgreSQL connections are checked only after they sat idle.

`pool_pre_ping` costs a round trip on every checkout, i.e. on every request.
A connection dies while idle (a database restart, a failover, PgBouncer or a
firewall closing it), so a connection returned to the pool less than
DB_PING_IDLE_SECONDS ago is used as it is, and an older one is pinged first and
replaced if it is dead (SQLAlchemy retries the checkout with a new connection).
Connections are also replaced after DB_POOL_RECYCLE seconds. A database that
dies under load fails the requests in flight at that moment; SQLAlchemy then
discards every connection of the pool opened before the failure.

Transactions that only read end with COMMIT, not ROLLBACK (`commit_reads`):
psycopg forgets every statement it prepared on a connection when that
connection rolls back, so with every page ending in a ROLLBACK no statement
ever reached psycopg's prepare threshold and PostgreSQL parsed and planned
every statement of every page again (the student's home: 2.5 ms of the
database's CPU instead of 0.4).
"""
from __future__ import annotations

import time

from sqlalchemy import event, exc

_IDLE_SINCE = "babyowl.idle_since"
_WROTE = "babyowl.wrote"


def ping_when_idle(engine, idle_seconds: float) -> None:
    """Install the check on `engine`'s pool; `idle_seconds` 0 pings on every checkout (as pool_pre_ping)."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection, record) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _drawn(dbapi_connection, record, proxy) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new, or back in the pool a moment ago: alive as far as anyone can tell without asking
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError() from error  # the pool opens a fresh connection instead
            raise


def commit_reads(engine) -> None:
    """End a transaction that ran nothing but SELECTs with COMMIT when it is rolled back (a request's end).

    For the database the two are the same when nothing was written; a statement that writes, sets or fails
    (anything not starting with SELECT, or a transaction in error) leaves the rollback as it was.
    """
    from psycopg.pq import TransactionStatus

    @event.listens_for(engine, "begin")
    def _began(connection) -> None:
        connection.info[_WROTE] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _ran(connection, cursor, statement, parameters, context, executemany) -> None:
        if not connection.info.get(_WROTE) and statement.lstrip()[:6].lower() != "select":
            connection.info[_WROTE] = True

    @event.listens_for(engine, "rollback")
    def _ending(connection) -> None:
        if connection.info.get(_WROTE, True):
            return
        dbapi_connection = connection.connection.dbapi_connection
        if dbapi_connection.info.transaction_status == TransactionStatus.INTRANS:
            dbapi_connection.commit()  # psycopg's rollback() then finds nothing to roll back, and forgets nothing
