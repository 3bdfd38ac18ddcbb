"""Pooled PostgreSQL connections are checked only after they sat idle.

`pool_pre_ping` costs a round trip on every checkout, i.e. on every request.
A connection dies while idle (a database restart, a failover, PgBouncer or a
firewall closing it), so a connection returned to the pool less than
DB_PING_IDLE_SECONDS ago is used as it is, and an older one is pinged first and
replaced if it is dead (SQLAlchemy retries the checkout with a new connection).
Connections are also replaced after DB_POOL_RECYCLE seconds. A database that
dies under load fails the requests in flight at that moment; SQLAlchemy then
discards every connection of the pool opened before the failure.
"""
from __future__ import annotations

import time

from sqlalchemy import event, exc

_IDLE_SINCE = "babyowl.idle_since"


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
