"""The seeded school the benchmarks share: 3,000 students by default, on a fresh PostgreSQL database.

    from school import recreate_database, build_app, seed, StatementCounter, summary, isolated

`seed()` bulk-inserts users, courses, classes, enrollments and past attendance and
returns the ids a benchmark needs (one picked class and its instructor, and every
student, class and instructor id) so an area's benchmark can add its own rows on top.
`recreate_database()` DROPs the database first: never point it at one you want to keep.
"""
from __future__ import annotations

import contextvars
import logging
import math
import random
import statistics
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/babyowl_bench"
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
        session.commit()
        counts = {"users": 1 + len(instructors) + len(student_rows), "courses": len(courses),
                  "lessons": len(lessons), "classes": len(class_rows), "enrollments": len(enrollments),
                  "attendance records": len(records), "attendance changes": len(changes)}
        session.remove()
        # A live database has statistics (autovacuum); a freshly loaded one has none.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    # The class in the middle of the list, and its instructor.
    picked = class_rows[len(class_rows) // 2]
    return {"class_id": picked["id"], "class_name": picked["name"], "instructor_id": picked["instructor_id"],
            "counts": counts, "admin_id": admin["id"], "instructor_ids": [row["id"] for row in instructors],
            "student_ids": [row["id"] for row in student_rows], "class_ids": [row["id"] for row in class_rows],
            "course_ids": [row["id"] for row in courses]}


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
