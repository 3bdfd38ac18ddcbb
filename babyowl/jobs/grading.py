"""The grading job: one submission, graded once, whatever the number of runs."""
from __future__ import annotations

import uuid

from babyowl import jobs
from babyowl.jobs.context import with_app_context


@with_app_context
def grade_submission(submission_id: str) -> None:
    from babyowl.services import grading

    grading.grade(uuid.UUID(submission_id))


def queue_grading(submission_id: uuid.UUID):
    # A grading takes a few seconds of Pyodide start-up plus the tests' time limits.
    return jobs.enqueue(grade_submission, str(submission_id), job_timeout=600)
