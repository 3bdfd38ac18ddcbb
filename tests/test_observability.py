"""Observability: errors to Sentry (user id only), /metrics, JSON logs with a request id."""
from __future__ import annotations

import gzip
import json
import threading
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk

from tests.factories import cookie_id_for, make_user


@pytest.fixture
def sentry_server():
    """A local stand-in for Sentry: records the body of every envelope POSTed to /api/<project>/envelope/."""
    envelopes: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            elif encoding == "br":
                import brotli

                body = brotli.decompress(body)
            if self.path.startswith("/api/") and self.path.endswith("/envelope/"):
                envelopes.append(body.decode("utf-8", "replace"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://publickey@127.0.0.1:{server.server_address[1]}/42", envelopes
    server.shutdown()
    server.server_close()
    # Sentry's client is process-wide: leave none behind for the other tests.
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def _events(envelopes: list[str]) -> list[dict]:
    events = []
    for envelope in envelopes:
        lines = envelope.split("\n")
        for header, payload in zip(lines[1::2], lines[2::2]):
            if json.loads(header).get("type") == "event":
                events.append(json.loads(payload))
    return events


def test_an_error_reaches_sentry_with_the_user_id_and_no_personal_data(make_app, db, sentry_server):
    dsn, envelopes = sentry_server
    app = make_app(SENTRY_DSN=dsn, PROPAGATE_EXCEPTIONS=False)

    @app.route("/test-only/boom", methods=["GET", "POST"])
    def boom():
        from flask_login import current_user

        raise ZeroDivisionError(f"test-only failure for {current_user.email}")

    # Made up at run time: the event carries source lines around the failing frame, this test's among them.
    local_part, name = uuid.uuid4().hex, "Nama " + uuid.uuid4().hex
    email = f"{local_part}@example.com"
    with app.app_context():
        user = make_user("student", email=email, full_name=name)
        user_id = str(user.id)
        cookie = cookie_id_for(user)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = cookie
        session["_fresh"] = True

    response = client.post(f"/test-only/boom?email={email}", data={"note": email})
    assert response.status_code == 500
    sentry_sdk.get_client().flush(timeout=5)

    events = _events(envelopes)
    assert len(events) == 1
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "ZeroDivisionError"
    assert event["user"] == {"id": user_id}
    raw = "".join(envelopes)
    assert local_part not in raw
    assert name not in raw
    assert "session=" not in raw.lower()


def test_without_a_dsn_sentry_is_not_initialised(make_app, monkeypatch):
    calls = []
    monkeypatch.setattr(sentry_sdk, "init", lambda *a, **k: calls.append((a, k)))
    app = make_app(SENTRY_DSN=None)
    assert calls == []
    assert not sentry_sdk.get_client().is_active()
    assert app.config["SENTRY_DSN"] is None


# --- /metrics -------------------------------------------------------------------------------------------------------

TOKEN = "scrape-token-for-tests"


def _sample(text: str, prefix: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_need_the_token_or_a_listed_address(make_app):
    app = make_app(METRICS_TOKEN=TOKEN, METRICS_ALLOWED_IPS=["10.9.8.7"])
    client = app.test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/metrics", environ_overrides={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200
    assert client.get("/metrics", environ_overrides={"REMOTE_ADDR": "10.9.8.8"}).status_code == 404


def test_without_token_or_addresses_metrics_do_not_exist(make_app):
    client = make_app().test_client()
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    assert client.get("/metrics", environ_overrides={"REMOTE_ADDR": "127.0.0.1"}).status_code == 404


def test_metrics_are_exempt_from_rate_limits_and_never_touch_the_session(make_app, monkeypatch):
    app = make_app(METRICS_TOKEN=TOKEN, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://",
                   RATELIMIT_APPLICATION="2 per minute")
    client = app.test_client()
    # A scraper carrying a session cookie: its user is never looked up (no query, no session row touched).
    with client.session_transaction() as session:
        session["_user_id"] = f"{uuid.uuid4()}.fingerprint.{uuid.uuid4()}"

    def no_lookup(*args):
        raise AssertionError("/metrics loaded the signed-in user")

    monkeypatch.setattr("babyowl.services.sessions.signed_in_user", no_lookup)
    for _ in range(5):
        allowed = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        refused = client.get("/metrics")
        assert allowed.status_code == 200 and refused.status_code == 404
        for response in (allowed, refused):
            assert "Set-Cookie" not in response.headers
    # The limit itself is on: another page of the same app is refused after two requests.
    visitor = app.test_client()
    assert [visitor.get("/login").status_code for _ in range(3)][-1] == 429


def test_request_latency_is_labelled_by_endpoint_and_status_class(make_app, db):
    app = make_app(METRICS_TOKEN=TOKEN)
    client = app.test_client()
    client.get("/healthz")
    client.get("/no/such/page/12345")
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    assert _sample(text, 'babyowl_request_seconds_count{endpoint="main.healthz",status="2xx"}') >= 1
    assert _sample(text, 'babyowl_request_seconds_count{endpoint="unmatched",status="4xx"}') >= 1
    assert "/no/such/page" not in text
    assert "12345" not in text


def test_queue_lengths_and_failed_jobs_are_read_at_scrape_time(make_app, redis_db, redis_url):
    from rq import Queue

    app = make_app(METRICS_TOKEN=TOKEN, REDIS_URL=redis_url)
    Queue("default", connection=redis_db).enqueue("babyowl.jobs.nothing", 1)
    grading = Queue("grading", connection=redis_db)
    for number in range(3):
        grading.enqueue("babyowl.jobs.nothing", number)
    text = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    assert _sample(text, 'babyowl_queue_jobs{queue="default"}') == 1
    assert _sample(text, 'babyowl_queue_jobs{queue="grading"}') == 3
    assert _sample(text, "babyowl_failed_jobs ") == 0


def test_metrics_answer_zero_queues_when_redis_is_down(make_app):
    from tests.ops.conftest import free_port

    app = make_app(METRICS_TOKEN=TOKEN, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert _sample(text, 'babyowl_queue_jobs{queue="default"}') == 0
    assert _sample(text, 'babyowl_queue_jobs{queue="grading"}') == 0
    assert _sample(text, "babyowl_failed_jobs ") == 0


def test_export_durations_are_observed(app, client, login_as):
    before_csv, before_xlsx = _sample_count("csv"), _sample_count("xlsx")
    login_as("staff")
    assert client.get("/reports/attendance.csv").status_code == 200
    assert client.get("/reports/attendance.xlsx").status_code == 200
    assert _sample_count("csv") == before_csv + 1
    assert _sample_count("xlsx") == before_xlsx + 1


def _sample_count(export_format: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("babyowl_export_seconds_count", {"format": export_format}) or 0


def test_grading_durations_are_observed_once_per_stored_grading(app, db, monkeypatch):
    import babyowl.jobs.grading
    from babyowl.grading.sandbox import TestRun
    from babyowl.services import grading
    from prometheus_client import REGISTRY
    from tests.factories import make_open_lesson
    from tests.grading.test_grader import SOLUTION, case, coding_exercise

    def graded_count() -> float:
        return REGISTRY.get_sample_value("babyowl_grading_seconds_count") or 0

    student = make_user("student")
    exercise = coding_exercise(make_open_lesson(student), [case("double", stdin="4\n", expected="8")])
    monkeypatch.setattr(babyowl.jobs.grading, "queue_grading", lambda submission_id: None)
    monkeypatch.setattr(grading, "run_tests", lambda *args, **kwargs: [TestRun(0, "ok", "8\n", "", 0.1)])
    submission_id = grading.submit(student, exercise, SOLUTION).id
    before = graded_count()
    assert grading.grade(submission_id).passed is True
    assert graded_count() == before + 1
    # A doubled job stores nothing, so it is not counted again.
    assert grading.store(submission_id, [{"passed": False, "points": 0, "maxPoints": 10, "output": "",
                                           "hidden": False, "error": None, "status": "ok"}], 1.0) is None
    assert graded_count() == before + 1


# --- Request ids and JSON logs ------------------------------------------------------------------------------------

def log_from_job(text: str) -> None:
    """A job for the worker: logs one line (the request id comes from the job's meta)."""
    import logging

    logging.getLogger("babyowl.jobs.test").warning("job says %s", text)


@pytest.fixture
def json_log(make_app):
    """An app with LOG_FORMAT=json, and the lines its console handler writes; the root logger is restored after."""
    import io
    import logging

    from babyowl.observability import JsonFormatter

    root = logging.getLogger()
    saved = list(root.handlers)
    stream = io.StringIO()

    def build(**overrides):
        app = make_app(LOG_FORMAT="json", **overrides)
        handlers = [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
        assert handlers, "LOG_FORMAT=json installed no JSON handler"
        for handler in handlers:
            handler.setStream(stream)
        return app

    yield build, lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    for handler in list(root.handlers):
        if handler not in saved:
            root.removeHandler(handler)
    for handler in saved:
        if isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(None)


def test_json_logs_carry_the_request_id_into_the_job_that_request_queued(json_log, redis_url, redis_db):
    from rq import Queue, SimpleWorker

    from babyowl import jobs

    build, lines = json_log
    app = build(REDIS_URL=redis_url)

    @app.route("/test-only/log")
    def log_something():
        import logging

        logging.getLogger("babyowl.test").warning("view says hello")
        jobs.enqueue(log_from_job, "goodbye")
        return "ok"

    response = app.test_client().get("/test-only/log", headers={"X-Request-ID": "req-1234.abc"})
    assert response.headers["X-Request-ID"] == "req-1234.abc"
    with app.app_context():
        SimpleWorker([Queue(app.config["RQ_QUEUE"], connection=redis_db)], connection=redis_db).work(burst=True)

    entries = lines()
    view = next(e for e in entries if e["message"] == "view says hello")
    assert set(view) >= {"time", "level", "logger", "message", "request_id"}
    assert (view["level"], view["logger"], view["request_id"]) == ("WARNING", "babyowl.test", "req-1234.abc")
    job = next(e for e in entries if e["message"] == "job says goodbye")
    assert (job["level"], job["logger"], job["request_id"]) == ("WARNING", "babyowl.jobs.test", "req-1234.abc")


@pytest.mark.parametrize("given", [None, "", "has space", "x" * 129, "semi;colon", "ünïcode"])
def test_an_insane_or_missing_request_id_is_replaced_by_a_generated_one(make_app, given):
    import re

    headers = {"X-Request-ID": given} if given is not None else {}
    client = make_app().test_client()
    first = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    second = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_a_refused_request_still_gets_its_request_id(make_app):
    response = make_app().test_client().get("/login?next=%00", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 422
    assert response.headers["X-Request-ID"] == "abc-123"


def test_text_logs_stay_the_default(make_app):
    import logging

    from babyowl.observability import JsonFormatter

    make_app()
    assert not any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)


def test_with_a_multiprocess_directory_metrics_add_up_every_process(tmp_path):
    """PROMETHEUS_MULTIPROC_DIR: two processes observe, a third one's scrape sees both."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    observe = "from babyowl.observability import EXPORT_SECONDS; EXPORT_SECONDS.labels('csv').observe(0.2)"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", observe], env=env, check=True, timeout=60)
    scrape = ("from babyowl.observability import _process_registry, generate_latest; "
              "print(generate_latest(_process_registry()).decode())")
    text = subprocess.run([sys.executable, "-c", scrape], env=env, check=True, timeout=60, capture_output=True,
                          text=True).stdout
    assert _sample(text, 'babyowl_export_seconds_count{format="csv"}') == 2
