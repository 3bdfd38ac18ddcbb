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
        raise ZeroDivisionError("test-only failure")

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
