"""Lists a person pages through and searches: pages of 20, LIKE patterns taken literally."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, Sequence, TypeVar

from sqlalchemy import Select, func, or_, select

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
