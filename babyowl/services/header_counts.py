"""The two numbers of the layout's header (the bell and the messages link), read with the page.

The header used to fetch them with two htmx requests on every page load:
three signed-in requests per page view, two of them for a number. Now a full
page shows them as it renders, and htmx only refreshes them (every minute,
every 30 s, and after a read or a send). The counts are the ones
`notifications.unread_count` and `messages.unread_total` answer.

A plain page view (a GET without htmx) reads them in the statement that loads
the signed-in user (`sessions.signed_in_user`), so the page pays no statement
for them; they are remembered for the request in `flask.g`. A request that
commits afterwards (opening a conversation or an announcement marks it read)
forgets them, and the layout reads them again, after the change.
"""
from __future__ import annotations

import functools
import logging
import uuid
from typing import NamedTuple

from flask import g, has_app_context
from sqlalchemy import Uuid, bindparam, event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from babyowl.extensions import db

log = logging.getLogger(__name__)
_REMEMBERED = "_header_counts"


class HeaderCounts(NamedTuple):
    notifications: int
    messages: int

    @classmethod
    def read(cls, notifications_unread: int | None, messages_unread: int | None) -> HeaderCounts:
        return cls(notifications_unread or 0, messages_unread or 0)


def count_columns(user_id) -> tuple:
    """Both counts as scalar subqueries of `user_id`: a bind parameter, or a column they correlate with."""
    from babyowl.services import messages, notifications

    return (notifications.unread_count_statement(user_id).scalar_subquery(),
            messages.unread_total_statement(user_id).scalar_subquery())


@functools.cache
def _statement():
    # Built once: building the messages' range condition costs more CPU than running it.
    return select(*count_columns(bindparam("user_id", type_=Uuid())))


def remember(user_id: uuid.UUID, notifications_unread: int | None, messages_unread: int | None) -> None:
    """Keep the counts read with the user for this request's layout."""
    setattr(g, _REMEMBERED, (user_id, HeaderCounts.read(notifications_unread, messages_unread)))


@event.listens_for(Session, "after_commit")
def _forget_after_a_commit(session) -> None:
    if has_app_context():
        g.pop(_REMEMBERED, None)


def header_counts(user_id: uuid.UUID) -> HeaderCounts | None:
    """Both counts, or None when they cannot be read (an error page after a failed transaction): the header
    then fetches them itself."""
    remembered = g.get(_REMEMBERED)
    if remembered is not None and remembered[0] == user_id:
        return remembered[1]
    try:
        return HeaderCounts.read(*db.session.execute(_statement(), {"user_id": user_id}).one())
    except SQLAlchemyError:
        log.warning("The header's unread counts could not be read", exc_info=True)
        return None
