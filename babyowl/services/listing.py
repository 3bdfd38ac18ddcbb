"""Lists a person pages through and searches: pages of 20, keyset pages for apps, LIKE patterns taken literally."""
from __future__ import annotations

import functools
import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Callable, Generic, Sequence, TypeVar

from sqlalchemy import Select, and_, bindparam, func, or_, select, tuple_

from babyowl.extensions import db

T = TypeVar("T")
PER_PAGE = 20


@dataclass
class Page(Generic[T]):
    items: Sequence[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(query: Select, page: int, per_page: int = PER_PAGE) -> Page:
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page = min(max(1, page), max(1, math.ceil(total / per_page)))
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=items, page=page, per_page=per_page, total=total)


def like_pattern(text: str) -> str:
    """A case-insensitive LIKE pattern that takes % and _ in the search literally (use escape="\\")."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def text_matches(text: str, *columns):
    """Any of `columns` contains `text`, ignoring case; % and _ typed by a person are taken literally."""
    pattern = like_pattern(text)
    return or_(*(func.lower(column).like(pattern, escape="\\") for column in columns))


# Keyset pages: "the next N after this row", for lists read by apps (the JSON API) --------------------------------

@dataclass(frozen=True)
class Key:
    """One term of a keyset order: a column (never NULL: coalesce a nullable one), the type its cursor value
    parses to, and its direction. The last key of an order must be unique (the id) so no two rows tie."""

    column: Any
    kind: type
    descending: bool = False


@dataclass
class Slice(Generic[T]):
    """One keyset page: its items, whether more follow, and the key values of its last item (None at the end)."""

    items: list[T]
    has_more: bool
    last: list | None
    limit: int

    def map(self, convert: Callable[[Any], Any]) -> "Slice":
        return Slice([convert(item) for item in self.items], self.has_more, self.last, self.limit)


_MAX_INT = 2**31 - 1


def _parse(kind: type, value: Any) -> Any:
    """A cursor value back to its column's type; anything else (forged, garbled, another list's) is refused."""
    if kind is int and type(value) is int and -_MAX_INT <= value <= _MAX_INT:
        return value
    if kind is str and isinstance(value, str) and "\x00" not in value and len(value) <= 1000:
        return value
    if kind is uuid.UUID and isinstance(value, str):
        return uuid.UUID(value)
    if kind is date and isinstance(value, str):
        return date.fromisoformat(value)
    if kind is time and isinstance(value, str):
        return time.fromisoformat(value)
    if kind is datetime and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            return moment
    raise ValueError(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def parse_after(keys: Sequence[Key], after: list | None) -> tuple | None:
    """The key values a page starts after, typed; InvalidInput (422) for a cursor that is not one of this list's."""
    if after is None:
        return None
    try:
        if not isinstance(after, list) or len(after) != len(keys):
            raise ValueError(after)
        return tuple(_parse(key.kind, value) for key, value in zip(keys, after))
    except (ValueError, TypeError, OverflowError) as exc:
        from flask_babel import gettext as _

        from babyowl.services.errors import InvalidInput

        raise InvalidInput(_("This page link is not valid. Start again from the first page.")) from exc


def _beyond(keys: Sequence[Key], values: tuple):
    """Rows after `values` in the order of `keys`: one row comparison when every key runs the same way (an index
    on the keys serves it), else "a > x OR (a = x AND b > y) …"."""
    bound = [bindparam(None, value, type_=key.column.type) for key, value in zip(keys, values)]
    if len({key.descending for key in keys}) == 1:
        left, right = tuple_(*(key.column for key in keys)), tuple_(*bound)
        return left < right if keys[0].descending else left > right
    terms = []
    for index, key in enumerate(keys):
        step = key.column < bound[index] if key.descending else key.column > bound[index]
        terms.append(and_(*(keys[j].column == bound[j] for j in range(index)), step))
    return or_(*terms)


def _beyond_row(keys: Sequence[Key], row_id: Any):
    """Rows after the row whose last key (its id) is `row_id`, its other keys read in the same statement: for a
    client that holds only an id (a poll for the messages newer than the last one shown). Keys of one table, all
    running the same way; an id that names no row gives no rows."""
    anchor = select(*(key.column for key in keys)).where(keys[-1].column == bindparam(
        None, row_id, type_=keys[-1].column.type)).correlate(None).scalar_subquery()
    left = tuple_(*(key.column for key in keys))
    return left < anchor if keys[0].descending else left > anchor


def keyset_page(query: Select, keys: Sequence[Key], *, after: list | None = None, limit: int,
                after_id: Any = None) -> Slice:
    """`limit` rows of `query` in the order of `keys`, after the row whose key values are `after` (a cursor), or
    (`after_id`) after the row with that id.

    Unlike an offset, a row written (or removed) between two pages neither repeats nor hides another. One
    statement: the keys ride along as extra columns, and one row more than asked says whether more follow.
    Items are the query's entity, or a tuple of its columns when it selects several.
    """
    values = parse_after(keys, after)
    statement = query.add_columns(*(key.column for key in keys)).order_by(None).order_by(
        *(key.column.desc() if key.descending else key.column.asc() for key in keys))
    if values is not None:
        statement = statement.where(_beyond(keys, values))
    elif after_id is not None:
        statement = statement.where(_beyond_row(keys, after_id))
    rows = db.session.execute(statement.limit(limit + 1)).unique().all()
    more, rows, width = len(rows) > limit, rows[:limit], len(query.column_descriptions)
    items = [row[0] if width == 1 else tuple(row[:width]) for row in rows]
    last = [_json_value(value) for value in rows[-1][width:]] if more else None
    return Slice(items, more, last, limit)


def keyset_slice(items: Sequence[T], key: Callable[[T], tuple], keys: Sequence[Key], *, after: list | None,
                 limit: int) -> Slice[T]:
    """The same page over a list already in memory and sorted by `key` (a bounded one that is computed whole,
    e.g. a ledger with its running total): the items after `after`, by value, never by position."""
    values = parse_after(keys, after)
    rest = [item for item in items if values is None or _sortable(keys, key(item)) > _sortable(keys, values)]
    page, more = rest[:limit], len(rest) > limit
    return Slice(list(page), more, [_json_value(v) for v in key(page[-1])] if more else None, limit)


def _sortable(keys: Sequence[Key], values: tuple) -> tuple:
    return tuple(_Reversed(v) if k.descending else v for k, v in zip(keys, values))


@functools.total_ordering
class _Reversed:
    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return self.value == other.value

    def __lt__(self, other):
        return self.value > other.value
