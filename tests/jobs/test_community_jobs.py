"""The worker's sweep sends community like digests and event reminders, each once, found from the database."""
from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select

from babyowl.jobs.announcements import sweep
from babyowl.models import Notification
from babyowl.models.base import utcnow
from babyowl.services import community, community_events
from babyowl.services.school_time import in_school_time
from tests.factories import make_user


def test_the_sweep_sends_one_like_digest_and_one_reminder_however_often_it_runs(app, db):
    author = make_user("student")
    post = community.create_post(author, content="Spiral")
    for _ in range(3):
        community.like(make_user("student"), post.id)
    teacher, student = make_user("instructor"), make_user("student")
    local = in_school_time(utcnow() + timedelta(hours=6))
    if local.hour == 23:
        local -= timedelta(hours=1)
    event = community_events.create_event(teacher, title="Kopdar", description=None, event_date=local.date(),
                                          start_time=local.time().replace(second=0, microsecond=0),
                                          end_time=time(23, 59), online=True, location=None, capacity=None)
    community_events.rsvp(student, event.id, "attending")

    first, second = sweep(), sweep()
    assert (first["like_digests"], first["event_reminders"]) == (1, 1)
    assert (second["like_digests"], second["event_reminders"]) == (0, 0)
    kinds = sorted(db.session.scalars(select(Notification.type)))
    assert kinds == ["community_likes", "event_reminder"]
    link = db.session.scalar(select(Notification.link).where(Notification.type == "event_reminder"))
    assert link == f"/community/events/{event.id}"
