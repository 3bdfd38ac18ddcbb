"""Benchmark: the JSON API on the seeded 3,000-student school.

Not a test: it measures and prints. It builds a fresh database (DROP + CREATE + migrations), seeds the school of
bench/school.py (3,000 students, 100 classes of 30, meetings 1..5 marked: 15,000 marks), issues bearer tokens,
and times through the Flask test client (in process, no network):

  * GET /api/v1/classes/<id>/attendance?limit=20 (first page, and a page reached by its cursor) as the instructor,
  * GET /api/v1/classes?limit=20 as staff (the list of the school's 100 classes by keyset; page 1 and page 3),
  * GET /api/v1/catalog/courses?limit=20 (public),

printing median/p95 ms and SQL statements per request.

    .venv/bin/python bench/api.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/babyowl_h_api_bench

The database named in --database-url is dropped and re-created: never point it at a database you want to keep.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from school import (  # noqa: E402
    DEFAULT_URL, BenchFailure, StatementCounter, bench_arguments, bench_database, engine_of, print_table, seed, shown,
    time_requests, timed_request,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = bench_arguments(__doc__, DEFAULT_URL.replace("babyowl_bench", "babyowl_bench_api"))
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint (default 200)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    print(f"Baby Owl API benchmark on {shown(args.database_url)}")
    with bench_database(args.database_url, args.keep) as app:
        started = time.perf_counter()
        seeded = seed(app, args.students, args.classes)
        print(f"  seeded in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{v:,} {k}" for k, v in seeded["counts"].items()))
        try:
            return _measure(app, seeded, args.requests)
        except BenchFailure as failure:
            print(f"FAILED: {failure}", file=sys.stderr)
            return 1


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
        db.session.remove()
    counter = StatementCounter(engine_of(app))
    client = app.test_client()

    def page(url: str, headers: dict) -> dict:
        return timed_request(client, counter, url, headers=headers)[2].get_json()

    class_id = seeded["class_id"]
    attendance_url = f"/api/v1/classes/{class_id}/attendance?limit=20"
    first = page(attendance_url, instructor)
    if len(first["data"]) != 20 or not first["meta"]["has_more"]:
        raise BenchFailure(f"the attendance list is not a full page: {first['meta']}")
    page_three = page(f"{attendance_url}&cursor={first['meta']['next_cursor']}", instructor)
    later_url = f"{attendance_url}&cursor={page_three['meta']['next_cursor']}"
    classes_url = "/api/v1/classes?limit=20"
    classes_two = page(f"{classes_url}&cursor={page(classes_url, staff)['meta']['next_cursor']}", staff)
    classes_later = f"{classes_url}&cursor={classes_two['meta']['next_cursor']}"
    endpoints = {
        "GET /classes/<id>/attendance?limit=20 (page 1)": (attendance_url, instructor),
        "GET /classes/<id>/attendance?limit=20 (page 3, cursor)": (later_url, instructor),
        "GET /classes?limit=20 (staff, 100 classes)": (classes_url, staff),
        "GET /classes?limit=20 (staff, page 3, cursor)": (classes_later, staff),
        "GET /catalog/courses?limit=20 (public)": ("/api/v1/catalog/courses?limit=20", {}),
    }
    print_table([(label, *time_requests(client, counter, url, requests, warmup=5, headers=headers))
                 for label, (url, headers) in endpoints.items()], width=56)
    print("\n  median = p50, p95 nearest-rank; in process (Flask test client), PostgreSQL on the same machine.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
