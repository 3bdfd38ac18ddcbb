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
        queue = Queue(app.config["RQ_GRADING_QUEUE"], connection=redis_db)
        # Its own queue, and a timeout the submission's time budget always fits in.
        assert Queue(app.config["RQ_QUEUE"], connection=redis_db).count == 0
        assert first.timeout == grading.job_timeout() > grading.time_budget()
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
        SimpleWorker([Queue(app.config["RQ_GRADING_QUEUE"], connection=redis_db)],
                     connection=redis_db).work(burst=True)
    assert db.session.get(CodingSubmission, lost_id).passed is True
    assert db.session.get(CodingSubmission, recent_id).test_results is None
    assert db.session.query(CodingSubmission).count() == 2


def test_grading_is_claim_run_store_with_no_lock_held_while_the_sandbox_runs(app, db, exercise_for, monkeypatch):
    """Issue 15: the sandbox runs outside any transaction; a second job skips a claimed submission; the store
    writes only what is still ungraded."""
    from sqlalchemy import create_engine, text

    from babyowl.grading.sandbox import TestRun

    student, exercise = exercise_for()
    import babyowl.jobs.grading

    monkeypatch.setattr(babyowl.jobs.grading, "queue_grading", lambda submission_id: None)
    submission_id = grading.submit(student, exercise, SOLUTION).id
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    seen = {}

    def sandbox_run(settings, code, inputs, time_limit, packages=None):
        with other.connect() as connection:
            # Another transaction may lock the row at once: grading holds no lock and no transaction.
            seen["locked"] = connection.execute(text(
                "SELECT id FROM coding_submissions WHERE id = :id FOR UPDATE NOWAIT"), {"id": submission_id}).all()
            seen["claimed"] = connection.execute(text(
                "SELECT grading_claimed_at IS NOT NULL FROM coding_submissions WHERE id = :id"),
                {"id": submission_id}).scalar()
        seen["second_claim"] = grading.claim(submission_id)
        return [TestRun(0, "ok", "8\n", "", 0.1)]

    monkeypatch.setattr(grading, "run_tests", sandbox_run)
    graded = grading.grade(submission_id)
    assert seen == {"locked": [(submission_id,)], "claimed": True, "second_claim": None}
    assert (graded.passed, graded.score) == (True, 10)
    # A store for a submission graded meanwhile changes nothing.
    assert grading.store(submission_id, [{"passed": False, "points": 0, "maxPoints": 10, "output": "",
                                           "hidden": False, "error": None, "status": "ok"}], 1.0) is None
    assert reload(db, graded).score == 10
    other.dispose()


def test_a_claim_runs_out_so_a_killed_workers_submission_is_graded_by_the_sweep(app, db, exercise_for,
                                                                                monkeypatch):
    from babyowl.grading.sandbox import TestRun

    student, exercise = exercise_for()
    import babyowl.jobs.grading

    monkeypatch.setattr(babyowl.jobs.grading, "queue_grading", lambda submission_id: None)
    submission = grading.submit(student, exercise, SOLUTION)
    assert grading.claim(submission.id) is not None  # a worker claimed it, then was killed
    monkeypatch.setattr(grading, "run_tests", lambda *args, **kwargs: [TestRun(0, "ok", "8\n", "", 0.1)])
    assert grading.grade(submission.id).test_results is None  # its claim still holds
    reload(db, submission).grading_claimed_at = utcnow() - timedelta(seconds=grading.job_timeout() + 1)
    db.session.commit()
    assert grading.grade(submission.id).passed is True
