"""Benchmark: the JSON API on the seeded 3,000-student school.

Not a test: it measures and prints. It builds a fresh database (DROP + CREATE + migrations), seeds the school of
bench/school.py (3,000 students, 100 classes of 30, meetings 1..5 marked: 15,000 marks), issues bearer tokens,
and times through the Flask test client (in process, no network):

  * GET /api/v1/classes/<id>/attendance?limit=20 (first page, and a page reached by its cursor) as the instructor,
  * GET /api/v1/classes?limit=20 as staff (the list of the school's 100 classes, offset kept in the cursor),
  * GET /api/v1/catalog/courses?limit=20 (public),

printing median/p95 ms and SQL statements per request.

    .venv/bin/python bench/api.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/babyowl_h_api_bench

The database named in --database-url is dropped and re-created: never point it at a database you want to keep.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402

from school import (  # noqa: E402
    DEFAULT_URL, StatementCounter, build_app, drop_database, isolated, recreate_database, seed, summary,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL.replace("babyowl_bench", "babyowl_bench_api"))
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint (default 200)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    print(f"Baby Owl API benchmark on {sa.engine.make_url(args.database_url).render_as_string(hide_password=True)}")
    try:
        recreate_database(args.database_url)
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL is unreachable: {exc}", file=sys.stderr)
        return 3
    app = build_app(args.database_url)
    try:
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            logging.getLogger().setLevel(logging.WARNING)
        started = time.perf_counter()
        seeded = seed(app, args.students, args.classes)
        print(f"  seeded in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{v:,} {k}" for k, v in seeded["counts"].items()))
        return _measure(app, seeded, args.requests)
    finally:
        with app.app_context():
            from babyowl.extensions import db

            db.engine.dispose()
        if not args.keep:
            drop_database(args.database_url)


def _measure(app, seeded: dict, requests: int) -> int:
    from babyowl.blueprints.api.core import issue_tokens
    from babyowl.extensions import db
    from babyowl.models import User

    with app.app_context():
        with app.test_request_context():
            instructor = {"Authorization": "Bearer " + issue_tokens(
                db.session.get(User, seeded["instructor_id"]))["access_token"]}
            staff = {"Authorization": "Bearer " + issue_tokens(
                db.session.get(User, seeded["admin_id"]))["access_token"]}
        engine = db.engine
        db.session.remove()
    counter = StatementCounter(engine)
    client = app.test_client()

    def timed(url: str, headers: dict) -> tuple[float, int, dict]:
        before = counter.count
        started = time.perf_counter()
        response = isolated(client.get, url, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
        return elapsed, counter.count - before, response.get_json()

    class_id = seeded["class_id"]
    attendance_url = f"/api/v1/classes/{class_id}/attendance?limit=20"
    first = timed(attendance_url, instructor)[2]
    if len(first["data"]) != 20 or not first["meta"]["has_more"]:
        raise SystemExit(f"the attendance list is not a full page: {first['meta']}")
    page_three = timed(f"{attendance_url}&cursor={first['meta']['next_cursor']}", instructor)[2]
    later_url = f"{attendance_url}&cursor={page_three['meta']['next_cursor']}"
    endpoints = {
        "GET /classes/<id>/attendance?limit=20 (page 1)": (attendance_url, instructor),
        "GET /classes/<id>/attendance?limit=20 (page 3, cursor)": (later_url, instructor),
        "GET /classes?limit=20 (staff, 100 classes)": ("/api/v1/classes?limit=20", staff),
        "GET /catalog/courses?limit=20 (public)": ("/api/v1/catalog/courses?limit=20", {}),
    }
    print(f"\n{'':<56}{'n':>5}{'p50':>10}{'p95':>10}   SQL statements/request")
    for label, (url, headers) in endpoints.items():
        for _ in range(5):  # warm-up
            timed(url, headers)
        samples = [timed(url, headers) for _ in range(requests)]
        s = summary([ms for ms, _, _ in samples])
        statements = sorted({q for _, q, _ in samples})
        print(f"{label:<56}{s['n']:>5}{s['median']:>8.1f}ms{s['p95']:>8.1f}ms   "
              f"{statements[0] if len(statements) == 1 else statements}")
    print("\n  p50 = median, p95 nearest-rank; in process (Flask test client), PostgreSQL on the same machine.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
