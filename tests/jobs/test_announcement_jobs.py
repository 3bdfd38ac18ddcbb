"""Announcements through a real RQ worker and a real SMTP server: sent once, on time, never lost.

Redis is the test's own database (TEST_REDIS_URL), flushed before and after
each test; the SMTP server is aiosmtpd on a free port. `python worker.py` runs
as a subprocess where the test is about the real worker (scheduler process,
forked jobs); there the test waits, with a bounded poll, for what it can
observe (the worker registered, the emails arrived). Elsewhere a SimpleWorker
in burst mode keeps the test fast, and time is a `Clock` the test moves: the
app's clock (what is due, what is lost) and RQ scheduler's clock (which
scheduled jobs run) both read it, so no test sleeps until something is due.
"""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from babyowl.extensions import db as _db
from babyowl.jobs.announcements import send_announcement
from babyowl.models import Announcement, Notification
from babyowl.models.base import utcnow
from babyowl.services import announcements
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import signed_in_client, text
from tests.jobs.support import SmtpServer, free_port, run_worker

PROJECT = Path(__file__).parents[2]


class Clock:
    """Now, frozen until the test moves it."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(utcnow())
    for module in ("babyowl.services.announcements", "babyowl.jobs.announcements", "babyowl.services.notifications"):
        monkeypatch.setattr(f"{module}.utcnow", clock)
    # RQ's scheduler (run in-process by the burst workers) moves due jobs onto the queue by this clock.
    monkeypatch.setattr("rq.scheduler.current_timestamp", lambda: int(clock.now.timestamp()))
    return clock


@pytest.fixture
def queued_app(make_app, redis_url, redis_db, smtp):
    """The app with Redis and SMTP: jobs wait for a worker, mail goes to the test's SMTP server."""
    return make_app(REDIS_URL=redis_url, MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port,
                    MAIL_USE_TLS=False, MAIL_TIMEOUT=5, MAIL_RETRY_INTERVALS=[0, 0])


@pytest.fixture
def school(db):
    teacher = make_user("instructor")
    school_class = make_class(instructor=teacher)
    students = [make_enrollment(school_class).student for _ in range(3)]
    make_enrollment(school_class, status="withdrawn")  # gets nothing
    return teacher, school_class, students


