"""Several writes of one use case in one round trip.

PostgreSQL runs INSERT/UPDATE statements as data-modifying CTEs of one statement: they all see the same
snapshot and all run, referenced or not, and foreign keys are checked at the end of the statement (a row and
the rows that refer to it may go in together). SQLite has no such CTE: there they run one by one. The writes
are Core statements built once, each with its own prefix on its parameter names: one statement holds all
their parameters, and an INSERT or UPDATE takes a parameter named as one of its table's columns as a value to
set (an `id` meant for another table's row would be written into this one).
"""
from __future__ import annotations

import functools

from sqlalchemy import literal, select

from babyowl.extensions import db


@functools.cache
def with_writes(statement, writes: tuple):
    """`statement` with `writes` as its data-modifying CTEs (PostgreSQL), built once per combination."""
    return statement.add_cte(*(write.cte(f"write_{index}") for index, write in enumerate(writes)))


_NOTHING_ELSE = select(literal(1))


def run_together(writes: tuple, params: dict) -> None:
    """Run `writes` with `params`: one statement on PostgreSQL, one each on SQLite."""
    if not writes:
        return
    if db.engine.dialect.name == "postgresql":
        db.session.execute(with_writes(_NOTHING_ELSE, writes), params)
    else:
        for write in writes:
            db.session.execute(write, params)
