"""One owner per transaction: the use case.

A public service function that changes state is wrapped once with `@use_case`
(or runs its body in `with unit_of_work():`). The wrapper commits once at the
end, rolls back on any exception (a refused use case changes nothing), and only
then runs what the use case registered with `after_commit(...)`: queueing a
job, publishing to Redis, deleting a stored file. Nothing leaves the process
before the commit it depends on.

It is durable: a use case that calls another committing use case raises
`NestedUseCase` at once, so a composition that would commit half-way fails in
the tests instead of in front of a class. Compose through inner functions that
do not commit (`_enroll()`, `_find_or_create_student()`).

Callbacks run outside the transaction, after it is safe on disk. One that
fails is logged and does not undo the use case: everything queued this way
has a sweep that finds its work from the database (emails, announcements,
grading), so a Redis outage delays work and never loses it.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

from babyowl.extensions import db

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
_KEY = "babyowl.use_case"
_KEPT = "babyowl.kept"


class NestedUseCase(RuntimeError):
    """A committing use case was called inside another one (a programming error, never a user's)."""


class NoUseCase(RuntimeError):
    """`after_commit` outside a use case: there is no commit to wait for."""


def in_use_case() -> bool:
    return _KEY in db.session.info


@contextmanager
def unit_of_work(name: str = "use case", *, keep_loaded: bool = False) -> Iterator[None]:
    """One transaction. `keep_loaded`: the rows loaded (and locked) inside stay loaded after the commit.

    By default the commit expires every loaded row, so the page drawn afterwards
    reads each one again (the signed-in user, the class, the enrollment: a tap
    re-read 7 rows it had just written, issue 22). A use case whose caller only
    shows what it wrote, read under its own locks, may keep them instead.
    """
    session = db.session
    if _KEY in session.info:
        raise NestedUseCase(f"{name} was started inside {session.info[_KEY]['name']}; "
                            "compose use cases through their inner, non-committing functions")
    state: dict[str, Any] = {"name": name, "callbacks": [], "keep_loaded": keep_loaded, "held": []}
    session.info[_KEY] = state
    try:
        yield
        if keep_loaded:
            real = session()
            expiring, real.expire_on_commit = real.expire_on_commit, False
            try:
                real.commit()
            finally:
                real.expire_on_commit = expiring
            # Held for the rest of the request: the identity map keeps a row only while something refers to it.
            real.info[_KEPT] = [*state["held"], *real.identity_map.values()]
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_KEY, None)
    for callback, args, kwargs in state["callbacks"]:
        try:
            callback(*args, **kwargs)
        except Exception:
            log.exception("After-commit step %s of %s failed; its sweep will pick the work up",
                          getattr(callback, "__name__", callback), name)


def use_case(fn: Callable[P, R] | None = None, *, keep_loaded: bool = False):
    """Run `fn` as one transaction: commit at the end, roll back on any error, then the after-commit steps.

    `@use_case` or `@use_case(keep_loaded=True)` (see `unit_of_work`).
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with unit_of_work(fn.__qualname__, keep_loaded=keep_loaded):
                return fn(*args, **kwargs)

        return wrapper

    return decorate(fn) if fn is not None else decorate


@event.listens_for(Session, "loaded_as_persistent")
def _hold_loaded_row(session, instance) -> None:
    state = session.info.get(_KEY)
    if state is not None and state["keep_loaded"]:
        state["held"].append(instance)


def kept_rows(model: type) -> list:
    """The rows of `model` that a `keep_loaded` use case of this request held when it committed."""
    return [row for row in db.session.info.get(_KEPT) or () if isinstance(row, model)]


def end_read() -> None:
    """End the read-only transaction a job is in before slow outside work (writing, storing a file), so no
    snapshot or pooled connection is held meanwhile. A read has nothing to commit; inside a use case it is a bug."""
    if in_use_case():
        raise NestedUseCase(f"end_read() inside {db.session.info[_KEY]['name']}: the use case owns its transaction")
    db.session.rollback()


def after_commit(callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run `callback(*args, **kwargs)` once the current use case has committed (never if it rolls back)."""
    state = db.session.info.get(_KEY)
    if state is None:
        raise NoUseCase(f"after_commit({getattr(callback, '__name__', callback)}) outside a use case")
    state["callbacks"].append((callback, args, kwargs))