def start_worker_py(database_url: str, redis_url: str, smtp: SmtpServer, **env) -> subprocess.Popen:
    environment = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url, "MAIL_BACKEND": "smtp",
                   "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port), "MAIL_USE_TLS": "0",
                   "SECRET_KEY": "worker-test", "DEFAULT_LOCALE": "id", "SWEEP_INTERVAL": "3600", **env}
    return subprocess.Popen([sys.executable, "worker.py"], cwd=PROJECT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def stop(worker: subprocess.Popen) -> str:
    worker.terminate()
    return worker.communicate(timeout=20)[0].decode()


def poll(condition, timeout: float = 20) -> bool:
    """Wait (bounded) until `condition()` holds: for what another process does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def notifications_of(db, announcement_id: uuid.UUID) -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(select(Notification).where(Notification.reference_id == announcement_id)))


def schedule(app, db, teacher, school_class, seconds: float, **fields) -> Announcement:
    """Write an announcement through `app` (Redis), due in `seconds`; returned as the test's session has it."""
    with app.app_context():
        announcement_id = announcements.create_announcement(
            teacher, school_class, title=fields.get("title", "Ujian minggu depan"),
            content=fields.get("content", "Bawa **laptop** dan charger."),
            send_at=announcements.utcnow() + timedelta(seconds=seconds)).id
    return db.session.get(Announcement, announcement_id)


def test_a_scheduled_announcement_is_delivered_once_to_each_student_by_worker_py(
        queued_app, db, database_url, redis_url, redis_db, smtp, school):
    teacher, school_class, students = school
    worker = start_worker_py(database_url, redis_url, smtp)
    try:
        assert poll(lambda: Worker.count(connection=redis_db) > 0), "worker.py did not start"
        announcement = schedule(queued_app, db, teacher, school_class, 2)
        queue = Queue(queued_app.config["RQ_QUEUE"], connection=redis_db)
        # Waiting for its time in RQ's scheduled registry, not on the queue.
        assert queue.scheduled_job_registry.get_job_ids() == [announcements.send_job_id(announcement)]
        assert queue.count == 0 and smtp.received == []
        delivered = poll(lambda: len(smtp.received) >= len(students))
        poll(lambda: not (queue.count or queue.started_job_registry.get_job_ids()))
    finally:
        output = stop(worker)
    assert delivered, output
    assert sorted(m["To"] for m in smtp.received) == sorted(s.email for s in students), output
    message = smtp.to(students[0].email)[0]
    assert message["Subject"] == "Ujian minggu depan"
    assert "<strong>laptop</strong>" in message.get_body(("html",)).get_content()
    plain = message.get_body(("plain",)).get_content()
    assert "Bawa **laptop** dan charger." in plain
    assert "Halo" in plain  # DEFAULT_LOCALE=id and no language of their own: Indonesian
    assert "/unsubscribe/" in plain and message["List-Unsubscribe"].startswith("<http://127.0.0.1:5000/unsubscribe/")
    rows = notifications_of(db, announcement.id)
    assert sorted(n.user_id for n in rows) == sorted(s.id for s in students)
    assert {n.email_status for n in rows} == {"sent"}
    db.session.refresh(announcement)
    assert announcement.sent_at >= announcement.scheduled_at  # not before its time


def test_the_same_send_job_run_twice_delivers_nothing_twice(queued_app, db, redis_db, smtp, school):
    teacher, school_class, students = school
    with queued_app.app_context():
        announcement_id = announcements.create_announcement(teacher, school_class, title="Libur",
                                                            content="Kelas libur hari Jumat.").id
        queue = Queue(queued_app.config["RQ_QUEUE"], connection=redis_db)
        # A retry, or the job queued again by hand: a second copy under another id.
        queue.enqueue(send_announcement, str(announcement_id), None)
        assert queue.count == 2
    run_worker(queued_app)
    with queued_app.app_context():
        assert send_announcement(str(announcement_id), None) is None  # and a third time, directly
    assert len(notifications_of(db, announcement_id)) == len(students)
    assert sorted(m["To"] for m in smtp.received) == sorted(s.email for s in students)


def _racing_worker(app, barrier) -> None:
    """A worker process of its own (forked: no second app start-up), with its own database connections."""
    with app.app_context():
        _db.engine.dispose(close=False)  # the parent's connections stay the parent's
        connection = Redis.from_url(app.config["REDIS_URL"])
        barrier.wait(timeout=20)
        SimpleWorker([Queue(app.config["RQ_QUEUE"], connection=connection)], connection=connection).work(burst=True)


def test_two_workers_racing_deliver_no_duplicate(queued_app, db, redis_db, smtp, school):
    teacher, school_class, students = school
    announcement = Announcement(class_id=school_class.id, instructor_id=teacher.id, title="Perubahan jadwal",
                                content="Mulai pukul 19.00.", content_html="<p>Mulai pukul 19.00.</p>")
    db.session.add(announcement)
    db.session.commit()
    queue = Queue(queued_app.config["RQ_QUEUE"], connection=redis_db)
    for _ in range(4):  # more copies than workers: whoever runs first sends it
        queue.enqueue(send_announcement, str(announcement.id), None)
    fork = multiprocessing.get_context("fork")
    barrier = fork.Barrier(2)
    workers = [fork.Process(target=_racing_worker, args=(queued_app, barrier)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert [w.exitcode for w in workers] == [0, 0]
    assert sorted(m["To"] for m in smtp.received) == sorted(s.email for s in students)
    assert len(notifications_of(db, announcement.id)) == len(students)


def test_after_redis_is_flushed_the_sweep_still_delivers(queued_app, db, redis_db, smtp, school, clock):
    teacher, school_class, students = school
    announcement = schedule(queued_app, db, teacher, school_class, 60)
    redis_db.flushdb()  # a Redis restart: our Redis keeps nothing on disk
    clock.advance(seconds=61)
    run_worker(queued_app)  # a plain worker: no job left to run
    assert notifications_of(db, announcement.id) == []

    run_worker(queued_app, sweep=True)  # worker.py's worker queues the sweep on its own clock
    assert sorted(m["To"] for m in smtp.received) == sorted(s.email for s in students)
    assert len(notifications_of(db, announcement.id)) == len(students)


def test_nothing_is_sent_before_its_time_even_by_the_sweep(queued_app, db, redis_db, smtp, school, clock):
    teacher, school_class, students = school
    announcement = schedule(queued_app, db, teacher, school_class, 60)
    clock.advance(seconds=59)
    run_worker(queued_app, sweep=True)
    assert smtp.received == [] and notifications_of(db, announcement.id) == []
    clock.advance(seconds=2)
    run_worker(queued_app, sweep=True)
    assert sorted(m["To"] for m in smtp.received) == sorted(s.email for s in students)


def test_the_flask_command_sweeps_too(queued_app, db, redis_db, smtp, school, clock):
    teacher, school_class, students = school
    announcement = schedule(queued_app, db, teacher, school_class, 60)
    redis_db.flushdb()
    clock.advance(seconds=61)
    runner = queued_app.test_cli_runner()
    # The CLI runs in the app context already pushed: push the one with Redis and SMTP.
    with queued_app.app_context():
        assert "1 announcements sent" in runner.invoke(args=["send-due-announcements"]).output
    run_worker(queued_app)  # the emails the sweep queued
    assert sorted(m["To"] for m in smtp.received) == sorted(s.email for s in students)
    with queued_app.app_context():
        assert "0 announcements sent" in runner.invoke(args=["send-due-announcements"]).output
    assert len(notifications_of(db, announcement.id)) == len(students)


def test_emails_lost_with_redis_are_queued_again_by_the_sweep_and_never_doubled(queued_app, db, redis_db, smtp,
                                                                               school, clock):
    teacher, school_class, students = school
    with queued_app.app_context():
        announcement_id = announcements.create_announcement(teacher, school_class, title="Tugas",
                                                            content="Kumpulkan.").id
        Queue(queued_app.config["RQ_QUEUE"], connection=redis_db).empty()
        send_announcement(str(announcement_id), None)  # sent; its email jobs wait in Redis...
    redis_db.flushdb()  # ...and are lost with it
    run_worker(queued_app, sweep=True)
    assert smtp.received == []  # too young to call lost: their job may just not have arrived yet

    clock.advance(minutes=3)
    run_worker(queued_app, sweep=True)
    assert sorted(m["To"] for m in smtp.received) == sorted(s.email for s in students)
    assert {n.email_status for n in notifications_of(db, announcement_id)} == {"sent"}

    redis_db.flushdb()
    run_worker(queued_app, sweep=True)  # sent ones are never queued again
    assert len(smtp.received) == len(students)


def test_a_cancelled_announcement_is_never_sent(queued_app, db, redis_db, smtp, school, clock):
    teacher, school_class, students = school
    announcement = schedule(queued_app, db, teacher, school_class, 60)
    # Its job stays in Redis, as if the tidy-up had failed: the database still says no.
    with queued_app.app_context():
        job_id = announcements.send_job_id(announcement)
        queue = Queue(queued_app.config["RQ_QUEUE"], connection=redis_db)
        queue.enqueue_at(announcement.scheduled_at, send_announcement, str(announcement.id),
                         announcement.scheduled_at.isoformat(), job_id=job_id + "-copy")
        announcements.cancel_announcement(teacher, announcement)
        assert job_id not in queue.scheduled_job_registry.get_job_ids()
    clock.advance(seconds=61)
    run_worker(queued_app, sweep=True)
    assert queue.scheduled_job_registry.get_job_ids() == []  # the copy ran...
    assert smtp.received == [] and notifications_of(db, announcement.id) == []  # ...and sent nothing
    with queued_app.app_context():
        assert announcements.deliver(announcement.id) is None
    db.session.refresh(announcement)
    assert announcement.sent_at is None


def test_an_edited_announcement_goes_out_with_the_new_text_at_the_new_time(queued_app, db, redis_db, smtp,
                                                                          school, clock):
    teacher, school_class, students = school
    announcement = schedule(queued_app, db, teacher, school_class, 60, title="Old title", content="Old text")
    with queued_app.app_context():
        queue = Queue(queued_app.config["RQ_QUEUE"], connection=redis_db)
        old_time = announcement.scheduled_at
        # The old job survives in Redis (as if its removal failed) and runs at the old time...
        queue.enqueue_at(old_time, send_announcement, str(announcement.id), old_time.isoformat())
        announcements.update_announcement(teacher, announcement, title="New title", content="New *text*",
                                          send_at=clock.now + timedelta(seconds=120))
    clock.advance(seconds=61)
    run_worker(queued_app)
    assert smtp.received == [] and len(queue.scheduled_job_registry.get_job_ids()) == 1  # ...and does nothing
    clock.advance(seconds=60)  # the new time (rounded up to RQ's whole seconds)
    run_worker(queued_app)
    assert sorted(m["To"] for m in smtp.received) == sorted(s.email for s in students)
    assert {m["Subject"] for m in smtp.received} == {"New title"}
    assert "<em>text</em>" in smtp.received[0].get_body(("html",)).get_content()
    db.session.refresh(announcement)
    assert announcement.sent_at >= announcement.scheduled_at > old_time


def test_the_email_choice_is_read_when_the_job_runs(queued_app, db, redis_db, smtp, school):
    from babyowl.services import notifications

    teacher, school_class, students = school
    with queued_app.app_context():
        announcements.create_announcement(teacher, school_class, title="Info", content="Teks.")
        # The send job is queued; the student unsubscribes before a worker runs it.
        notifications.unsubscribe(notifications.unsubscribe_token(students[0], "announcement"))
    run_worker(queued_app)
    assert sorted(m["To"] for m in smtp.received) == sorted(s.email for s in students[1:])
    with queued_app.app_context():
        note = db.session.scalar(select(Notification).where(Notification.user_id == students[0].id))
        assert note.email_status == "skipped"


def test_smtp_failure_ends_in_the_failed_registry_and_staff_resend_it(make_app, db, redis_url, redis_db, smtp,
                                                                      school, clock):
    teacher, school_class, students = school
    broken = make_app(REDIS_URL=redis_url, MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(),
                      MAIL_USE_TLS=False, MAIL_TIMEOUT=2, MAIL_RETRY_INTERVALS=[0, 0])
    with broken.app_context():
        announcement_id = announcements.create_announcement(teacher, school_class, title="Rapat orang tua",
                                                            content="Sabtu pukul 10.").id
    run_worker(broken)
    with broken.app_context():
        queue = Queue(broken.config["RQ_QUEUE"], connection=redis_db)
        failed = FailedJobRegistry(queue=queue).get_job_ids()
    assert len(failed) == len(students)
    assert {n.email_status for n in notifications_of(db, announcement_id)} == {"pending"}

    # The sweep leaves failed emails for staff: nothing is re-sent behind their back.
    clock.advance(hours=1)
    run_worker(broken, sweep=True)
    with broken.app_context():
        assert sorted(FailedJobRegistry(queue=queue).get_job_ids()) == sorted(failed)

    staff = make_user("staff")
    page = signed_in_client(broken, staff).get("/admin/failed-mail")
    assert page.status_code == 200
    for student in students:
        assert student.email in text(page)
    assert "Rapat orang tua" in text(page) and "Connection refused" in text(page)

    # The mail server is back: re-send one, plain form; the rest through htmx.
    fixed = make_app(REDIS_URL=redis_url, MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port,
                     MAIL_USE_TLS=False)
    client = signed_in_client(fixed, staff)
    response = client.post(f"/admin/failed-mail/{failed[0]}/resend")
    assert response.status_code == 303
    response = client.post(f"/admin/failed-mail/{failed[1]}/resend", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "queued to be sent again" in text(response)
    assert failed[1] not in text(response) and failed[2] in text(response)
    missing = client.post("/admin/failed-mail/no-such-job/resend", follow_redirects=True)
    assert "no longer in the list" in text(missing)
    run_worker(fixed)
    assert len(smtp.received) == 2
    with fixed.app_context():
        assert FailedJobRegistry(queue=queue).get_job_ids() == [failed[2]]
    assert sum(n.email_status == "sent" for n in notifications_of(db, announcement_id)) == 2
    assert db.session.scalar(select(func.count()).select_from(Notification)) == len(students)
