"""Email jobs: inline without Redis, through RQ and `python worker.py` with it,
retried on SMTP failure and kept in the failed registry when they give up."""
from __future__ import annotations

import email
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry

from babyowl.jobs.email import queue_email

PROJECT = Path(__file__).parents[2]


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
    # Nothing is lost: the job still holds the whole message for a retry by staff.
    assert job.args[:3] == ("guru@example.com", "Nilai tugas", "Nilai Anda 90.")
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
