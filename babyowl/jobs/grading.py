"""The grading job: one submission, graded once, whatever the number of runs."""
from __future__ import annotations

import uuid

from babyowl import jobs
from babyowl.jobs.context import with_app_context


@with_app_context
def grade_submission(submission_id: str) -> None:
    from babyowl.extensions import db
    from babyowl.services import grading

    try:
        grading.grade(uuid.UUID(submission_id))
    except Exception:
        db.session.rollback()  # a worker's jobs share one session: leave it clean for the next
        raise


def requeue_lost_gradings(older_than: int = 600) -> int:
    """Queue again the submissions whose grading job was lost (a Redis restart, a killed worker)."""
    from babyowl.services.grading import ungraded_since

    waiting = ungraded_since(older_than)
    for submission_id in waiting:
        queue_grading(submission_id)
    return len(waiting)


def queue_grading(submission_id: uuid.UUID):
    # A grading takes a few seconds of Pyodide start-up plus the tests' time limits.
    return jobs.enqueue(grade_submission, str(submission_id), job_timeout=600)
