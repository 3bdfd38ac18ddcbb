"""Redis down must not take the school down (issue 15, defect 3).

The app starts with REDIS_URL and the rate-limit storage on a closed port:
pages, sign-in and an attendance tap work, rate limits fall back to memory
(and say so once), state changes commit, and `/readyz` says what is down.
The emails that could not be queued are sent once Redis is back, by the
worker's sweep, exactly one per person.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from babyowl.models import Announcement, ClassAttendance, LessonUnlock, Notification
from babyowl.models.base import utcnow
from tests.factories import PASSWORD, make_class, make_course, make_enrollment, make_user
from tests.helpers import text
from tests.jobs.support import SmtpServer, free_port, run_worker

HX = {"HX-Request": "true"}


@pytest.fixture
def dead_redis_url() -> str:
    # A port nobody listens on: every connection is refused, as when Redis is stopped.
    return f"redis://127.0.0.1:{free_port()}/0"


def _mail_config(smtp: SmtpServer) -> dict:
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_USE_TLS": False,
            "MAIL_TIMEOUT": 5, "MAIL_RETRY_INTERVALS": [0, 0]}


@pytest.fixture
def outage_app(make_app, db, dead_redis_url, smtp):
    # After `db` (whose app turns limits off): Flask-Limiter keeps one switch for every app of the process.
    return make_app(REDIS_URL=dead_redis_url, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=dead_redis_url,
                    RATELIMIT_AUTH="3 per minute", **_mail_config(smtp))


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, level=logging.WARNING) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]


@pytest.fixture
def log_records():
    handler = Records()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


@pytest.fixture
def school(db):
    """A running class with one lesson ready to unlock, its instructor and three students."""
    teacher = make_user("instructor")
    school_class = make_class(course=make_course(lessons=2), instructor=teacher, meetings_completed=1)
    enrollments = [make_enrollment(school_class) for _ in range(3)]
    return teacher, school_class, enrollments


def test_with_redis_down_the_school_keeps_working_and_mail_follows_once_redis_is_back(
        outage_app, make_app, db, redis_url, redis_db, smtp, school, log_records):
    teacher, school_class, enrollments = school
    students = [e.student for e in enrollments]
    browser = outage_app.test_client()

    for path in ("/", "/login", "/catalog", "/healthz"):
        assert browser.get(path).status_code == 200, path
    signed_in = browser.post("/login", data={"email": teacher.email, "password": PASSWORD})
    assert signed_in.status_code == 303 and signed_in.headers["Location"].endswith("/dashboard")
    assert browser.get("/dashboard").status_code == 200

    # An attendance tap commits.
    tap = browser.post(f"/classes/{school_class.id}/attendance/mark", headers=HX, data={
        "enrollment_id": str(enrollments[0].id), "meeting_number": "1", "status": "present",
        "key": str(uuid.uuid4())})
    assert tap.status_code == 200 and "Saved" in text(tap)
    assert db.session.scalar(select(func.count()).select_from(ClassAttendance)) == 1

    # Unlocking a lesson and sending an announcement commit; their emails cannot be queued yet.
    unlocked = browser.post(f"/classes/{school_class.id}/unlock-lesson")
    assert unlocked.status_code == 303
    posted = browser.post(f"/classes/{school_class.id}/announcements",
                          data={"title": "Kelas online", "content": "Hari ini lewat Zoom.", "when": "now"})
    assert posted.status_code == 303
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(LessonUnlock)) == 1
    announcement = db.session.scalar(select(Announcement))
    assert announcement.sent_at is None  # its send job could not be queued: the sweep sends it
    notes = db.session.scalars(select(Notification)).all()
    assert len(notes) == 3 and {n.email_status for n in notes} == {"pending"}

    ready = outage_app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert "database: ok" in text(ready) and "redis: down" in text(ready)

    warnings = log_records.messages()
    assert sum("falling back to in-memory storage" in m for m in warnings) == 1, warnings
    assert any("Could not queue" in m for m in warnings), warnings

    # Redis is back. Two minutes later (what the sweep allows a job to arrive) a worker's sweep runs.
    db.session.execute(Notification.__table__.update().values(created_at=utcnow() - timedelta(minutes=3)))
    db.session.commit()
    recovered = make_app(REDIS_URL=redis_url, **_mail_config(smtp))
    assert recovered.test_client().get("/readyz").status_code == 200
    run_worker(recovered, sweep=True)  # the sweep: lost emails and the announcement, queued...
    run_worker(recovered)  # ...and their jobs
    expected = 2 * len(students)  # the lesson unlocked, and the announcement
    smtp.wait_for(expected, timeout=5)
    assert sorted(m["To"] for m in smtp.received) == sorted(s.email for s in students for _ in range(2))
    db.session.expire_all()
    assert {n.email_status for n in db.session.scalars(select(Notification))} == {"sent"}

    redis_db.flushdb()
    run_worker(recovered, sweep=True)  # a second sweep finds nothing left to send
    run_worker(recovered)
    assert len(smtp.received) == expected


def test_rate_limits_still_apply_from_memory_while_redis_is_down(outage_app, db):
    user = make_user("student")
    browser = outage_app.test_client()
    answers = [browser.post("/login", data={"email": user.email, "password": "wrong"}).status_code
               for _ in range(4)]
    assert answers == [422, 422, 422, 429]


def test_readyz_is_ok_when_database_and_redis_answer(make_app, db, redis_url):
    app = make_app(REDIS_URL=redis_url)
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert text(response).splitlines() == ["ok", "database: ok", "redis: ok"]
    assert "Set-Cookie" not in response.headers


def test_readyz_never_loads_the_signed_in_user(make_app, db, redis_url):
    import sqlalchemy as sa

    user = make_user("student")
    browser = make_app(REDIS_URL=redis_url).test_client()
    assert browser.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        response = browser.get("/readyz")
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert statements == ["SELECT 1"]  # the probe's own check, and no session, user or row


def test_readyz_without_redis_configured_checks_only_the_database(app, db):
    response = app.test_client().get("/readyz")
    assert response.status_code == 200 and "redis: not configured" in text(response)


def test_readyz_is_never_rate_limited(db, make_app, dead_redis_url):
    app = make_app(REDIS_URL=dead_redis_url, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://",
                   RATELIMIT_APPLICATION="2 per minute")
    browser = app.test_client()
    assert [browser.get("/readyz").status_code for _ in range(4)] == [503] * 4


def test_readyz_names_the_database_when_it_is_down(make_app, db):
    broken = make_app(SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing")
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503 and "database: down" in text(response)


@pytest.fixture
def silent_redis():
    """A server that accepts connections and never answers: a hung Redis, not a stopped one."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


