"""The grading job: one submission, graded once, whatever the number of runs (claim → run → store)."""
from __future__ import annotations

import uuid

from flask import current_app

from babyowl import jobs
from babyowl.jobs.context import with_app_context


@with_app_context
def grade_submission(submission_id: str) -> None:
    from babyowl.services import grading

    grading.grade(uuid.UUID(submission_id))


def requeue_lost_gradings(older_than: int = 600) -> int:
    """Queue again the submissions whose grading job was lost (a Redis restart, a killed worker)."""
    from babyowl.services.grading import ungraded_since

    waiting = ungraded_since(older_than)
    for submission_id in waiting:
        queue_grading(submission_id)
    return len(waiting)


def queue_grading(submission_id: uuid.UUID):
    from babyowl.services.grading import job_timeout

    # The submission's time budget always fits inside this timeout: a job is never killed mid-grading.
    return jobs.enqueue(grade_submission, str(submission_id), job_timeout=job_timeout(),
                        on_queue=current_app.config["RQ_GRADING_QUEUE"])
