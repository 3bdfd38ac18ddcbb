"""Files a use case stores before its rows are committed.

A stored file (a cover, an uploaded video, a handed-in assignment) is written
before the row that names it is committed. If the use case does not commit,
nothing names the file any more, so it is deleted; files the use case replaces
are deleted only after the commit (`after_commit`), so a refused change never
loses the file that is still in use.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from babyowl.services.images import delete_stored
from babyowl.transactions import unit_of_work


@contextmanager
def use_case_owning_files(name: str, *keys: str | None) -> Iterator[list[str]]:
    """One use case (see `transactions.unit_of_work`) that owns the newly stored `keys`.

    Yields the list of keys; the use case appends the keys it stores itself.
    Any failure, the commit's included, deletes them all.
    """
    new_keys = [key for key in keys if key]
    try:
        with unit_of_work(name):
            yield new_keys
    except BaseException:
        for key in new_keys:
            delete_stored(key)
        raise
