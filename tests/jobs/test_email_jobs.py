"""Email jobs: written to the outbox in a use case, sent inline without Redis, through RQ and `python worker.py`
with it, retried on SMTP failure, kept in the failed registry when they give up, and never lost with Redis."""
from __future__ import annotations

import email
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from flask import current_app
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from babyowl.jobs import redis_connection

from babyowl import emails
from babyowl.extensions import db as _db
from babyowl.jobs.email import job_id, requeue_pending_emails
from babyowl.models import OutboundEmail
from babyowl.transactions import unit_of_work

PROJECT = Path(__file__).parents[2]


def queue_email(to: str, subject: str, text: str):
    """What a service does: the email goes to the outbox in a use case and its job is queued after the commit."""
    with unit_of_work("test"):
        emails.send(emails.Email(to, subject, text))
    row = _db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.created_at.desc())).first()
    if not current_app.config.get("REDIS_URL"):
        return None
    try:
        return Job.fetch(job_id(row.id), connection=redis_connection())
    except Exception:
        return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _messages(directory: Path) -> list[email.message.Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(directory.glob("*.eml"))]


def test_without_redis_the_email_is_sent_inline(make_app, db, tmp_path):
    app = make_app(MAIL_BACKEND="file", MAIL_FILE_DIR=str(tmp_path / "out"))
    with app.app_context():
        assert queue_email("siswa@example.com", "Halo", "Pelajaran 3 sudah dibuka.") is None
    [message] = _messages(tmp_path / "out")
    assert message["To"] == "siswa@example.com" and message["Subject"] == "Halo"


def test_inline_failure_is_logged_not_raised_into_the_request(make_app, db, caplog):
    app = make_app(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_USE_TLS=False)
    with app.app_context(), caplog.at_level(logging.ERROR):
        queue_email("siswa@example.com", "Halo", "Teks")
    assert "send_email failed" in caplog.text and "siswa@example.com" in caplog.text
    with app.app_context():  # still pending: the sweep tries again
        assert _db.session.scalars(select(OutboundEmail.status)).all() == ["pending"]


