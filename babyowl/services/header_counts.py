"""The two numbers of the layout's header (the bell and the messages link), read with the page.

The header used to fetch them with two htmx requests on every page load:
three signed-in requests per page view, two of them for a number. Now a full
page reads both in one statement while it renders, and htmx only refreshes
them (every minute, every 30 s, and after a read or a send). The counts are
the ones `notifications.unread_count` and `messages.unread_total` answer.
"""
from __future__ import annotations

import functools
import logging
import uuid
from typing import NamedTuple

from sqlalchemy import Uuid, bindparam, select
from sqlalchemy.exc import SQLAlchemyError

from babyowl.extensions import db

log = logging.getLogger(__name__)


class HeaderCounts(NamedTuple):
    notifications: int
    messages: int


@functools.cache
def _statement():
    # Built once: the layout renders on every page, and building the messages' range condition costs more
    # CPU than running it.
    from babyowl.services import messages, notifications

    user_id = bindparam("user_id", type_=Uuid())
    return select(notifications.unread_count_statement(user_id).scalar_subquery(),
                  messages.unread_total_statement(user_id).scalar_subquery())


def header_counts(user_id: uuid.UUID) -> HeaderCounts | None:
    """Both counts, or None when they cannot be read (an error page after a failed transaction): the header
    then fetches them itself."""
    try:
        notifications_unread, messages_unread = db.session.execute(_statement(), {"user_id": user_id}).one()
    except SQLAlchemyError:
        log.warning("The header's unread counts could not be read", exc_info=True)
        return None
    return HeaderCounts(notifications_unread or 0, messages_unread or 0)
