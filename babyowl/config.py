"""Configuration from environment variables.

With nothing set the app runs on its embedded default: a SQLite file under
`instance/` and background jobs run inline in the request. Production sets
DATABASE_URL (PostgreSQL through psycopg 3), REDIS_URL and SECRET_KEY.
"""
from __future__ import annotations

import os
from pathlib import Path


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration cannot run safely."""


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def normalise_database_url(url: str) -> str:
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy needs the driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def engine_options(database_url: str) -> dict:
    """SQLAlchemy engine options: the pool per process and the statement timeout, from the environment.

    Every process (a gunicorn worker, an RQ worker) has its own pool, so the
    connections a deployment can open are processes × (DB_POOL_SIZE +
    DB_MAX_OVERFLOW): that sum must stay under PostgreSQL's max_connections
    (or PgBouncer's pool). A request that finds the pool empty waits
    DB_POOL_TIMEOUT seconds, then fails instead of queueing forever.
    """
    if not database_url.startswith("postgresql"):
        return {"pool_pre_ping": True}  # SQLite: one file, SQLAlchemy's own pool fits it
    # Defaults are SQLAlchemy's own sizes (5 + 10); deploy/babyowl.env sets a deployment's. No pre-ping (a
    # round trip on every request): a connection that sat idle is checked before use instead (babyowl/pool.py,
    # DB_PING_IDLE_SECONDS), and every connection is replaced after DB_POOL_RECYCLE seconds.
    options: dict = {"pool_size": _int("DB_POOL_SIZE", 5), "max_overflow": _int("DB_MAX_OVERFLOW", 10),
                     "pool_timeout": _int("DB_POOL_TIMEOUT", 10), "pool_recycle": _int("DB_POOL_RECYCLE", 1800),
                     "pool_pre_ping": False}
    connect_args: dict = {}
    if _bool("DB_PGBOUNCER", False):
        # In transaction mode consecutive statements may reach different server
        # connections, where a statement psycopg prepared earlier does not exist;
        # PgBouncer 1.18 (Debian 12) does not track prepared statements.
        connect_args["prepare_threshold"] = None
    timeout_ms = _int("DB_STATEMENT_TIMEOUT_MS", 0)
    if timeout_ms > 0:
        if _bool("DB_PGBOUNCER", False):
            # PgBouncer refuses the `options` start-up parameter: the timeout is set
            # on the database role instead (deploy/pgbouncer/README in the README).
            raise ConfigError("DB_STATEMENT_TIMEOUT_MS cannot be sent through PgBouncer: set it on the role "
                              "(ALTER ROLE ... SET statement_timeout) and leave DB_STATEMENT_TIMEOUT_MS unset.")
        # Per connection, so a runaway query is cancelled by PostgreSQL itself and
        # the request answers with an error page instead of holding its worker.
        connect_args["options"] = f"-c statement_timeout={timeout_ms}"
    if connect_args:
        options["connect_args"] = connect_args
    return options


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the config dict for one app; `overrides` (tests) win over the environment."""
    overrides = dict(overrides or {})
    env_name = overrides.get("ENV_NAME") or os.environ.get("BABYOWL_ENV", "development")
    database_url = overrides.get("SQLALCHEMY_DATABASE_URI") or os.environ.get("DATABASE_URL")
    if not database_url:
        database_url = "sqlite:///" + str(Path(instance_path) / "babyowl.sqlite3")

    # Seconds a request waits for Redis (rate limits, queueing a job, /readyz) before carrying on without it.
    redis_timeout = float(os.environ.get("REDIS_TIMEOUT") or 1)
    config = {
        "ENV_NAME": env_name,
        "SECRET_KEY": os.environ.get("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(normalise_database_url(database_url)),
        # A pooled PostgreSQL connection idle longer than this is pinged before use (babyowl/pool.py).
        "DB_PING_IDLE_SECONDS": float(os.environ.get("DB_PING_IDLE_SECONDS") or 10),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "REDIS_TIMEOUT": redis_timeout,
        "RQ_QUEUE": os.environ.get("RQ_QUEUE", "default"),
        # Grading has a queue of its own: email and announcements never wait behind it.
        "RQ_GRADING_QUEUE": os.environ.get("RQ_GRADING_QUEUE", "grading"),
        # School-wide settings.
        "SCHOOL_NAME": os.environ.get("SCHOOL_NAME", "Baby Owl"),
        # Shown on the landing page (how to reach the school) and on invoices.
        "SCHOOL_CONTACT_EMAIL": os.environ.get("SCHOOL_CONTACT_EMAIL", ""),
        "SCHOOL_CONTACT_PHONE": os.environ.get("SCHOOL_CONTACT_PHONE", ""),
        "SCHOOL_ADDRESS": os.environ.get("SCHOOL_ADDRESS", ""),
        "INVOICE_DUE_DAYS": _int("INVOICE_DUE_DAYS", 3),
        "SCHOOL_TIMEZONE": os.environ.get("SCHOOL_TIMEZONE", "Asia/Jakarta"),
        "BABEL_DEFAULT_LOCALE": os.environ.get("DEFAULT_LOCALE", "id"),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("SCHOOL_TIMEZONE", "Asia/Jakarta"),
        "LANGUAGES": ("id", "en"),
        "CURRENCY": "IDR",
        # Gamification (services/xp.py): the level curve (Level Up's "snowballing": base 120, coef 1.3),
        # the XP each thing earns, the streak milestones, and the Redis holding class leaderboards
        # (REDIS_URL when unset; none: leaderboards are summed in SQL).
        "XP_LEVEL_BASE": _int("XP_LEVEL_BASE", 120),
        "XP_LEVEL_COEF": float(os.environ.get("XP_LEVEL_COEF") or 1.3),
        "XP_POINTS": {"exercise_completed": 10, "lesson_completed": 30, "quiz_passed": 20, "coding_passed": 25,
                      "assignment_graded": 100, "attendance_present": 10, "attendance_late": 5,
                      "community_post": 15},
        "XP_STREAK_MILESTONES": {3: 15, 7: 30, 14: 60, 30: 120},
        "LEADERBOARD_REDIS_URL": os.environ.get("LEADERBOARD_REDIS_URL") or None,
        # Grading coding exercises: Pyodide under Node in a bubblewrap sandbox (the files the browser gets).
        "GRADER_PYODIDE_DIR": os.environ.get("GRADER_PYODIDE_DIR",
                                             str(Path(__file__).parent / "static" / "vendor" / "pyodide")),
        "GRADER_NODE": os.environ.get("GRADER_NODE", "node"),
        "GRADER_BWRAP": os.environ.get("GRADER_BWRAP", "bwrap"),
        "GRADER_MEMORY_MB": _int("GRADER_MEMORY_MB", 512),
        "GRADER_OUTPUT_LIMIT": _int("GRADER_OUTPUT_LIMIT", 64 * 1024),
        # Seconds one submission may spend in the sandbox; its job's timeout is this plus a margin.
        "GRADER_TIME_BUDGET": _int("GRADER_TIME_BUDGET", 450),
        # The setup's Pyodide memory snapshot (python -m babyowl.grading.snapshot build); empty: cold starts.
        "GRADER_SNAPSHOT_DIR": os.environ.get("GRADER_SNAPSHOT_DIR",
                                              str(Path(__file__).parent.parent / "instance" / "grader-snapshot")),
        # Sandboxes loading ahead of the running test (each is used once): about the number of cores.
        "GRADER_PRESTART": _int("GRADER_PRESTART", 2),
        # "auto": native CPython grades (fast) and every test whose verdict could differ from the browser's is
        # re-judged by Pyodide (grading/auto.py); "pyodide" (the browser's Python under Node) or "cpython" alone.
        "GRADER_BACKEND": os.environ.get("GRADER_BACKEND", "auto"),
        # The cpython backend's interpreter (started with -I -S -B; its stdlib is bound read-only).
        "GRADER_PYTHON": os.environ.get("GRADER_PYTHON", "/usr/bin/python3"),
        # Packages for coding exercises: the pure-Python ones bundled by the setup, or a full Pyodide
        # release of the same version unpacked by the school (numpy, matplotlib, pandas, ...).
        "PYODIDE_PACKAGES_DIR": os.environ.get("PYODIDE_PACKAGES_DIR")
        or str(Path(__file__).parent / "pyodide-packages"),
        # A TrueType font for PDF reports (names outside Latin-1); Helvetica when missing.
        "PDF_FONT": os.environ.get("PDF_FONT", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        # Mail: "console" logs the message, "file" writes .eml files, "smtp" sends.
        "MAIL_BACKEND": os.environ.get("MAIL_BACKEND", "console"),
        "MAIL_FILE_DIR": os.environ.get("MAIL_FILE_DIR", str(Path(instance_path) / "mail")),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "Baby Owl <no-reply@babyowl.local>"),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "localhost"),
        "MAIL_PORT": _int("MAIL_PORT", 587),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", True),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL", False),
        "MAIL_TIMEOUT": _int("MAIL_TIMEOUT", 20),
        # Seconds between SMTP retries; the job gives up (failed registry) after the last.
        # Where the app is reached: links in emails sent by the worker (no request there).
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000"),
        # How often the worker sweeps for announcements due and emails whose job was lost (seconds).
        "SWEEP_INTERVAL": _int("SWEEP_INTERVAL", 60),
        "MAIL_RETRY_INTERVALS": [int(s) for s in os.environ.get("MAIL_RETRY_INTERVALS", "60,300,1800").split(",") if s],
        # Compressed pages (flask-compress): brotli or gzip, never a streamed response (CSV exports, SSE).
        "COMPRESS_REGISTER": _bool("COMPRESS_HTML", True),
        "COMPRESS_MIMETYPES": ["text/html", "application/json"],
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        "COMPRESS_STREAMS": False,
        # Brotli quality 1 for pages rendered per request. Inside a request the encoder costs far more than in a
        # tight loop (its tables are allocated afresh each time): on the 3.7 KB base layout q4 took 0.155 ms of
        # CPU for 1,284 bytes, q3 0.090 ms / 1,444, q2 0.079 / 1,472, q1 0.046 / 1,524, gzip 6 0.087 / 1,395
        # (the 5.5 KB student dashboard: q4 1,927 bytes, q1 2,247). ~250 bytes more a page, ~0.1 ms less each.
        "COMPRESS_BR_LEVEL": 1,
        # Pages carry no ETag or Last-Modified, so flask-compress's conditional check could only add a Date header,
        # which gunicorn already writes (twice, then); files are sent conditional by send_file itself.
        "COMPRESS_EVALUATE_CONDITIONAL_REQUEST": False,
        # Below ~1 KB the saving is under half a packet: the answer goes out as it is (htmx fragments, counters).
        "COMPRESS_MIN_SIZE": 1024,
        # Exports above this many rows are built by a job and fetched through a link valid EXPORT_LINK_SECONDS.
        "EXPORT_JOB_ROWS": _int("EXPORT_JOB_ROWS", 20000),
        "EXPORT_LINK_SECONDS": _int("EXPORT_LINK_SECONDS", 24 * 3600),
        # Storage: "local" keeps files under STORAGE_DIR, "s3" uses boto3.
        "STORAGE_BACKEND": os.environ.get("STORAGE_BACKEND", "local"),
        "STORAGE_DIR": os.environ.get("STORAGE_DIR", str(Path(instance_path) / "uploads")),
        "S3_BUCKET": os.environ.get("S3_BUCKET") or None,
        "S3_REGION": os.environ.get("S3_REGION") or None,
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL") or None,
        # Sessions: 24 h by default, 30 days when "remember me" is ticked (spec).
        "PERMANENT_SESSION_LIFETIME": 24 * 3600,
        # An unchanged session cookie is re-signed (its expiry slid forward) once it is this old, not on every
        # response (babyowl/session_cookie.py).
        "SESSION_REFRESH_AFTER": _int("SESSION_REFRESH_AFTER", 3600),
        "REMEMBER_COOKIE_DURATION": 30 * 24 * 3600,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env_name == "production",
        "REMEMBER_COOKIE_SECURE": env_name == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,  # a tablet open all afternoon must still post
        "VIDEO_MAX_MB": _int("VIDEO_MAX_MB", 200),
        # The largest request: a lesson video plus the rest of its form.
        "MAX_CONTENT_LENGTH": (max(_int("MAX_UPLOAD_MB", 50), _int("VIDEO_MAX_MB", 200)) + 1) * 1024 * 1024,
        # Accounts.
        "ALLOW_SELF_REGISTRATION": _bool("ALLOW_SELF_REGISTRATION", True),
        "EMAIL_VERIFICATION_MAX_AGE": 3 * 24 * 3600,
        "PASSWORD_RESET_MAX_AGE": 3600,
        "INVITATION_MAX_AGE": 7 * 24 * 3600,
        # Behind a reverse proxy (HTTPS terminated there), trust this many hops
        # of X-Forwarded-* so Secure cookies, HSTS and client addresses are right.
        "PROXY_HOPS": _int("PROXY_HOPS", 0),
        # Rate limits (Flask-Limiter): Redis when configured, memory otherwise.
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL") or "memory://",
        "RATELIMIT_APPLICATION": os.environ.get("RATELIMIT_APPLICATION", "100 per minute"),
        "RATELIMIT_AUTH": os.environ.get("RATELIMIT_AUTH", "10 per minute"),
        "RATELIMIT_AUTH_ACCOUNT": os.environ.get("RATELIMIT_AUTH_ACCOUNT", "10 per 15 minutes"),
        # Each coding submission starts a sandboxed Python on the worker: a student gets a few a minute.
        "RATELIMIT_GRADING": os.environ.get("RATELIMIT_GRADING", "6 per minute"),
        # X-RateLimit-* on every response would cost a second Redis round trip per request (the window's
        # state): off. A refused request (429) still says when to come back: Retry-After (extensions.py).
        "RATELIMIT_HEADERS_ENABLED": False,
        "RATELIMIT_STRATEGY": "moving-window",
        # Redis down must not take the site down: the same limits are counted in this process's memory
        # (Flask-Limiter logs the switch once and checks Redis again with a growing back-off), and an
        # error of the storage itself is logged, never answered as a 500.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": redis_timeout, "socket_timeout": redis_timeout},
        # Observability: errors to Sentry when set (user id only, no personal data).
        "SENTRY_DSN": os.environ.get("SENTRY_DSN") or None,
        # /metrics: a bearer token, or client addresses (comma-separated) allowed without one; neither: 404.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
        "METRICS_ALLOWED_IPS": [a.strip() for a in os.environ.get("METRICS_ALLOWED_IPS", "").split(",") if a.strip()],
        # "json": one JSON object per log line (time, level, logger, message, request id); anything else: text.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text"),
        # Messages: "strict" (students write only to their instructors and staff; with each other only in
        # their class conversation) or "open" (anyone to anyone); see services/messages.py.
        "MESSAGING_POLICY": os.environ.get("MESSAGING_POLICY", "strict"),
        "MESSAGE_DELETE_MINUTES": _int("MESSAGE_DELETE_MINUTES", 5),
        "MESSAGE_DIGEST_AFTER_MINUTES": _int("MESSAGE_DIGEST_AFTER_MINUTES", 15),
        "MESSAGE_ATTACHMENT_MAX_MB": _int("MESSAGE_ATTACHMENT_MAX_MB", 5),
        "MESSAGE_POLL_SECONDS": _int("MESSAGE_POLL_SECONDS", 3),
    }
    config.update(overrides)

    if not config["SECRET_KEY"]:
        if config["ENV_NAME"] == "production":
            raise ConfigError("SECRET_KEY must be set when BABYOWL_ENV=production.")
        # Development only: stable across restarts so sessions survive a reload.
        config["SECRET_KEY"] = "dev-only-insecure-key"
    if config["MAIL_BACKEND"] not in {"console", "file", "smtp"}:
        raise ConfigError(f"MAIL_BACKEND must be console, file or smtp, not {config['MAIL_BACKEND']!r}.")
    if config["MESSAGING_POLICY"] not in {"strict", "open"}:
        raise ConfigError(f"MESSAGING_POLICY must be strict or open, not {config['MESSAGING_POLICY']!r}.")
    if config["STORAGE_BACKEND"] not in {"local", "s3"}:
        raise ConfigError(f"STORAGE_BACKEND must be local or s3, not {config['STORAGE_BACKEND']!r}.")
    if config["STORAGE_BACKEND"] == "s3" and not config["S3_BUCKET"]:
        raise ConfigError("STORAGE_BACKEND=s3 needs S3_BUCKET.")
    return config