def test_python_worker_py_runs_an_enqueued_job(make_app, db, database_url, redis_url, redis_db, tmp_path):
    outbox = tmp_path / "outbox"
    app = make_app(REDIS_URL=redis_url, MAIL_BACKEND="file", MAIL_FILE_DIR=str(outbox))
    with app.app_context():
        job = queue_email("ortu@example.com", "Laporan kehadiran", "Andi hadir 3 dari 3 pertemuan.")
    assert job is not None and job.get_status() == "queued"

    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url, "MAIL_BACKEND": "file",
           "MAIL_FILE_DIR": str(outbox), "SECRET_KEY": "worker-test"}
    worker = subprocess.Popen([sys.executable, "worker.py"], cwd=PROJECT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # The message file appears a moment before RQ marks the job finished.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and job.get_status(refresh=True) != "finished":
            time.sleep(0.2)
        assert job.get_status() == "finished"
    finally:
        worker.terminate()
        output = worker.communicate(timeout=20)[0].decode()
    [message] = _messages(outbox)
    assert message["Subject"] == "Laporan kehadiran", output
    assert "Andi hadir 3 dari 3 pertemuan." in message.get_payload(decode=True).decode()


def test_a_failing_smtp_send_is_retried_then_kept_in_the_failed_registry(make_app, db, redis_url, redis_db,
                                                                          caplog):
    app = make_app(REDIS_URL=redis_url, MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(),
                   MAIL_USE_TLS=False, MAIL_TIMEOUT=2, MAIL_RETRY_INTERVALS=[0, 0])
    with app.app_context():
        job = queue_email("guru@example.com", "Nilai tugas", "Nilai Anda 90.")
        queue = Queue(app.config["RQ_QUEUE"], connection=redis_db)
        with caplog.at_level(logging.WARNING, logger="babyowl.jobs.email"):
            SimpleWorker([queue], connection=redis_db).work(burst=True)
    job.refresh()
    assert job.get_status() == "failed"
    assert job.retries_left == 0
    assert job.id in FailedJobRegistry(queue=queue).get_job_ids()
    # Nothing is lost: the job names the email for staff, and its row still holds the message, pending.
    assert job.args[:2] == ("guru@example.com", "Nilai tugas")
    with app.app_context():
        row = _db.session.get(OutboundEmail, uuid.UUID(job.args[2]))
        assert (row.status, row.attempts, row.text) == ("pending", 3, "Nilai Anda 90.")
    attempts = [r for r in caplog.records if "guru@example.com" in r.getMessage()]
    assert [r.levelname for r in attempts] == ["WARNING", "WARNING", "ERROR"]
    assert "failed job registry" in attempts[-1].getMessage()


def test_the_smtp_backend_delivers_to_a_real_smtp_server(make_app, db):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    received = []

    class Recorder(Sink):
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    port = _free_port()
    controller = Controller(Recorder(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app = make_app(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False)
        with app.app_context():
            queue_email("staf@example.com", "Pembayaran diverifikasi", "Terima kasih.")
    finally:
        controller.stop()
    [envelope] = received
    assert envelope.rcpt_tos == ["staf@example.com"]
    assert b"Pembayaran diverifikasi" in envelope.content


def test_an_email_queued_while_redis_is_down_is_sent_by_the_sweep_exactly_once(make_app, db, redis_url, redis_db,
                                                                               tmp_path, caplog, monkeypatch):
    import babyowl.jobs.email as email_jobs
    from babyowl.jobs.announcements import sweep

    outbox = tmp_path / "outbox"
    down = make_app(REDIS_URL="redis://127.0.0.1:6390/0", MAIL_BACKEND="file", MAIL_FILE_DIR=str(outbox))
    with down.app_context(), caplog.at_level(logging.WARNING):
        # The use case commits; the enqueue after it fails and is logged, never raised.
        queue_email("siswa@example.com", "Konfirmasi email", "Buka tautan ini.")
        assert _db.session.scalars(select(OutboundEmail.status)).all() == ["pending"]
    assert "sweep will pick the work up" in caplog.text

    back = make_app(REDIS_URL=redis_url, MAIL_BACKEND="file", MAIL_FILE_DIR=str(outbox))
    with back.app_context():
        queue = Queue(back.config["RQ_QUEUE"], connection=redis_db)
        # The worker's periodic sweep (and `flask send-due-announcements`), once the email is old enough.
        assert sweep()["account_emails"] == 0
        monkeypatch.setattr(email_jobs, "LOST_AFTER", timedelta(0))
        assert sweep()["account_emails"] == 1
        # The sweep again before a worker ran: the job is still queued, so nothing is doubled.
        assert requeue_pending_emails(older_than=timedelta(0)) == 0
        SimpleWorker([queue], connection=redis_db).work(burst=True)
        # Later sweeps and a stray second copy of the job find it sent.
        assert requeue_pending_emails(older_than=timedelta(0)) == 0
        row = _db.session.scalars(select(OutboundEmail)).one()
        _db.session.expire_all()
        queue.enqueue("babyowl.jobs.email.send_email", row.to_address, row.subject, str(row.id))
        SimpleWorker([queue], connection=redis_db).work(burst=True)
        row = _db.session.scalars(select(OutboundEmail)).one()
        assert (row.status, row.text) == ("sent", None)
    [message] = _messages(outbox)
    assert message["To"] == "siswa@example.com" and message["Subject"] == "Konfirmasi email"


def test_without_redis_the_sweep_sends_what_is_pending_inline(make_app, db, tmp_path, monkeypatch):
    import babyowl.jobs.email as email_jobs

    outbox = tmp_path / "outbox"
    app = make_app(MAIL_BACKEND="file", MAIL_FILE_DIR=str(outbox))
    with app.app_context():
        monkeypatch.setattr(email_jobs, "enqueue_email", lambda *args: None)  # the process died before sending
        queue_email("siswa@example.com", "Halo", "Teks")
        monkeypatch.undo()
        assert requeue_pending_emails(older_than=timedelta(0)) == 1
        assert requeue_pending_emails(older_than=timedelta(0)) == 0
    assert len(_messages(outbox)) == 1
