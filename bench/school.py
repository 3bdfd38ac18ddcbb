"""The seeded school the benchmarks share: 3,000 students by default, on a fresh PostgreSQL database.

    from school import recreate_database, build_app, seed, StatementCounter, summary, isolated

A benchmark script's frame comes from here too: `bench_arguments` (--database-url, --students, --classes,
--keep), `bench_database` (DROP + CREATE + migrate, then drop unless --keep), `signed_in_client`,
`timed_request` / `time_requests` (the timed-GET loop) and `print_table` (the results table).

`seed()` bulk-inserts users, courses, classes, enrollments and past attendance and
returns the ids a benchmark needs (one picked class and its instructor, and every
student, class and instructor id) so an area's benchmark can add its own rows on top.
`recreate_database()` DROPs the database first: never point it at one you want to keep.
"""
from __future__ import annotations

import argparse
import contextvars
import logging
import math
import random
import statistics
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/babyowl_bench"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
CLASS_SIZE = 30
TOTAL_MEETINGS = 20
PAST_MEETINGS = 5  # meetings 1..5 already marked in every class
BENCH_MEETING = PAST_MEETINGS + 1
STATUSES = ("present", "late", "absent")
USES_CREDIT = ("present", "late")
INSTRUCTORS = 20
COURSES = 10
SECTIONS_PER_COURSE = 2
LESSONS_PER_SECTION = 5
CHUNK = 5000

FIRST_NAMES = ("Budi", "Siti", "Agus", "Dewi", "Rizky", "Putri", "Andi", "Ayu", "Fajar", "Nur", "Bayu", "Indah",
               "Dimas", "Ratna", "Eko", "Sari", "Hendra", "Wulan", "Yoga", "Maya", "Arif", "Lestari", "Galih", "Intan")
LAST_NAMES = ("Santoso", "Wijaya", "Pratama", "Saputra", "Hidayat", "Kusuma", "Nugroho", "Lestari", "Setiawan",
              "Halim", "Gunawan", "Siregar", "Nasution", "Harahap", "Wibowo", "Purnama", "Rahman", "Susanto")


# ---------------------------------------------------------------- database

def recreate_database(url: str) -> None:
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def build_app(url: str):
    from babyowl import create_app

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "bench",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "BCRYPT_ROUNDS": 4,
        "BABEL_DEFAULT_LOCALE": "en",
        "MAIL_BACKEND": "console",
        "REDIS_URL": None,  # background jobs inline, whatever the environment says
    })
    # create_app turns on INFO logging; the figures are the output here.
    logging.getLogger().setLevel(logging.WARNING)
    return app


# ---------------------------------------------------------------- seeding

def _insert(session, model, rows: list[dict]) -> None:
    from sqlalchemy import insert

    for start in range(0, len(rows), CHUNK):
        session.execute(insert(model), rows[start:start + CHUNK])


