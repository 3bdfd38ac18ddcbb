"""After anything earned XP: check the student's badges and streak milestones (safe to run twice).

Queued after the commit of the award (services/xp.py), with a fixed job id per
student so a burst of awards (a whole class marked present) collapses into one
check per student while it waits. Inline without Redis.
"""
from __future__ import annotations

import uuid

from babyowl import jobs
from babyowl.jobs.context import with_app_context


def job_id(user_id) -> str:
    return f"achievements-{user_id}"


def queue_achievements(user_id):
    return jobs.enqueue(check_achievements, str(user_id), job_id=job_id(user_id))


@with_app_context
def check_achievements(user_id: str) -> int:
    from babyowl.services import badges

    return len(badges.check_achievements(uuid.UUID(user_id)))
