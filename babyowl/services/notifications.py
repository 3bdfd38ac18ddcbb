"""In-app notifications, with an email for each through the job queue."""
from __future__ import annotations

import uuid

from babyowl.extensions import db
from babyowl.jobs.email import queue_email
from babyowl.models import Notification, User


def notify(users: list[User], *, kind: str, title: str, message: str, reference_id: uuid.UUID | None = None,
           email: bool = True) -> None:
    """One notification per user; call after the change it announces has committed."""
    for user in users:
        db.session.add(Notification(user_id=user.id, type=kind, title=title, message=message,
                                    reference_id=reference_id))
    db.session.commit()
    if email:
        for user in users:
            queue_email(user.email, title, message)
