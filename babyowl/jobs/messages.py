"""The unread-messages digest: one email per person, sent by the worker's sweep.

Safe to run twice, in parallel too: each person's digest is its own use case
that locks their conversation memberships first (services/messages.py
`send_digest`), so a second run waits and then finds nothing left to tell.
"""
from __future__ import annotations

import logging

from babyowl.jobs.context import with_app_context

log = logging.getLogger(__name__)


def send_digests() -> int:
    """Write a digest email for everyone due one; returns how many were written."""
    from babyowl.services import messages

    sent = 0
    for user_id in messages.people_due_a_digest():
        try:
            sent += bool(messages.send_digest(user_id))
        except Exception:  # one person's failure must not stop the others' digests
            log.exception("The message digest for user %s failed; the next sweep tries again", user_id)
    return sent


@with_app_context
def send_message_digests() -> int:
    """The job (queued on its own, or run by the sweep)."""
    return send_digests()
