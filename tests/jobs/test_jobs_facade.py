"""The jobs facade: the only code (with worker.py) that knows RQ, and what it does when Redis is away."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from rq import Queue

from babyowl import jobs
from babyowl.jobs.email import send_email
from tests.jobs.support import free_port

PACKAGE = Path(__file__).parents[2] / "babyowl"


def _imports_rq(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        if any(name == "rq" or name.startswith("rq.") for name in names):
            return True
    return False


def test_only_the_jobs_package_knows_rq():
    offenders = [str(path.relative_to(PACKAGE)) for path in sorted(PACKAGE.rglob("*.py"))
                 if "jobs" not in path.relative_to(PACKAGE).parts[:1] and _imports_rq(path)]
    assert offenders == []


@pytest.fixture
def dead_app(make_app, db):
    return make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")


def test_with_redis_away_the_facade_degrades_instead_of_raising(dead_app):
    with dead_app.app_context():
        assert jobs.enqueue(send_email, "a@example.com", "S", "T") is None
        assert jobs.enqueue_at(jobs_time(), send_email, "a@example.com", "S", "T") is None
        assert jobs.cancel("some-job") is False
        with pytest.raises(jobs.QueueUnavailable):
            jobs.failed()
        with pytest.raises(jobs.QueueUnavailable):
            jobs.requeue("some-job")


def jobs_time():
    from datetime import timedelta

    from babyowl.models.base import utcnow

    return utcnow() + timedelta(hours=1)


def test_cancel_removes_a_scheduled_job_and_says_when_there_was_none(make_app, db, redis_url, redis_db):
    app = make_app(REDIS_URL=redis_url)
    with app.app_context():
        job = jobs.enqueue_at(jobs_time(), send_email, "a@example.com", "S", "T", job_id="later")
        assert Queue(app.config["RQ_QUEUE"], connection=redis_db).scheduled_job_registry.get_job_ids() == ["later"]
        assert jobs.job_status(job.id) == "scheduled"
        assert jobs.cancel("later") is True
        assert jobs.job_status("later") is None
        assert Queue(app.config["RQ_QUEUE"], connection=redis_db).scheduled_job_registry.get_job_ids() == []
        assert jobs.cancel("later") is False


def test_without_redis_nothing_is_queued_and_there_is_no_failed_list(app, db):
    with app.app_context():
        assert jobs.queued() is False and jobs.cancel("any") is False
        with pytest.raises(jobs.QueueUnavailable):
            jobs.failed()


def test_a_job_outside_a_request_runs_on_a_session_of_its_own(app, db):
    from sqlalchemy import select

    from babyowl.extensions import db as session_db
    from babyowl.jobs.context import with_app_context

    seen = {}

    @with_app_context
    def job():
        seen["session"] = session_db.session()
        session_db.session.execute(select(1))  # opens a transaction the job never ends itself

    with app.app_context():
        outer = session_db.session()
        job()
        assert seen["session"] is not outer  # what a worker's previous job left is never inherited...
        assert not seen["session"].in_transaction()  # ...and the job's own session is closed when it ends