def _student_slots(students: int, classes: int) -> list[list[int]]:
    """Student indices per class: 30 distinct per class, every enrolled student in 1 or 2 classes."""
    slots = classes * CLASS_SIZE
    # ~80 % of the seats go to students in one class, the rest to a second class of
    # some of them; with the defaults 2,400 students in 1-2 classes, 600 in none.
    distinct = min(students, max(math.ceil(slots * 0.8), math.ceil(slots / 2), CLASS_SIZE))
    seconds = slots - distinct
    order = list(range(distinct)) + [(i + distinct // 2) % distinct for i in range(seconds)]
    per_class = [order[c * CLASS_SIZE:(c + 1) * CLASS_SIZE] for c in range(classes)]
    for members in per_class:  # holds for the layout above, checked anyway
        if len(set(members)) != CLASS_SIZE:
            raise SystemExit("seeding layout put a student twice in one class; try other --students/--classes")
    return per_class


def seed(app, students: int, classes: int, past_meetings: int = PAST_MEETINGS) -> dict:
    """Bulk-insert the school (meetings 1..past_meetings marked in every class); returns the ids a benchmark needs."""
    total_meetings = max(TOTAL_MEETINGS, past_meetings + 1)
    from babyowl.extensions import db
    from babyowl.models import (
        AttendanceChange, ClassAttendance, ClassEnrollment, Course, Exercise, Lesson, LessonUnlock, SchoolClass,
        Section, User,
    )
    from babyowl.services.passwords import hash_password

    rng = random.Random(20240601)
    now = datetime.now(timezone.utc)
    today = date.today()
    start_date = today - timedelta(days=7 * past_meetings)

    with app.app_context():
        session = db.session
        password_hash = hash_password("Bench#12345")  # one hash for everyone: bcrypt is not what we measure

        def user_row(role: str, index: int, name: str) -> dict:
            return {"id": uuid.uuid4(), "email": f"{role}{index:05d}@bench.example", "password_hash": password_hash,
                    "full_name": name, "role": role, "status": "active", "email_verified": True,
                    "onboarding_completed": True, "created_at": now, "updated_at": now}

        admin = user_row("super_admin", 0, "Bench Admin")
        instructors = [user_row("instructor", i, f"Guru {rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}")
                       for i in range(INSTRUCTORS)]
        student_rows = [user_row("student", i, f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)} {i}")
                        for i in range(students)]
        _insert(session, User, [admin, *instructors, *student_rows])

        courses, sections, lessons, exercises = [], [], [], []
        lessons_by_course: list[list[uuid.UUID]] = []
        for c in range(COURSES):
            course_id = uuid.uuid4()
            courses.append({"id": course_id, "title": f"Bench Course {c + 1}", "code": f"BC{c + 1:02d}",
                            "slug": f"bench-course-{c + 1}", "description": "A seeded course.", "level": "beginner",
                            "status": "published", "published_at": now, "created_by": admin["id"],
                            "created_at": now, "updated_at": now})
            course_lessons = []
            for s in range(SECTIONS_PER_COURSE):
                section_id = uuid.uuid4()
                sections.append({"id": section_id, "course_id": course_id, "title": f"Section {s + 1}",
                                 "order_index": s, "created_at": now, "updated_at": now})
                for ls in range(LESSONS_PER_SECTION):
                    lesson_id = uuid.uuid4()
                    course_lessons.append(lesson_id)
                    lessons.append({"id": lesson_id, "section_id": section_id, "order_index": ls,
                                    "title": f"Lesson {s * LESSONS_PER_SECTION + ls + 1}", "status": "published",
                                    "estimated_duration": 15, "created_at": now, "updated_at": now})
                    exercises.append({"id": uuid.uuid4(), "lesson_id": lesson_id, "title": "Material",
                                      "type": "material", "order_index": 0, "estimated_duration": 15,
                                      "content": {"format": "markdown", "body": "Read this first."},
                                      "created_at": now, "updated_at": now})
            lessons_by_course.append(course_lessons)
        _insert(session, Course, courses)
        _insert(session, Section, sections)
        _insert(session, Lesson, lessons)
        _insert(session, Exercise, exercises)

        class_rows, unlocks, enrollments, records, changes = [], [], [], [], []
        for c, members in enumerate(_student_slots(students, classes)):
            class_id = uuid.uuid4()
            instructor = instructors[c % INSTRUCTORS]
            course_index = c % COURSES
            class_rows.append({
                "id": class_id, "name": f"Bench Class {c + 1:03d}", "course_id": courses[course_index]["id"],
                "instructor_id": instructor["id"], "type": "group", "max_capacity": CLASS_SIZE,
                "current_capacity": CLASS_SIZE, "total_meetings": total_meetings, "meetings_completed": past_meetings,
                "lessons_unlocked": past_meetings,
                "schedule": {"days": ["Monday"], "time": "19:00-21:00"},
                "enrollment_deadline": start_date - timedelta(days=3), "start_date": start_date,
                "end_date": start_date + timedelta(days=7 * (total_meetings - 1)), "status": "active",
                "created_at": now, "updated_at": now})
            for lesson_id in lessons_by_course[course_index][:past_meetings]:
                unlocks.append({"id": uuid.uuid4(), "class_id": class_id, "lesson_id": lesson_id,
                                "unlocked_by": instructor["id"], "unlocked_at": now})
            for student_index in members:
                enrollment_id = uuid.uuid4()
                used = 0
                for meeting in range(1, past_meetings + 1):
                    status = rng.choices(STATUSES, weights=(80, 10, 10))[0]
                    used += status in USES_CREDIT
                    record_id = uuid.uuid4()
                    marked_at = datetime.combine(start_date + timedelta(days=7 * (meeting - 1)),
                                                 datetime.min.time(), timezone.utc) + timedelta(hours=12)
                    records.append({"id": record_id, "class_id": class_id, "enrollment_id": enrollment_id,
                                    "meeting_number": meeting, "meeting_date": marked_at.date(), "status": status,
                                    "credit_deducted": status in USES_CREDIT, "marked_by": instructor["id"],
                                    "marked_at": marked_at})
                    changes.append({"id": uuid.uuid4(), "attendance_id": record_id, "enrollment_id": enrollment_id,
                                    "meeting_number": meeting, "old_status": None, "new_status": status,
                                    "credit_change": int(status in USES_CREDIT), "changed_by": instructor["id"],
                                    "changed_at": marked_at, "idempotency_key": uuid.uuid4()})
                enrollments.append({
                    "id": enrollment_id, "class_id": class_id, "student_id": student_rows[student_index]["id"],
                    "meeting_credits": total_meetings, "credits_used": used,
                    "attendance_rate": (Decimal(used * 100) / past_meetings).quantize(Decimal("0.01")),
                    "payment_status": "verified", "payment_amount": Decimal("1500000"), "enrolled_at": now,
                    "status": "active"})
        _insert(session, SchoolClass, class_rows)
        _insert(session, LessonUnlock, unlocks)
        _insert(session, ClassEnrollment, enrollments)
        _insert(session, ClassAttendance, records)
        _insert(session, AttendanceChange, changes)
        counts = {"users": 1 + len(instructors) + len(student_rows), "courses": len(courses),
                  "lessons": len(lessons), "classes": len(class_rows), "enrollments": len(enrollments),
                  "attendance records": len(records), "attendance changes": len(changes)}
        commit_and_analyze(db)
    # The class in the middle of the list, and its instructor.
    picked = class_rows[len(class_rows) // 2]
    return {"class_id": picked["id"], "class_name": picked["name"], "instructor_id": picked["instructor_id"],
            "counts": counts, "admin_id": admin["id"], "instructor_ids": [row["id"] for row in instructors],
            "student_ids": [row["id"] for row in student_rows], "class_ids": [row["id"] for row in class_rows],
            "course_ids": [row["id"] for row in courses]}


def commit_and_analyze(db) -> None:
    """Commit the bulk-inserted rows, then ANALYZE: a live database has statistics (autovacuum); a freshly
    loaded one has none, and its plans would not be the ones measured."""
    db.session.commit()
    db.session.remove()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))


