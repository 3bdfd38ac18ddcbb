"""Grading through a real RQ worker on the real Redis, and the sweep that finds lost gradings."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Queue, SimpleWorker

from babyowl.models import CodingSubmission
from babyowl.models.base import utcnow
from babyowl.services import grading
from tests.factories import make_open_lesson, make_user
from tests.grading.test_grader import SOLUTION, case, coding_exercise
from tests.helpers import reload


@pytest.fixture
def exercise_for(db):
    def build():
        student = make_user("student")
        return student, coding_exercise(make_open_lesson(student), [case("double", stdin="4\n", expected="8")])

    return build


def test_a_submission_is_graded_by_the_worker_once_even_if_queued_twice(make_app, db, redis_url, redis_db,
                                                                          exercise_for):
    app = make_app(REDIS_URL=redis_url)
    student, exercise = exercise_for()
    with app.app_context():
        from babyowl.jobs.grading import queue_grading

        submission = grading.submit(student, exercise, SOLUTION)
        first, second = queue_grading(submission.id), queue_grading(submission.id)
        queue = Queue(app.config["RQ_QUEUE"], connection=redis_db)
        SimpleWorker([queue], connection=redis_db).work(burst=True)
    assert first.get_status(refresh=True) == second.get_status(refresh=True) == "finished"
    graded = reload(db, submission)
    assert (graded.passed, graded.score, graded.max_score) == (True, 10, 10)


def test_the_sweep_queues_submissions_whose_job_was_lost(make_app, db, redis_url, redis_db, exercise_for):
    app = make_app(REDIS_URL=redis_url)
    student, exercise = exercise_for()
    with app.app_context():
        lost = grading.submit(student, exercise, SOLUTION)
        recent = grading.submit(student, exercise, SOLUTION)
        lost.created_at = utcnow() - timedelta(minutes=30)
        from babyowl.extensions import db as session_db

        session_db.session.commit()
        lost_id, recent_id = lost.id, recent.id
        # Redis lost everything (it keeps nothing on disk): only the database knows.
        redis_db.flushdb()
        result = app.test_cli_runner().invoke(args=["grade-pending"])
        assert "1 submissions queued for grading." in result.output
        SimpleWorker([Queue(app.config["RQ_QUEUE"], connection=redis_db)], connection=redis_db).work(burst=True)
    assert db.session.get(CodingSubmission, lost_id).passed is True
    assert db.session.get(CodingSubmission, recent_id).test_results is None
    assert db.session.query(CodingSubmission).count() == 2
