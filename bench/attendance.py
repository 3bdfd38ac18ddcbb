"""Benchmark: taking attendance on PostgreSQL, in a seeded school.

Not a test: it asserts nothing about speed, it measures and prints. It builds a
fresh database (DROP + CREATE + migrations), seeds a school (by default 3,000
students and 100 classes of 30), signs in one class's instructor and times,
through the Flask test client (in process, no network):

  * rendering the attendance grid of a 30-student class (GET), and
  * saving one tap (POST .../attendance/mark, as htmx sends it),

then checks that the records and credits the taps left behind are consistent,
and that a tap sent twice (same key) counts once.

    cd /work/main && .venv/bin/python bench/attendance.py [--help]

The database named in --database-url is dropped and re-created: never point it
at a database you want to keep.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402

from school import (  # noqa: E402
    BENCH_MEETING, CLASS_SIZE, DEFAULT_URL, PAST_MEETINGS, STATUSES, USES_CREDIT, BenchFailure, StatementCounter,
    bench_arguments, bench_database, engine_of, print_table, seed, shown, signed_in_client, statements_label,
    summary, timed_request,
)

# ---------------------------------------------------------------- arguments

def parse_args(argv=None) -> argparse.Namespace:
    parser = bench_arguments(__doc__, DEFAULT_URL, classes_help=f"active group classes of {CLASS_SIZE} (default 100)")
    parser.add_argument("--renders", type=int, default=50, help="timed grid renders (default 50)")
    parser.add_argument("--taps", type=int, default=300, help="timed taps (default 300)")
    parser.add_argument("--past-meetings", type=int, default=PAST_MEETINGS,
                        help=f"meetings already marked in every class: the school's history (default {PAST_MEETINGS}; "
                             "students x past meetings marks)")
    args = parser.parse_args(argv)
    if args.past_meetings < 1:
        parser.error("--past-meetings must be at least 1")
    if args.classes < 1 or args.renders < 1 or args.taps < 1:
        parser.error("--classes, --renders and --taps must be at least 1")
    if args.students < CLASS_SIZE or args.students * 2 < args.classes * CLASS_SIZE:
        parser.error(f"--students must be at least {CLASS_SIZE} and at least half of classes x {CLASS_SIZE} "
                     f"(each student is in at most 2 classes): {math.ceil(args.classes * CLASS_SIZE / 2)} "
                     f"for {args.classes} classes")
    return args


def fail(message: str) -> None:
    raise BenchFailure(message)


def run_benchmark(app, seeded: dict, renders: int, taps: int) -> tuple[list[tuple], list[str], list[str]]:
    from babyowl.extensions import db
    from babyowl.models import AttendanceChange, ClassAttendance, ClassEnrollment, User

    class_id = seeded["class_id"]
    with app.app_context():
        admin_id = db.session.scalar(sa.select(User.id).where(User.role == "super_admin").limit(1))
        roster = db.session.execute(
            sa.select(ClassEnrollment.id, User.full_name).join(User, User.id == ClassEnrollment.student_id)
            .where(ClassEnrollment.class_id == class_id, ClassEnrollment.status == "active")
            .order_by(ClassEnrollment.id)).all()
        enrollment_ids = [enrollment_id for enrollment_id, _ in roster]
        db.session.remove()
    client = signed_in_client(app, seeded["instructor_id"])
    staff = signed_in_client(app, admin_id)
    counter = StatementCounter(engine_of(app))

    grid_url = f"/classes/{class_id}/attendance?meeting={BENCH_MEETING}"
    mark_url = f"/classes/{class_id}/attendance/mark"
    htmx = {"HX-Request": "true"}

    def get_grid(check_roster: bool = False) -> tuple[float, int]:
        elapsed, statements, response = timed_request(client, counter, grid_url)
        if check_roster:  # the page measured is the real grid, not a sign-in page or an empty shell
            page = response.get_data(as_text=True)
            missing = [name for _, name in roster if name not in page]
            if missing:
                fail(f"GET {grid_url} does not show {len(missing)} of the class's students, e.g. {missing[:3]}")
        return elapsed, statements

    def tap(enrollment_id, status: str, key: uuid.UUID) -> tuple[float, int]:
        form = {"enrollment_id": str(enrollment_id), "meeting_number": str(BENCH_MEETING), "meeting_date": "",
                "status": status, "key": str(key)}
        elapsed, statements, _response = timed_request(client, counter, mark_url, method="post", data=form,
                                                       headers=htmx)
        return elapsed, statements

    # Tap number i marks student i % 30 with a status that differs from that
    # student's previous tap, so every tap is a real change.
    n = len(enrollment_ids)
    expected: dict = {}

    def tap_number(i: int) -> tuple[float, int]:
        j = i % n
        status = STATUSES[(i // n + j) % len(STATUSES)]
        expected[enrollment_ids[j]] = status
        return tap(enrollment_ids[j], status, uuid.uuid4())

    # Warm-up: templates compiled, SQL statements cached, pool connections open.
    for warm in range(5):
        get_grid(check_roster=warm == 0)
    warm_taps = 5
    for i in range(warm_taps):
        tap_number(i)

    empty_grid = [get_grid() for _ in range(renders)]
    timed_taps = [tap_number(warm_taps + i) for i in range(taps)]
    full_grid = [get_grid() for _ in range(renders)]

    # The staff report page, as staff open it: the whole school (no preview until filtered), then one class.
    def get_page(url: str) -> tuple[float, int]:
        elapsed, statements, _response = timed_request(staff, counter, url)
        return elapsed, statements

    report_urls = {"staff /reports, no filter": "/reports", "staff /reports?class_id=… (count + 20-row preview)":
                   f"/reports?class_id={class_id}"}
    for url in report_urls.values():
        get_page(url)
    reports = {label: [get_page(url) for _ in range(renders)] for label, url in report_urls.items()}

    rows = []
    for label, samples in ((f"grid render, meeting {BENCH_MEETING} partly marked", empty_grid),
                           (f"grid render, meeting {BENCH_MEETING} all marked", full_grid),
                           ("tap save (one mark)", timed_taps), *reports.items()):
        rows.append((label, summary([ms for ms, _ in samples]), statements_label([q for _, q in samples])))

    checks: list[str] = []
    problems: list[str] = []

    # Re-sent tap: the same key twice must move credits once.
    target = enrollment_ids[0]
    with app.app_context():
        current = db.session.scalar(sa.select(ClassAttendance.status).where(
            ClassAttendance.enrollment_id == target, ClassAttendance.meeting_number == BENCH_MEETING))
        credits_before = db.session.scalar(sa.select(ClassEnrollment.credits_used).where(ClassEnrollment.id == target))
        db.session.remove()
    new_status = "absent" if current in USES_CREDIT else "present"
    key = uuid.uuid4()
    tap(target, new_status, key)
    with app.app_context():
        credits_once = db.session.scalar(sa.select(ClassEnrollment.credits_used).where(ClassEnrollment.id == target))
        db.session.remove()
    tap(target, new_status, key)
    expected[target] = new_status
    with app.app_context():
        credits_twice = db.session.scalar(sa.select(ClassEnrollment.credits_used).where(ClassEnrollment.id == target))
        key_rows = db.session.scalar(sa.select(sa.func.count()).where(AttendanceChange.idempotency_key == key))
        db.session.remove()
    step = credits_once - credits_before
    if abs(step) == 1 and credits_twice == credits_once and key_rows == 1:
        checks.append(f"re-sent tap ({current} -> {new_status}, same key twice): credits_used "
                      f"{credits_before} -> {credits_once} -> {credits_twice}, 1 history row: OK")
    else:
        problems.append(f"re-sent tap ({current} -> {new_status}, same key twice): credits_used "
                        f"{credits_before} -> {credits_once} -> {credits_twice}, {key_rows} history rows with the key "
                        "(expected one change of 1, then none, and 1 row)")

    with app.app_context():
        per_enrollment = dict(db.session.execute(
            sa.select(ClassAttendance.enrollment_id, sa.func.count()).where(
                ClassAttendance.class_id == class_id, ClassAttendance.meeting_number == BENCH_MEETING)
            .group_by(ClassAttendance.enrollment_id)).all())
        wrong = {e: per_enrollment.get(e, 0) for e in enrollment_ids if per_enrollment.get(e, 0) != 1}
        strangers = set(per_enrollment) - set(enrollment_ids)
        if wrong or strangers:
            problems.append(f"meeting {BENCH_MEETING}: {len(wrong)} students without exactly one record "
                            f"({list(wrong.items())[:5]}), {len(strangers)} records of other enrollments")
        else:
            checks.append(f"meeting {BENCH_MEETING}: one record for each of the {n} students: OK")

        statuses = dict(db.session.execute(sa.select(ClassAttendance.enrollment_id, ClassAttendance.status).where(
            ClassAttendance.class_id == class_id, ClassAttendance.meeting_number == BENCH_MEETING)).all())
        off = {e: (statuses.get(e), s) for e, s in expected.items() if statuses.get(e) != s}
        if off:
            problems.append(f"meeting {BENCH_MEETING}: {len(off)} records do not hold the last tap's status "
                            f"(stored, expected): {list(off.values())[:5]}")
        else:
            checks.append(f"meeting {BENCH_MEETING}: every record holds the status of its last tap: OK")

        counted = (sa.select(sa.func.count()).where(ClassAttendance.enrollment_id == ClassEnrollment.id,
                                                    ClassAttendance.status.in_(USES_CREDIT))
                   .correlate(ClassEnrollment).scalar_subquery())
        mismatches = db.session.execute(sa.select(ClassEnrollment.id, ClassEnrollment.credits_used, counted)
                                        .where(ClassEnrollment.credits_used != counted)).all()
        total = db.session.scalar(sa.select(sa.func.count()).select_from(ClassEnrollment))
        if mismatches:
            problems.append(f"credits_used differs from the present/late records on {len(mismatches)} enrollments "
                            f"(id, credits_used, records): {[tuple(map(str, m)) for m in mismatches[:5]]}")
        else:
            checks.append(f"credits_used = present/late records on all {total} enrollments: OK")
        db.session.remove()
    return rows, checks, problems


# ---------------------------------------------------------------- main

def main(argv=None) -> int:
    global PAST_MEETINGS, BENCH_MEETING
    args = parse_args(argv)
    PAST_MEETINGS, BENCH_MEETING = args.past_meetings, args.past_meetings + 1
    began = time.perf_counter()
    url = args.database_url

    print(f"Baby Owl attendance benchmark on {shown(url)}")
    failed = False
    try:
        with bench_database(url, args.keep) as app:
            from babyowl.extensions import db

            with app.app_context():
                server_version = db.session.execute(sa.text("SHOW server_version")).scalar()
                db.session.remove()
            started = time.perf_counter()
            seeded = seed(app, args.students, args.classes, PAST_MEETINGS)
            seeding_s = time.perf_counter() - started
            counts = ", ".join(f"{v:,} {k}" for k, v in seeded["counts"].items())
            print(f"  seeded in {seeding_s:.1f} s: {counts}")
            print(f"  measuring {seeded['class_name']} ({CLASS_SIZE} students) as its instructor: "
                  f"{args.renders} renders before and after the taps, {args.taps} taps on meeting {BENCH_MEETING}")

            try:
                rows, checks, problems = run_benchmark(app, seeded, args.renders, args.taps)
            except BenchFailure as exc:
                print(f"\nFAILED: {exc}", file=sys.stderr)
                print("(Do the attendance routes exist? `.venv/bin/flask --app babyowl routes | grep attendance`)",
                      file=sys.stderr)
                return 1

            print_table(rows, width=52)
            print()
            for line in checks:
                print(f"  {line}")
            for line in problems:
                print(f"  MISMATCH: {line}")
            failed = bool(problems)
            print()
            print(f"  Python {platform.python_version()} ({platform.python_implementation()}), "
                  f"PostgreSQL {server_version}, {os.cpu_count()} CPU cores, {platform.platform()}")
            print("  Times are wall-clock per request through the Flask test client (in process, no network),"
                  " with PostgreSQL on the same machine.")
    finally:
        print(f"  total run time {time.perf_counter() - began:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