# ---------------------------------------------------------------- measuring

class StatementCounter:
    """Counts the SQL statements the app's engine runs (before_cursor_execute)."""

    def __init__(self, engine):
        self.count = 0
        sa.event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.count += 1


def isolated(call, *args, **kwargs):
    # Each request in a fresh context, as in production (tests/conftest.py's IsolatedClient).
    return contextvars.Context().run(call, *args, **kwargs)


def summary(samples_ms: list[float]) -> dict:
    ordered = sorted(samples_ms)
    # Nearest-rank 95th percentile: the value 95 % of the samples do not exceed.
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {"n": len(ordered), "median": statistics.median(ordered), "p95": p95,
            "min": ordered[0], "max": ordered[-1]}


# ---------------------------------------------------------------- a benchmark's frame

class BenchFailure(Exception):
    """A measured request did not answer as it must: the figures would mean nothing."""


def bench_arguments(doc: str, default_url: str = DEFAULT_URL,
                    classes_help: str = f"active classes of {CLASS_SIZE} (default 100)") -> argparse.ArgumentParser:
    """The options every benchmark has (--database-url, --students, --classes, --keep); a script adds its own."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=default_url,
                        help=f"PostgreSQL database to DROP, re-create and seed (default: {default_url})")
    parser.add_argument("--students", type=int, default=3000, help="students in the school (default 3000)")
    parser.add_argument("--classes", type=int, default=100, help=classes_help)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (default: drop it)")
    return parser


def shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def bench_database(url: str, keep: bool = False):
    """DROP + CREATE + migrate the database and yield an app on it; afterwards drop it (unless `keep`).

    PostgreSQL out of reach: a message and exit status 3."""
    try:
        recreate_database(url)
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL is unreachable at {shown(url)}: {exc}", file=sys.stderr)
        raise SystemExit(3) from exc
    app = build_app(url)
    started = time.perf_counter()
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(directory=str(MIGRATIONS))
        logging.getLogger().setLevel(logging.WARNING)  # alembic's fileConfig set it back to INFO
    print(f"  database created and migrated in {time.perf_counter() - started:.1f} s")
    try:
        yield app
    finally:
        from babyowl.extensions import db

        with app.app_context():
            db.engine.dispose()
        if keep:
            print(f"  database kept: {shown(url)}")
        else:
            drop_database(url)
            print("  database dropped")


def engine_of(app):
    from babyowl.extensions import db

    with app.app_context():
        return db.engine


def signed_in_client(app, user_id):
    """A test client signed in as a browser is: a live session row, named in the cookie."""
    from babyowl.extensions import db
    from babyowl.models import User
    from babyowl.services.sessions import start_session
    from babyowl.transactions import unit_of_work

    with app.app_context():
        user = db.session.get(User, user_id)
        with unit_of_work("bench sign-in"):
            start_session(user, user_agent="bench", ip="127.0.0.1")
        login_id = user.get_id()
        db.session.remove()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = login_id
        session["_fresh"] = True
    return client


def timed_request(client, counter: StatementCounter, url: str, *, method: str = "get", expect: int = 200,
                  must_show: str | None = None, **kwargs):
    """(milliseconds, SQL statements, response) of one request, in its own context; BenchFailure unless it
    answers `expect` (and shows `must_show`)."""
    before = counter.count
    started = time.perf_counter()
    response = isolated(getattr(client, method), url, **kwargs)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != expect or (must_show is not None and must_show not in response.get_data(as_text=True)):
        raise BenchFailure(f"{method.upper()} {url} answered {response.status_code} (expected {expect}"
                           f"{f' showing {must_show!r}' if must_show else ''}): "
                           f"{response.get_data(as_text=True)[:300]!r}")
    return elapsed, counter.count - before, response


def time_requests(client, counter: StatementCounter, url: str, n: int, *, warmup: int = 0, **kwargs):
    """`warmup` untimed then `n` timed requests: (summary of the milliseconds, statement counts)."""
    for _ in range(warmup):
        timed_request(client, counter, url, **kwargs)
    samples = [timed_request(client, counter, url, **kwargs)[:2] for _ in range(n)]
    return summary([ms for ms, _ in samples]), [q for _, q in samples]


def statements_label(values) -> str:
    """A statement count, or its range over the requests ("12-14 (median 13)")."""
    if isinstance(values, (int, str)):
        return str(values)
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high} (median {statistics.median(values):g})"


def print_table(rows, width: int = 44) -> None:
    """The results: one row (label, summary(...), statement counts or their label) a measured request."""
    header = f"{'':<{width}}{'n':>5}{'median':>10}{'p95':>10}{'min':>10}{'max':>10}   SQL statements/request"
    print()
    print(header)
    print("-" * len(header))
    for label, s, statements in rows:
        print(f"{label:<{width}}{s['n']:>5}{s['median']:>8.1f}ms{s['p95']:>8.1f}ms{s['min']:>8.1f}ms"
              f"{s['max']:>8.1f}ms   {statements_label(statements)}")