def test_queueing_a_job_on_a_hung_redis_gives_up_quickly_and_logs(make_app, db, silent_redis, log_records):
    from babyowl import jobs
    from babyowl.jobs.email import send_email

    app = make_app(REDIS_URL=silent_redis)
    outcome = {}

    def queue_one():
        with app.app_context():
            outcome["job"] = jobs.enqueue(send_email, "siswa@example.com", "Halo", "Teks")

    thread = threading.Thread(target=queue_one, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(timeout=30)  # without a socket timeout the request would hang here for good
    assert not thread.is_alive()
    assert outcome == {"job": None}
    assert time.monotonic() - started < 10
    assert any("Could not queue send_email" in m for m in log_records.messages())


def test_an_app_built_after_an_outage_counts_on_its_own_redis(outage_app, make_app, db, redis_url, redis_db):
    # One limiter object serves every app of the process: the fallback of one is not the storage of the next.
    assert outage_app.test_client().get("/login").status_code == 200  # this one falls back to memory
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=redis_url)
    assert app.test_client().get("/login").status_code == 200
    assert redis_db.keys("LIMITS*"), "the limits were counted in memory, not in the reachable Redis"


def test_code_submitted_while_redis_is_down_is_stored_and_queued_by_the_sweep_later(
        outage_app, make_app, db, redis_url, redis_db):
    from rq import Queue

    from babyowl.jobs.grading import grade_submission
    from babyowl.models import CodingSubmission
    from tests.factories import make_open_lesson
    from tests.grading.test_grader import SOLUTION, case, coding_exercise

    student = make_user("student")
    exercise = coding_exercise(make_open_lesson(student), [case("double", stdin="4\n", expected="8")])
    browser = outage_app.test_client()
    assert browser.post("/login", data={"email": student.email, "password": PASSWORD}).status_code == 303
    response = browser.post(f"/exercises/{exercise.id}/submissions", data={"code": SOLUTION})
    assert response.status_code == 303
    submission = db.session.scalar(select(CodingSubmission))
    assert submission.test_results is None  # stored, waiting for a grader

    # Redis is back; the grading sweep finds it once its job counts as lost.
    submission.created_at = utcnow() - timedelta(minutes=11)
    db.session.commit()
    recovered = make_app(REDIS_URL=redis_url)
    with recovered.app_context():
        from babyowl.jobs.grading import requeue_lost_gradings

        assert requeue_lost_gradings() == 1
    [job] = Queue(recovered.config["RQ_GRADING_QUEUE"], connection=redis_db).get_jobs()
    assert job.func_name == f"{grade_submission.__module__}.grade_submission"
    assert job.args == (str(submission.id),)
