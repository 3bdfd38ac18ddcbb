"""Error reporting (Sentry), metrics (Prometheus) and structured logs.

Everything here is off unless configured: no SENTRY_DSN, no Sentry; /metrics
answers 404 to anyone without METRICS_TOKEN or an address in METRICS_ALLOWED_IPS.
"""
from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)


def init_sentry(app) -> bool:
    """Send unhandled errors to Sentry when SENTRY_DSN is set; returns whether it did."""
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=app.config.get("ENV_NAME"),
        integrations=[FlaskIntegration(), RqIntegration()],
        send_default_pii=False,
        # Frame locals hold users, forms and sessions: an email address would leave with them.
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=0,
        before_send=scrub_event,
    )
    return True


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """Keep the user's id only: no email, name, address, cookies, headers or form bodies leave the school."""
    user_id = _current_user_id()
    if user_id is None:
        user_id = (event.get("user") or {}).get("id")
    event["user"] = {"id": str(user_id)} if user_id is not None else {}
    request = event.get("request")
    if request:
        # The URL without its query string (a reset link or a search may carry personal data).
        event["request"] = {"method": request.get("method"), "url": request.get("url")}
    event.pop("breadcrumbs", None)  # log lines may name people
    event.pop("extra", None)
    # A database error names the row it refused ("Key (email)=(...) already exists"), a message may quote one.
    for exception in (event.get("exception") or {}).get("values") or ():
        if isinstance(exception.get("value"), str):
            exception["value"] = _EMAIL.sub("[email]", exception["value"])
    logentry = event.get("logentry") or {}
    for key in ("message", "formatted"):
        if isinstance(logentry.get(key), str):
            logentry[key] = _EMAIL.sub("[email]", logentry[key])
    if logentry.get("params"):
        logentry["params"] = [_EMAIL.sub("[email]", str(param)) for param in logentry["params"]]
    return event


_EMAIL = re.compile(r"[^\s@()<>,;:\"'=]+@[^\s@()<>,;:\"']+")


def _current_user_id():
    try:
        from flask import has_request_context
        from flask_login import current_user

        if has_request_context() and current_user.is_authenticated:
            return current_user.id
    except Exception:  # reporting an error must never raise one
        return None
    return None


def init_observability(app) -> None:
    init_sentry(app)
    init_metrics(app)
    init_logging(app)
    # First of all before-request hooks: a request refused by an earlier one (NUL bytes) still gets its id.
    app.before_request_funcs.setdefault(None, []).insert(0, _assign_request_id)
    app.after_request(_echo_request_id)
    app.teardown_request(_forget_request_id)


# --- Metrics -----------------------------------------------------------------------------------------------------
# Module-level: prometheus_client's registry is per process, and a metric may be registered only once in it.
# Under gunicorn each worker has its own registry unless PROMETHEUS_MULTIPROC_DIR is set (README, Observability).

REQUEST_SECONDS = Histogram("babyowl_request_seconds", "Time to answer a request, by Flask endpoint and status class.",
                            ["endpoint", "status"])
GRADING_SECONDS = Histogram("babyowl_grading_seconds", "Seconds one coding submission spent in the sandbox.",
                            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600))
EXPORT_SECONDS = Histogram("babyowl_export_seconds", "Time to write an attendance export, by format.", ["format"],
                           buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))


class QueueCollector:
    """Queue lengths and failed jobs, read from Redis at scrape time: zeros (never an error) when it is away."""

    def collect(self):
        from babyowl import jobs

        try:
            counts = jobs.counts()
        except jobs.QueueUnavailable:
            counts = {"default": 0, "grading": 0, "failed": 0}
        waiting = GaugeMetricFamily("babyowl_queue_jobs", "Jobs waiting on a queue.", labels=["queue"])
        for queue in ("default", "grading"):
            waiting.add_metric([queue], counts[queue])
        yield waiting
        yield GaugeMetricFamily("babyowl_failed_jobs", "Jobs in RQ's failed registries.", value=counts["failed"])


def _process_registry():
    import os

    from prometheus_client import REGISTRY

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    # Every worker writes its samples to files there; the scrape sums them.
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def metrics_text() -> tuple[bytes, str]:
    queues = CollectorRegistry(auto_describe=False)
    queues.register(QueueCollector())
    return generate_latest(_process_registry()) + generate_latest(queues), CONTENT_TYPE_LATEST


def metrics_allowed(request, config) -> bool:
    """A bearer METRICS_TOKEN, or a client address listed in METRICS_ALLOWED_IPS."""
    import hmac

    token = config.get("METRICS_TOKEN")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    return bool(request.remote_addr) and request.remote_addr in (config.get("METRICS_ALLOWED_IPS") or ())


def timed_chunks(chunks, export_format: str):
    """Pass a streamed export through, observing its duration when the last chunk has gone."""
    start = time.perf_counter()
    yield from chunks
    EXPORT_SECONDS.labels(export_format).observe(time.perf_counter() - start)


def _start_timer():
    from flask import g

    g.babyowl_request_start = time.perf_counter()


def _observe_request(response):
    from flask import g, request

    start = g.pop("babyowl_request_start", None)
    if start is not None:
        # The endpoint name, never the path: ids in paths would make a series per row.
        REQUEST_SECONDS.labels(request.endpoint or "unmatched", f"{response.status_code // 100}xx").observe(
            time.perf_counter() - start)
    return response


def init_metrics(app) -> None:
    app.before_request(_start_timer)
    app.after_request(_observe_request)


# --- Request ids and JSON logs -----------------------------------------------------------------------------------
REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's or a client's id is kept only if it is a plain token: it goes into every log line and a response header.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_request_id: ContextVar[str | None] = ContextVar("babyowl_request_id", default=None)


def current_request_id() -> str | None:
    """This request's id; in an RQ job, the id of the request that queued it (job meta)."""
    found = _request_id.get()
    if found:
        return found
    from babyowl import jobs

    return jobs.current_job_meta().get("request_id")


def _assign_request_id():
    from flask import g, request

    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.babyowl_request_id = given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.babyowl_request_id_token = _request_id.set(g.babyowl_request_id)


def _echo_request_id(response):
    from flask import g

    if "babyowl_request_id" in g:
        response.headers[REQUEST_ID_HEADER] = g.babyowl_request_id
    return response


def _forget_request_id(error=None):
    from flask import g

    token = g.pop("babyowl_request_id_token", None)
    if token is not None:
        _request_id.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": current_request_id(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def init_logging(app) -> None:
    """LOG_FORMAT=json: the root logger's console handler writes JSON lines (one is added if there is none)."""
    if app.config.get("LOG_FORMAT") != "json":
        return
    root = logging.getLogger()
    handlers = [h for h in root.handlers if type(h) is logging.StreamHandler]
    if not handlers:
        handler = logging.StreamHandler()
        root.addHandler(handler)
        handlers = [handler]
    for handler in handlers:
        handler.setFormatter(JsonFormatter())
