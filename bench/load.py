"""Benchmark: Baby Owl under load, through gunicorn (deploy/gunicorn.conf.py) on PostgreSQL + Redis.

Not a test: it measures and prints. It builds a fresh database (DROP + CREATE +
migrations), seeds the 3,000-student school (bench/school.py) plus a quiz in
every course's first lesson, starts gunicorn with the deploy configuration
(gthread, WEB_WORKERS x WEB_THREADS, default 2 x 4 on 2 cores) and, beside it,
the floor app (bench/floor_app.py: Flask + SQLAlchemy + Jinja, one indexed
query, a small page, a session cookie) with the same settings, then drives both
from a minimal asyncio HTTP/1.1 client (RawClient; --client httpx for the one
used before), in the same run. After seeding: VACUUM ANALYZE and CHECKPOINT,
then a warm-up of every capacity page.

  1. Capacity (no think time, --capacity-clients at once, --capacity-seconds
     each, --capacity-rounds interleaved rounds): req/s of the floor page, the
     student dashboard and an attendance tap, and their ratios to the floor,
     each round's and the median of the rounds.
  2. Steps of N concurrent users (default 100, 300, 500) with think time 2-5 s,
     a realistic mix: 80 % students (dashboard, lesson, quiz submit), 15 %
     instructors (attendance grid, taps), 5 % staff (/reports filtered by a
     class, the user list). Per step: p50/p95/p99 (ms), req/s and failures.

Failures are listed with their exception; a request that met a kept-alive
connection closing before any byte of the answer is sent again once, as a
browser does, and counted apart. Every capacity run and step prints the CPU
of the generator, of each gunicorn, of PostgreSQL for them and of the rest of
the machine (cores busy), and autovacuum's runs.

Every user is signed in as a browser is (a live session row, a signed session
cookie, a CSRF token), without going through the sign-in form. The load
generator runs on the same machine and takes CPU from the server: say so with
the figures, with the load average it prints (other work shares the cores).

    cd /work/main && .venv/bin/python bench/load.py [--help]

The database named in --database-url is dropped and re-created: never point it
at a database you want to keep.
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import math
import os
import platform
import random
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

import school  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/babyowl_bench_load"
SECRET = "bench-load-secret"
# Hundreds of users share one address and a few accounts loop without think time here: the limits are
# counted in Redis as in production (their cost is part of every request), at a rate no user reaches.
BENCH_APPLICATION_LIMIT = "1000000 per minute"
USER_AGENT = "bench"
QUIZ = {"passingScore": 60, "attemptsAllowed": None, "shuffle": False, "questions": [
    {"id": "q1", "type": "single_choice", "text": "What is 2 + 3?", "points": 1,
     "options": [{"id": "a", "text": "Five"}, {"id": "b", "text": "Twenty-three"}], "correct": ["a"],
     "explanation": ""},
    {"id": "q2", "type": "true_false", "text": "Lists are immutable.", "points": 1, "correct": [False],
     "explanation": ""}]}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help=f"PostgreSQL database to DROP, re-create and seed (default: {DEFAULT_URL})")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7", help="Redis for rate limits and jobs")
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--steps", default="100,300,500", help="concurrent users per step (default 100,300,500)")
    parser.add_argument("--step-seconds", type=float, default=60, help="measured seconds per step (default 60)")
    parser.add_argument("--capacity-seconds", type=float, default=8,
                        help="seconds of each capacity run (default 8)")
    parser.add_argument("--capacity-rounds", type=int, default=3,
                        help="rounds of the three capacity runs, interleaved; the median is reported (default 3)")
    parser.add_argument("--capacity-clients", type=int, default=8, help="clients at once in capacity runs")
    parser.add_argument("--warmup-seconds", type=float, default=5,
                        help="seconds of each capacity page before the measurement (default 5)")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="raw",
                        help="raw: a minimal asyncio HTTP/1.1 client (default); httpx: the one used before, to "
                             "compare their CPU")
    parser.add_argument("--no-vacuum", action="store_true",
                        help="skip the VACUUM ANALYZE and CHECKPOINT after seeding (as before), to see what they do")
    parser.add_argument("--servers", default="",
                        help="gunicorn configurations to compare in this one run, comma-separated: WxT (W gthread "
                             "workers of T threads) or sync:W (W sync workers); default: deploy/gunicorn.conf.py's "
                             "(WEB_WORKERS x WEB_THREADS of the environment, else its defaults)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


# ---------------------------------------------------------------- seeding the people and their cookies

@dataclass
class Person:
    role: str
    cookie: str
    csrf: str
    class_id: str = ""
    lesson_id: str = ""
    quiz_id: str = ""
    enrollment_ids: list[str] = field(default_factory=list)


def signed_in_people(app, seeded: dict) -> dict[str, list[Person]]:
    """A live session and a signed cookie (with a CSRF token) for every student, instructor and the admin."""
    from itsdangerous import URLSafeTimedSerializer

    from babyowl.extensions import db
    from babyowl.models import (
        ClassEnrollment, Exercise, Lesson, LessonUnlock, SchoolClass, Section, User, UserSession,
    )
    from babyowl.models.base import utcnow

    people: dict[str, list[Person]] = {"student": [], "instructor": [], "staff": []}
    with app.app_context():
        session = db.session
        now = utcnow()
        # A quiz (unlimited attempts) in every course's first lesson, which every class has unlocked.
        first_lessons = dict(session.execute(
            sa.select(Section.course_id, Lesson.id).join(Lesson, Lesson.section_id == Section.id)
            .where(Section.order_index == 0, Lesson.order_index == 0)).all())
        quizzes = {course_id: uuid.uuid4() for course_id in first_lessons}
        session.execute(sa.insert(Exercise), [
            {"id": quizzes[course_id], "lesson_id": lesson_id, "title": "Kuis", "type": "quiz", "order_index": 1,
             "estimated_duration": 5, "content": QUIZ, "created_at": now, "updated_at": now}
            for course_id, lesson_id in first_lessons.items()])
        session.commit()
        unlocked = {class_id for (class_id,) in session.execute(sa.select(LessonUnlock.class_id).distinct())}
        classes = {c.id: c for c in session.scalars(sa.select(SchoolClass))}
        serializer = app.session_interface.get_signing_serializer(app)
        signer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token")
        # The session a sign-in leaves in a browser (auth.login): permanent, with Flask-Login's identifier of
        # this address and User-Agent, so no request of the benchmark changes it.
        from flask_login.utils import _create_identifier

        with app.test_request_context(headers={"User-Agent": USER_AGENT},
                                      environ_base={"REMOTE_ADDR": "127.0.0.1"}):
            identifier = _create_identifier()
        rows = []

        def person(user: User, role: str, **extra) -> Person:
            session_id = uuid.uuid4()
            rows.append({"id": session_id, "user_id": user.id, "user_agent": "bench", "ip": "127.0.0.1",
                         "last_seen_at": now})
            raw = hashlib.sha1(os.urandom(64)).hexdigest()
            cookie = serializer.dumps({"_user_id": f"{user.id}.{user.password_fingerprint}.{session_id}",
                                       "_fresh": True, "_id": identifier, "_permanent": True, "csrf_token": raw})
            return Person(role, cookie, signer.dumps(raw), **extra)

        enrollments = session.execute(
            sa.select(ClassEnrollment.student_id, ClassEnrollment.class_id, ClassEnrollment.id)
            .where(ClassEnrollment.status == "active").order_by(ClassEnrollment.id)).all()
        first_class = {}
        by_class: dict = {}
        for student_id, class_id, enrollment_id in enrollments:
            first_class.setdefault(student_id, class_id)
            by_class.setdefault(class_id, []).append(str(enrollment_id))
        for user in session.scalars(sa.select(User).where(User.id.in_(list(first_class)))):
            class_id = first_class[user.id]
            course_id = classes[class_id].course_id
            if class_id in unlocked:
                people["student"].append(person(user, "student", class_id=str(class_id),
                                                lesson_id=str(first_lessons[course_id]),
                                                quiz_id=str(quizzes[course_id])))
        teaching: dict = {}
        for school_class in classes.values():
            teaching.setdefault(school_class.instructor_id, []).append(school_class.id)
        for user in session.scalars(sa.select(User).where(User.id.in_(list(teaching)))):
            for class_id in teaching[user.id]:
                people["instructor"].append(person(user, "instructor", class_id=str(class_id),
                                                   enrollment_ids=by_class.get(class_id, [])))
        admin = session.get(User, seeded["admin_id"])
        for class_id in list(classes)[:20]:
            people["staff"].append(person(admin, "staff", class_id=str(class_id)))
        session.execute(sa.insert(UserSession), rows)
        session.commit()
        session.remove()
    return people


# ---------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class ServerConfig:
    """One gunicorn configuration: its environment for deploy/gunicorn.conf.py (empty: the file's defaults)."""
    label: str
    env: tuple[tuple[str, str], ...] = ()


def server_configs(spec: str) -> list[ServerConfig]:
    if not spec.strip():
        return [ServerConfig("deploy/gunicorn.conf.py")]
    configs = []
    for item in (part.strip() for part in spec.split(",") if part.strip()):
        if item.startswith("sync:"):
            workers = int(item[5:])
            configs.append(ServerConfig(f"sync {workers} workers", (("WEB_WORKER_CLASS", "sync"),
                                                                    ("WEB_WORKERS", str(workers)))))
        else:
            workers, threads = (int(n) for n in item.lower().split("x"))
            configs.append(ServerConfig(f"gthread {workers}x{threads}", (
                ("WEB_WORKER_CLASS", "gthread"), ("WEB_WORKERS", str(workers)), ("WEB_THREADS", str(threads)))))
    return configs


def start_server(app_spec: str, port: int, args, database_url: str, chdir: Path = ROOT,
                 config: ServerConfig = ServerConfig("default")) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": make_url(database_url).render_as_string(hide_password=False),
           "REDIS_URL": args.redis_url, "SECRET_KEY": SECRET, "WEB_BIND": f"127.0.0.1:{port}",
           **dict(config.env), "BABYOWL_ENV": "development",
           "DEFAULT_LOCALE": "en", "LOG_FORMAT": "json", "BCRYPT_ROUNDS": "4",
           "RATELIMIT_ENABLED": "true", "RATELIMIT_APPLICATION": BENCH_APPLICATION_LIMIT}
    # gunicorn's log goes to a file: a pipe nobody reads would fill and stop the server; the file says when a
    # worker was replaced (max_requests).
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py"), "--chdir", str(chdir),
         "--access-logfile", "/dev/null", app_spec],
        env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    process.log_path = Path(log.name)
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{app_spec} did not start: {process.log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{app_spec} did not listen on {port} within 60 s")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    process.log_path.unlink(missing_ok=True)


def server_errors(process: subprocess.Popen, seen: int) -> tuple[list[str], int]:
    """The errors the app logged (its JSON lines at ERROR or above) after the first `seen`: each as its message
    and the last line of its traceback; and how many there are now."""
    import json

    errors = []
    for raw in process.log_path.read_text(errors="replace").splitlines():
        if raw.startswith("{") and ('"level": "ERROR"' in raw or '"level": "CRITICAL"' in raw):
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            last = (entry.get("exception") or "").strip().splitlines()[-1:]
            errors.append(f"{entry.get('message')}{': ' + last[0] if last else ''}")
    return errors[seen:], len(errors)


def worker_restarts(process: subprocess.Popen) -> int:
    """Workers gunicorn replaced so far after their max_requests (its log says so)."""
    return process.log_path.read_text(errors="replace").count("Autorestarting worker")


# ---------------------------------------------------------------- who took the CPU

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: str) -> list[str] | None:
    """/proc/PID/stat's fields from the third (state) on; None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds of a process group (a gunicorn server: it runs in its own session): its live processes, and the
    workers it replaced and reaped (the arbiter's cutime/cstime)."""
    ticks = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _proc_stat(entry.name)) and int(fields[2]) == pgid:
            ticks += sum(int(n) for n in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / CLOCK_TICKS


def group_rss_mb(pgid: int) -> list[float]:
    """Resident MB of each process of a group but its leader (the workers of a gunicorn arbiter)."""
    sizes = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and entry.name != str(pgid) and (fields := _proc_stat(entry.name)) \
                and int(fields[2]) == pgid:
            sizes.append(int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20)  # rss, in pages
    return sizes


def postgres_cpu_seconds(database: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to `database` now (their title names it); a backend that
    ended since is not counted (the pools keep theirs)."""
    ticks, title = 0, f" {database} ".encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"postgres: ") and title in cmdline and (fields := _proc_stat(entry.name)):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine since boot, every core (/proc/stat)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS, sum(ticks) / CLOCK_TICKS  # idle, iowait


class CpuMeter:
    """Cores used (CPU seconds / wall seconds) from start() to report(): the generator (this process), each
    gunicorn server, the PostgreSQL backends of the benchmark's database, and the rest of the machine."""

    def __init__(self, servers: dict[str, subprocess.Popen], database: str):
        self.servers = servers  # label: the gunicorn arbiter (its pid is its process group's)
        self.database = database

    def start(self) -> CpuMeter:
        self.wall, self.own = time.perf_counter(), time.process_time()
        self.groups = {label: group_cpu_seconds(server.pid) for label, server in self.servers.items()}
        self.restarts = {label: worker_restarts(server) for label, server in self.servers.items()}
        self.postgres = postgres_cpu_seconds(self.database)
        self.busy, self.all = machine_cpu_seconds()
        return self

    def report(self, requests: int, server: str = "") -> str:
        """The split; with `server`, also remembers that server's CPU ms a request (gunicorn + PostgreSQL)."""
        wall = time.perf_counter() - self.wall
        own = time.process_time() - self.own
        groups = {label: group_cpu_seconds(server.pid) - self.groups[label] for label, server in self.servers.items()}
        restarts = {label: worker_restarts(server) - self.restarts[label] for label, server in self.servers.items()}
        postgres = max(postgres_cpu_seconds(self.database) - self.postgres, 0)
        busy, every = machine_cpu_seconds()
        busy, every = busy - self.busy, every - self.all
        cores = os.cpu_count() or 1
        rest = busy - own - sum(groups.values()) - postgres
        if server:
            self.ms_a_request = (groups[server] + postgres) * 1000 / max(requests, 1)
        shown = ", ".join(f"{label} {seconds / wall:.2f}" + (f" ({restarts[label]} workers replaced)"
                                                              if restarts[label] else "")
                          for label, seconds in groups.items())
        return (f"  CPU, cores busy of {cores}: generator {own / wall:.2f} ({own * 1000 / max(requests, 1):.1f} ms a "
                f"request), {shown}, PostgreSQL for them {postgres / wall:.2f}, the rest of the machine "
                f"{rest / wall:.2f} (Redis, other work); "
                f"machine {busy / every * 100:.0f} % busy")


# ---------------------------------------------------------------- the client

@dataclass
class Sample:
    label: str
    ms: float
    status: int
    at: float
    error: str = ""  # no answer (status 0): the exception's type and message
    retried: str = ""  # sent twice: the first went out on a kept-alive connection the server was closing
    key: str = ""  # an attendance tap's idempotency key


def request_for(person: Person, kind: str, rng: random.Random) -> tuple[str, str, str, dict | None]:
    """(label, method, path, form) of one request `person` makes."""
    if kind == "floor":
        return "floor page", "GET", "/", None
    if person.role == "student":
        choice = kind if kind != "mix" else rng.choices(("dashboard", "lesson", "quiz"), (40, 40, 20))[0]
        if choice == "dashboard":
            return "student dashboard", "GET", "/dashboard", None
        if choice == "lesson":
            return "student lesson", "GET", f"/learn/classes/{person.class_id}/lessons/{person.lesson_id}", None
        answers = {"q-q1": rng.choice("ab"), "q-q2": rng.choice(("true", "false"))}
        return "quiz submit", "POST", f"/learn/classes/{person.class_id}/exercises/{person.quiz_id}/quiz", answers
    if person.role == "instructor":
        choice = kind if kind != "mix" else rng.choices(("grid", "tap"), (30, 70))[0]
        if choice == "grid" or not person.enrollment_ids:
            return "attendance grid", "GET", f"/classes/{person.class_id}/attendance?meeting=6", None
        return "attendance tap", "POST", f"/classes/{person.class_id}/attendance/mark", {
            "enrollment_id": rng.choice(person.enrollment_ids), "meeting_number": "6", "meeting_date": "",
            "status": rng.choice(school.STATUSES), "key": str(uuid.uuid4())}
    if rng.random() < 0.5:
        return "staff reports (one class)", "GET", f"/reports?class_id={person.class_id}", None
    return "staff user list", "GET", "/admin/users", None


class ReusedConnectionClosed(ConnectionError):
    """A kept-alive connection closed before any byte of the answer: the request never reached the app."""


class RawClient:
    """One browser tab's HTTP/1.1 keep-alive connection, in ~80 lines of asyncio: the same requests, headers and
    cookies httpx sent, at a fraction of its CPU (the generator shares the server's cores). It knows what a browser
    knows: whether the connection was reused and whether any byte of the answer came, so it can retry as a browser
    does (`visit`)."""

    def __init__(self, base: str, cookies: dict[str, str]):
        address = base.removeprefix("http://")
        self.host, self.port = address.split(":")[0], int(address.split(":")[1])
        self.cookies = dict(cookies)
        self.common = (f"Host: {address}\r\nAccept: */*\r\nAccept-Encoding: gzip, br\r\nConnection: keep-alive\r\n"
                       f"User-Agent: {USER_AGENT}\r\n")
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> RawClient:
        return self

    async def __aexit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, form: dict | None = None, headers: dict | None = None) -> int:
        """Send one request, read the whole answer (the body as sent, never decompressed); its status."""
        from urllib.parse import urlencode

        body = urlencode(form).encode() if form is not None else b""
        head = [f"{method} {path} HTTP/1.1\r\n", self.common]
        if self.cookies:
            head.append("Cookie: " + "; ".join(f"{name}={value}" for name, value in self.cookies.items()) + "\r\n")
        head += [f"{name}: {value}\r\n" for name, value in (headers or {}).items()]
        if form is not None:
            head.append(f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n")
        # A connection the server closed while idle is seen here (as httpx's pool does) and replaced.
        if self.reader is not None and (self.reader.at_eof() or self.reader.exception() or self.writer.is_closing()):
            self.close()
        reused = self.reader is not None
        if not reused:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        reader = self.reader
        try:
            self.writer.write("".join(head).encode("latin-1") + b"\r\n" + body)
            await self.writer.drain()
            status_line = await reader.readline()
        except (ConnectionResetError, BrokenPipeError) as exc:
            self.close()
            if reused:
                raise ReusedConnectionClosed(describe(exc)) from exc
            raise
        if not status_line:
            self.close()
            raise (ReusedConnectionClosed if reused else ConnectionError)("closed before any byte of the answer")
        try:
            return await self._read_answer(method, status_line, reader)
        except BaseException:
            self.close()  # half an answer: the connection cannot be reused
            raise

    async def _read_answer(self, method: str, status_line: bytes, reader: asyncio.StreamReader) -> int:
        version, status = status_line.split(b" ", 2)[:2]
        status = int(status)
        length, chunked, keep = None, False, version == b"HTTP/1.1"
        while (header := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value.lower()
            elif name == "connection":
                keep = value.lower() != "close"
            elif name == "set-cookie":
                pair, _, attributes = value.partition(";")
                cookie, _, cookie_value = pair.partition("=")
                attributes = attributes.lower()
                if "max-age=0" in attributes or "expires=thu, 01 jan 1970" in attributes:
                    self.cookies.pop(cookie.strip(), None)
                else:
                    self.cookies[cookie.strip()] = cookie_value.strip()
        if method == "HEAD" or status in (204, 304) or status < 200:
            pass
        elif chunked:
            while size := int((await reader.readline()).split(b";")[0], 16):
                await reader.readexactly(size + 2)
            while await reader.readline() not in (b"\r\n", b""):  # trailers
                pass
        elif length is not None:
            await reader.readexactly(length)
        else:  # the answer ends where the connection does
            await reader.read()
            keep = False
        if not keep:
            self.close()
        return status


class HttpxClient:
    """The client before RawClient (--client httpx), to compare their CPU: no retry, so it counts a request that
    met a closing kept-alive connection as failed."""

    def __init__(self, base: str, cookies: dict[str, str]):
        import httpx

        self.client = httpx.AsyncClient(
            base_url=base, cookies=cookies, timeout=60, follow_redirects=False, verify=_tls_context(),
            headers={"Accept-Encoding": "gzip, br", "User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))

    async def __aenter__(self) -> HttpxClient:
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.client.aclose()

    async def request(self, method: str, path: str, form: dict | None = None, headers: dict | None = None) -> int:
        # The body as sent, never decompressed: a browser's decompression is not the server's work.
        async with self.client.stream(method, path, data=form, headers=headers) as response:
            async for _chunk in response.aiter_raw():
                pass
            return response.status_code


@functools.cache
def _tls_context():
    # httpx builds (and loads the CA bundle into) a TLS context for every client unless given one: ~43 ms of CPU
    # each, 21 s for a 500-user step, on the cores the server needs. The benchmark speaks plain HTTP anyway.
    return ssl.create_default_context()


CLIENTS = {"raw": RawClient, "httpx": HttpxClient}
TIMEOUT = 60  # seconds for one request, retry included


def new_client(base: str, person: Person, floor: bool, kind: str = "raw"):
    return CLIENTS[kind](base, {} if floor else {"session": person.cookie})


async def visit(client, person: Person, kind: str, rng: random.Random, samples: list[Sample]) -> None:
    label, method, path, form = request_for(person, kind, rng)
    headers = {"HX-Request": "true", "X-CSRFToken": person.csrf} if method == "POST" else {}
    started = time.perf_counter()
    error = retried = ""
    try:
        async with asyncio.timeout(TIMEOUT):
            try:
                status = await client.request(method, path, form, headers)
            except ReusedConnectionClosed as exc:
                # What a browser does (Chromium, Firefox; RFC 9112 section 9.3.1): a request sent on a kept-alive
                # connection that closed before any byte of the answer is sent again once, on a new connection.
                # The server closed it without reading the request (gunicorn stops a worker so), so nothing ran;
                # a tap carries its idempotency key anyway. Counted apart from failures.
                retried = str(exc)
                status = await client.request(method, path, form, headers)
    except Exception as exc:  # noqa: BLE001 - a refused or dropped connection is a failure, counted
        status, error = 0, describe(exc)
        if isinstance(client, RawClient):
            client.close()
    samples.append(Sample(label, (time.perf_counter() - started) * 1000, status, time.perf_counter(), error,
                          retried, form.get("key", "") if label == "attendance tap" else ""))


def describe(exc: BaseException) -> str:
    """`Type: message` of an exception and of what caused it (httpx wraps httpcore's, which wrap the socket's)."""
    parts = []
    while exc is not None and len(parts) < 4:
        parts.append(f"{type(exc).__name__}: {exc}".rstrip(": "))
        exc = exc.__cause__ or exc.__context__
    return " <- ".join(parts)


async def capacity(base: str, people: list[Person], kind: str, clients: int, seconds: float,
                   floor_uids: list[str], client_kind: str = "raw") -> tuple[float, list[Sample]]:
    """Requests per second with `clients` looping without think time."""
    samples: list[Sample] = []
    stop_at = time.perf_counter() + seconds

    async def loop(index: int):
        rng = random.Random(index)
        person = people[index % len(people)]
        async with new_client(base, person, kind == "floor", client_kind) as client:
            if kind == "floor":
                await client.request("GET", f"/?uid={floor_uids[index % len(floor_uids)]}")
            while time.perf_counter() < stop_at:
                await visit(client, person, kind, rng, samples)

    started = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(clients)))
    return len(samples) / (time.perf_counter() - started), samples


async def step(base: str, people: dict[str, list[Person]], users: int, seconds: float,
               seed: int, client_kind: str = "raw") -> tuple[list[Sample], list[Sample]]:
    """`users` people at once, each thinking 2-5 s between requests: (samples of the measured window, all)."""
    rng = random.Random(seed)
    roles = ["student"] * round(users * 0.80) + ["instructor"] * round(users * 0.15)
    roles += ["staff"] * (users - len(roles))
    chosen = [people[role][rng.randrange(len(people[role]))] for role in roles]
    samples: list[Sample] = []
    warm = 5.0  # users arrive over the first think time; the window starts after it
    start = time.perf_counter()
    window_start, stop_at = start + warm, start + warm + seconds

    async def user(index: int, person: Person):
        local = random.Random(seed * 1000 + index)
        await asyncio.sleep(local.uniform(0, warm))
        async with new_client(base, person, False, client_kind) as client:
            while time.perf_counter() < stop_at:
                await visit(client, person, "mix", local, samples)
                await asyncio.sleep(local.uniform(2, 5))

    await asyncio.gather(*(user(i, p) for i, p in enumerate(chosen)))
    return [s for s in samples if window_start <= s.at <= stop_at], samples


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


def line(label: str, samples: list[Sample], seconds: float) -> str:
    ms = [s.ms for s in samples]
    failed = sum(1 for s in samples if not 200 <= s.status < 400)
    return (f"{label:<30}{len(samples):>7}{statistics.median(ms) if ms else float('nan'):>9.0f}"
            f"{percentile(ms, 95):>9.0f}{percentile(ms, 99):>9.0f}{len(samples) / seconds:>9.1f}{failed:>8}")


HEADER = f"{'':<30}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>9}{'failed':>8}"


def print_failures(samples: list[Sample], measured: int) -> None:
    """Failed requests of a step (or a capacity run) by what they answered (0: no answer, with its exception), and
    the ones sent twice as a browser would; `measured` of them fell in the measured window."""
    counts: dict[str, int] = {}
    for sample in samples:
        if not 200 <= sample.status < 400:
            what = f"failed: no answer: {sample.error}" if sample.status == 0 else f"failed: answered {sample.status}"
            counts[f"{what} ({sample.label})"] = counts.get(f"{what} ({sample.label})", 0) + 1
        if sample.retried:
            what = f"sent again on a new connection, then answered {sample.status}: {sample.retried}"
            counts[f"{what} ({sample.label})"] = counts.get(f"{what} ({sample.label})", 0) + 1
    if counts:
        print(f"  of {len(samples)} requests ({measured} in the measured window):")
    for what, count in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"  {count:>5} x {what}")


def load_line() -> str:
    return f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"


CAPACITY = (("floor page", "floor", "student", "floor"), ("student dashboard", "app", "student", "dashboard"),
            ("attendance tap", "app", "instructor", "tap"))


def capacity_rounds(args, bases: dict[str, str], people, floor_uids, meter: CpuMeter) -> tuple[dict, tuple, list]:
    """Rounds of floor, dashboard, tap one after the other: each round's ratios compare runs seconds apart, so
    other work on the machine moves a round's three rates together; the median of the rounds is reported."""
    rounds: list[dict[str, float]] = []
    cpu: dict[str, list[float]] = {label: [] for label, *_ in CAPACITY}
    pooled: dict[str, list[Sample]] = {label: [] for label, *_ in CAPACITY}
    for number in range(args.capacity_rounds):
        rates = {}
        for label, target, group, kind in CAPACITY:
            meter.start()
            rate, samples = asyncio.run(capacity(bases[target], people[group], kind, args.capacity_clients,
                                                 args.capacity_seconds, floor_uids, args.client))
            rates[label] = rate
            pooled[label] += samples
            print(f"  round {number + 1}, {label}: {rate:.1f} req/s, {load_line()}")
            print("  " + meter.report(len(samples), "floor server" if target == "floor" else "app server"))
            cpu[label].append(meter.ms_a_request)
        rounds.append(rates)
    print(HEADER.replace("req/s   ", "req/s * ") + "   req/s of each round")
    medians = {}
    for label, *_ in CAPACITY:
        medians[label] = statistics.median(r[label] for r in rounds)
        print(line(label, pooled[label], len(pooled[label]) / medians[label] if medians[label] else 1)
              + "   " + " / ".join(f"{r[label]:.1f}" for r in rounds))
    dash = [r["student dashboard"] / r["floor page"] for r in rounds]
    tap = [r["attendance tap"] / r["floor page"] for r in rounds]
    ratios = (statistics.median(dash), statistics.median(tap))
    print(f"  * the median of the rounds. dashboard / floor = {ratios[0]:.2f} (rounds "
          f"{' / '.join(f'{x:.2f}' for x in dash)}), tap / floor = {ratios[1]:.2f} (rounds "
          f"{' / '.join(f'{x:.2f}' for x in tap)}); medians of each round's ratio")
    # Other work on the machine moves req/s; the server's CPU a request moves much less, and its ratio is what
    # the req/s ratio would be with the cores to the servers alone.
    ms = {label: statistics.median(values) for label, values in cpu.items()}
    print("  server CPU a request (gunicorn + its PostgreSQL backends), median of the rounds: "
          + ", ".join(f"{label} {ms[label]:.1f} ms ({' / '.join(f'{x:.1f}' for x in cpu[label])})" for label in ms)
          + f"; floor / dashboard = {ms['floor page'] / ms['student dashboard']:.2f}, floor / tap = "
          f"{ms['floor page'] / ms['attendance tap']:.2f}")
    return medians, ratios, [sample for samples in pooled.values() for sample in samples]


def run_config(config: ServerConfig, args, url: str, people, floor_uids) -> tuple:
    """Capacity and the steps against the app and the floor app, both started with `config`; a summary row."""
    print(f"\n=== {config.label} ===")
    app_port, floor_port = free_port(), free_port()
    servers = []
    try:
        servers.append(start_server("babyowl:create_app()", app_port, args, url, config=config))
        servers.append(start_server("floor_app:create_app()", floor_port, args, url, chdir=HERE, config=config))
        bases = {"app": f"http://127.0.0.1:{app_port}", "floor": f"http://127.0.0.1:{floor_port}"}
        meter = CpuMeter({"app server": servers[0], "floor server": servers[1]}, make_url(url).database)
        autovacuum = AutovacuumWatch(url)

        # Warm both, every thread of every worker: imports, templates, pools, the tap's statements.
        for label, target, group, kind in CAPACITY:
            asyncio.run(capacity(bases[target], people[group], kind, args.capacity_clients, args.warmup_seconds,
                                 floor_uids, args.client))
        print(f"Capacity: {args.capacity_clients} clients at once, no think time, {args.capacity_seconds:g} s a run, "
              f"{args.capacity_rounds} rounds (after {args.warmup_seconds:g} s of warm-up of each)")
        rates, ratios, samples = capacity_rounds(args, bases, people, floor_uids, meter)
        print_failures(samples, len(samples))
        for error in server_errors(servers[0], 0)[0]:
            print(f"  the app logged: {error[:400]}")
        print(f"  {load_line()}; {autovacuum.report()} during the capacity runs")

        steps, logged = [], server_errors(servers[0], 0)[1]  # errors of the capacity runs: listed with them
        for number, users in enumerate(int(s) for s in args.steps.split(",") if s.strip()):
            meter.start()
            samples, every = asyncio.run(step(bases["app"], people, users, args.step_seconds, number + 1,
                                              args.client))
            seconds = args.step_seconds
            print(f"\nStep: {users} users, think time 2-5 s, {seconds:g} s measured ({load_line()})")
            print(HEADER)
            print(line("all requests", samples, seconds))
            for label in sorted({s.label for s in samples}):
                print(line(f"  {label}", [s for s in samples if s.label == label], seconds))
            print_failures(every, len(samples))
            errors, logged = server_errors(servers[0], logged)
            for error, count in sorted({e: errors.count(e) for e in errors}.items(), key=lambda item: -item[1]):
                print(f"  {count:>5} x the app logged: {error[:400]}")
            print(meter.report(len(every)) + " (the whole step, arrivals included)")
            rss = group_rss_mb(servers[0].pid)
            print(f"  app workers' memory: {', '.join(f'{mb:.0f}' for mb in rss)} MB resident; "
                  f"{autovacuum.report()} during the step")
            steps.append((users, percentile([s.ms for s in samples], 95), len(samples) / seconds))
            check_writes(url, every)
    finally:
        for server in servers:
            stop_server(server)
    return config.label, rates["floor page"], ratios, steps


class AutovacuumWatch:
    """Autovacuum and autoanalyze runs of the app's tables since the last report."""

    QUERY = sa.text("SELECT relname, autovacuum_count + autoanalyze_count FROM pg_stat_user_tables")

    def __init__(self, url: str):
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.counts = self._counts()

    def _counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return dict(conn.execute(self.QUERY).all())

    def report(self) -> str:
        counts = self._counts()
        ran = {table: n - self.counts.get(table, 0) for table, n in counts.items() if n > self.counts.get(table, 0)}
        self.counts = counts
        return (f"autovacuum/autoanalyze ran {sum(ran.values())} times"
                + (f" ({', '.join(sorted(ran))})" if ran else ""))


def check_writes(url: str, samples: list[Sample]) -> None:
    """No tap lost or doubled by the retries: every tap whose key the database holds was answered (a tap the
    client counted as failed was not written), and a retried tap's key is there at most once (its UNIQUE
    constraint) -- printed when a tap was retried or failed."""
    taps = [s for s in samples if s.key]
    suspect = [s for s in taps if s.retried or s.status == 0]
    if not suspect:
        return
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            held = dict(conn.execute(sa.text(
                "SELECT idempotency_key::text, count(*) FROM attendance_changes WHERE idempotency_key::text = ANY(:k) "
                "GROUP BY 1"), {"k": [s.key for s in suspect]}).all())
    finally:
        engine.dispose()
    retried = [s for s in suspect if s.retried]
    failed_written = [s for s in suspect if s.status == 0 and s.key in held]
    print(f"  taps sent again: {len(retried)}, of which {sum(1 for s in retried if s.key in held)} changed a mark "
          f"(rows of one key at most: {max(held.values(), default=0)}); taps without an answer: "
          f"{sum(1 for s in suspect if s.status == 0)}, of which written anyway: {len(failed_written)}")


def prepare_database(url: str, vacuum: bool) -> str:
    """After the seeding: VACUUM ANALYZE (the planner's statistics and the visibility map of the fresh tables, which
    autovacuum would otherwise build during the measurement) and a CHECKPOINT (the seeding's dirty pages written
    before, not during, the runs)."""
    if not vacuum:
        return "not vacuumed (--no-vacuum)"
    began = time.perf_counter()
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
            conn.execute(sa.text("CHECKPOINT"))
    finally:
        engine.dispose()
    return f"VACUUM ANALYZE and CHECKPOINT in {time.perf_counter() - began:.1f} s"


def main(argv=None) -> int:
    args = parse_args(argv)
    url = args.database_url
    began = time.perf_counter()
    configs = server_configs(args.servers)
    print(f"Baby Owl load benchmark on {make_url(url).render_as_string(hide_password=True)}, gunicorn with "
          f"deploy/gunicorn.conf.py: {', '.join(c.label for c in configs)}; client: {args.client}")
    print(f"  {load_line()} before ({os.cpu_count()} cores)")
    school.recreate_database(url)
    app = school.build_app(url)
    app.config["SECRET_KEY"] = SECRET
    with app.app_context():
        from flask_migrate import upgrade

        from babyowl.extensions import db

        upgrade()
        import logging

        logging.getLogger().setLevel(logging.WARNING)
        server_version = db.session.execute(sa.text("SHOW server_version")).scalar()
        db.session.remove()
    seeded = school.seed(app, args.students, args.classes)
    people = signed_in_people(app, seeded)
    floor_uids = [str(u) for u in seeded["student_ids"][:200]]
    with app.app_context():
        from babyowl.extensions import db

        db.engine.dispose()
    print(f"  seeded: {', '.join(f'{v:,} {k}' for k, v in seeded['counts'].items())}; signed in "
          f"{len(people['student']):,} students, {len(people['instructor'])} instructor sheets, staff; "
          f"{prepare_database(url, not args.no_vacuum)}")
    summary = []
    try:
        for config in server_configs(args.servers):
            summary.append(run_config(config, args, url, people, floor_uids))
    finally:
        if not args.keep:
            school.drop_database(url)
    if len(summary) > 1:
        print("\nConfigurations compared in this run (capacity ratios to the floor; p95 of each step):")
        steps_shown = [users for users, _p95, _rate in summary[0][3]]
        print(f"{'':<24}{'floor r/s':>10}{'dash/floor':>11}{'tap/floor':>10}"
              + "".join(f"{f'p95 @{users}':>11}{'r/s':>7}" for users in steps_shown))
        for label, floor_rate, ratios, steps in summary:
            print(f"{label:<24}{floor_rate:>10.1f}{ratios[0]:>11.2f}{ratios[1]:>10.2f}"
                  + "".join(f"{p95:>11.0f}{rate:>7.1f}" for _users, p95, rate in steps))
    print(f"\n  Python {platform.python_version()}, PostgreSQL {server_version}, {os.cpu_count()} CPU cores, "
          f"{platform.platform()}; the load generator runs on the same machine.")
    print(f"  total run time {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
