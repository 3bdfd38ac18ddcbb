"""Keyset cursors of the API's lists: the opaque `cursor` holds the last row's sort key, parsed back typed.

A cursor that is not one of ours (edited, truncated, from another list) is a 422 with the envelope, never a 500
and never a silently wrong page.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from flask_babel import gettext as _

from babyowl.blueprints.api.core import decode_cursor, encode_cursor
from babyowl.services.errors import InvalidInput


def moment(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("a keyset moment carries its time zone")
    return parsed


PARSERS: dict[type, Callable[[Any], Any]] = {
    uuid.UUID: lambda value: uuid.UUID(str(value)), datetime: moment, date: lambda v: date.fromisoformat(str(v)),
    time: lambda value: time.fromisoformat(str(value)), str: str,
}


def read_keyset(cursor: str | None, *types: type) -> tuple | None:
    """The typed sort key in `cursor` (None for the first page)."""
    values = decode_cursor(cursor)
    if values is None:
        return None
    try:
        if len(values) != len(types):
            raise ValueError("a cursor of another list")
        return tuple(PARSERS[kind](value) for kind, value in zip(types, values))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(_("This page link is not valid. Start again from the first page.")) from exc


def write_keyset(*values: Any) -> str:
    return encode_cursor([value.isoformat() if isinstance(value, (date, time)) else str(value) for value in values])


def page_meta(limit: int, more: bool, *last_key: Any) -> dict:
    """`meta` of a keyset page: has_more, next_cursor (from the last row's key) and the limit."""
    return {"has_more": more, "next_cursor": write_keyset(*last_key) if more else None, "limit": limit}


def keyset_page(rows: list, limit: int, key: Callable[[Any], tuple]) -> tuple[list, dict]:
    """Rows fetched with `limit + 1` -> the page's rows and its `meta` (the extra row only says more follow)."""
    more, rows = len(rows) > limit, rows[:limit]
    return rows, page_meta(limit, more, *(key(rows[-1]) if more else ()))
