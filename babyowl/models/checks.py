"""Builders for CHECK constraint SQL.

The allowed values of every enum-like column live in one tuple next to its
model; the CHECK text is generated from that tuple so the database and the
application can never disagree about what is valid.
"""
from __future__ import annotations

from collections.abc import Iterable


def _literal(value: str) -> str:
    # Values are constants from our own code, but escaping keeps a stray quote
    # from ever producing broken (or injectable) DDL.
    return "'" + value.replace("'", "''") + "'"


def in_check(column: str, values: Iterable[str]) -> str:
    """Return portable SQL such as ``"role IN ('student', 'instructor')"``."""
    values = tuple(values)
    if not values:
        raise ValueError(f"in_check({column!r}) needs at least one allowed value")
    return f"{column} IN ({', '.join(_literal(v) for v in values)})"
