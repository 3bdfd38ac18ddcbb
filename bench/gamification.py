"""Benchmark: class leaderboards and the XP award path, in the seeded 3,000-student school.

Not a test: it measures and prints. On a fresh database (DROP + CREATE +
migrations) it seeds the school (bench/school.py), bulk-inserts an XP history
(by default 20 ledger rows per enrollment over 60 days: 60,000 rows), then
times through the Flask test client and the services:

  * the class leaderboard page (GET /leaderboard/<class>, all time and this
    week) as a student of a 30-student class, with the board read from a Redis
    sorted set and from the SQL aggregate (two apps on the same database);
  * the award path's added cost: an empty use case vs the same use case
    awarding XP (INSERT ... ON CONFLICT + cache upsert, then the Redis ZINCRBY
    after the commit), and the achievements job a worker runs afterwards;
  * that the Redis board rebuilt from the ledger equals the live one.

    .venv/bin/python bench/gamification.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/<db>_bench

The database named in --database-url is dropped and re-created; the Redis
database named in --redis-url loses its `lb:*` keys.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402

from school import (  # noqa: E402
    CLASS_SIZE, DEFAULT_URL, StatementCounter, _insert, bench_arguments, bench_database, build_app, engine_of,
    print_table, seed, signed_in_client, summary, time_requests,
)

REASONS = ("exercise_completed", "quiz_passed", "coding_passed", "attendance", "lesson_completed")


def parse_args(argv=None) -> argparse.Namespace:
    parser = bench_arguments(__doc__, DEFAULT_URL.replace("babyowl_bench", "babyowl_bench_xp"))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--rows-per-enrollment", type=int, default=20, help="XP history per student and class")
    parser.add_argument("--renders", type=int, default=50)
    parser.add_argument("--awards", type=int, default=200)
    return parser.parse_args(argv)


def seed_ledger(app, rows_per_enrollment: int) -> int:
    from babyowl.extensions import db
    from babyowl.models import ClassEnrollment, UserLevel, XPTransaction
    from babyowl.services import badges

    rng = random.Random(18)
    now = datetime.now(timezone.utc)
    with app.app_context():
        pairs = db.session.execute(sa.select(ClassEnrollment.student_id, ClassEnrollment.class_id)).all()
        rows = []
        for student_id, class_id in pairs:
            for _ in range(rows_per_enrollment):
                rows.append({"id": uuid.uuid4(), "user_id": student_id, "class_id": class_id,
                             "reason": rng.choice(REASONS), "reference_id": uuid.uuid4(),
                             "amount": rng.choice((5, 10, 10, 20, 25, 30)),
                             "created_at": now - timedelta(minutes=rng.randrange(60 * 24 * 60))})
        _insert(db.session, XPTransaction, rows)
        totals = db.session.execute(sa.select(XPTransaction.user_id, sa.func.sum(XPTransaction.amount))
                                    .group_by(XPTransaction.user_id)).all()
        db.session.execute(sa.insert(UserLevel), [{"id": uuid.uuid4(), "user_id": u, "total_xp": int(t)}
                                                  for u, t in totals])
        db.session.commit()
        badges.seed_catalog()
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        return len(rows)


def time_pages(app, student_id, url: str, renders: int, must_show: str) -> tuple[dict, int]:
    client = signed_in_client(app, student_id)
    result, statements = time_requests(client, StatementCounter(engine_of(app)), url, renders, warmup=5,
                                       must_show=must_show)
    return result, max(statements)


def time_awards(app, student_id, class_id, awards: int) -> dict:
    from babyowl.extensions import db
    from babyowl.services import xp
    from babyowl.transactions import use_case

    counter = StatementCounter(engine_of(app))
    xp._check_achievements_after_commit = lambda user_id: None  # measured on its own below

    @use_case
    def nothing():  # the baseline writes too: a commit that flushes WAL costs the same with or without XP
        db.session.execute(sa.text("UPDATE users SET updated_at = now() WHERE id = :id"), {"id": student_id})

    @use_case
    def award():
        db.session.execute(sa.text("UPDATE users SET updated_at = now() WHERE id = :id"), {"id": student_id})
        xp.award(student_id, "exercise_completed", uuid.uuid4(), 10, class_id=class_id)

    @use_case
    def award_again(key):
        db.session.execute(sa.text("UPDATE users SET updated_at = now() WHERE id = :id"), {"id": student_id})
        xp.award(student_id, "exercise_completed", key, 10, class_id=class_id)

    results = {}
    known = uuid.uuid4()
    for label, call in (("use case writing one row (baseline)", nothing), ("use case + award (new row)", award),
                        ("use case + award (same key: no-op)", lambda: award_again(known))):
        samples, statements = [], []
        with app.app_context():
            for index in range(awards + 10):
                before = counter.count
                started = time.perf_counter()
                call()
                elapsed = (time.perf_counter() - started) * 1000
                if index >= 10:
                    samples.append(elapsed)
                    statements.append(counter.count - before)
            db.session.remove()
        results[label] = (summary(samples), max(statements))
    return results


def time_achievements(app, student_ids, runs: int) -> tuple[dict, int]:
    from babyowl.extensions import db
    from babyowl.services import badges

    counter = StatementCounter(engine_of(app))
    samples, statements = [], []
    with app.app_context():
        for student_id in student_ids[:runs]:
            before = counter.count
            started = time.perf_counter()
            badges.check_achievements(student_id)
            samples.append((time.perf_counter() - started) * 1000)
            statements.append(counter.count - before)
        db.session.remove()
    return summary(samples), max(statements)


def main(argv=None) -> None:
    args = parse_args(argv)
    from redis import Redis

    redis = Redis.from_url(args.redis_url)
    for key in redis.scan_iter(match="lb:*"):
        redis.delete(key)
    with bench_database(args.database_url, args.keep) as sql_app:
        measure(sql_app, redis, args)
    for key in redis.scan_iter(match="lb:*"):
        redis.delete(key)


def measure(sql_app, redis, args) -> None:
    started = time.perf_counter()
    seeded = seed(sql_app, args.students, args.classes)
    rows = seed_ledger(sql_app, args.rows_per_enrollment)
    print(f"seeded {args.students} students, {args.classes} classes of {CLASS_SIZE}, {rows} ledger rows "
          f"in {time.perf_counter() - started:.1f} s")

    redis_app = build_app(args.database_url)
    redis_app.config["LEADERBOARD_REDIS_URL"] = args.redis_url
    class_id = seeded["class_id"]
    from babyowl.extensions import db
    from babyowl.models import ClassEnrollment, ClassLeaderboard, User

    with sql_app.app_context():
        db.session.add(ClassLeaderboard(class_id=class_id, mode="full", neighbours=2))
        db.session.commit()
        student_id, name = db.session.execute(
            sa.select(User.id, User.full_name).join(ClassEnrollment, ClassEnrollment.student_id == User.id)
            .where(ClassEnrollment.class_id == class_id).order_by(User.id).limit(1)).one()
        others = db.session.scalars(sa.select(ClassEnrollment.student_id).where(
            ClassEnrollment.class_id != class_id).limit(50)).all()

    table = []
    for period in ("all", "week"):
        url = f"/leaderboard/{class_id}" + ("?period=week" if period == "week" else "")
        for label, app in (("SQL aggregate", sql_app), ("Redis sorted set", redis_app)):
            table.append((f"leaderboard page ({period}), {label}",
                          *time_pages(app, student_id, url, args.renders, name)))
    table.append(("for comparison: GET /notifications (a plain page)",
                  *time_pages(sql_app, student_id, "/notifications", args.renders, name)))
    for label, app in (("no Redis", sql_app), ("+ Redis ZINCRBY after commit", redis_app)):
        for what, (result, statements) in time_awards(app, student_id, class_id, args.awards).items():
            table.append((f"{what}, {label}", result, statements))
        if app is sql_app:  # what an operator does after Redis missed awards: rebuild, then it stays live
            with redis_app.app_context():
                from babyowl.services import leaderboards

                leaderboards.rebuild(class_id)
    for what in ("first check: earns badges, notifies", "next check: nothing new"):
        table.append((f"achievements job, {what}", *time_achievements(sql_app, others, min(50, len(others)))))
    print_table(table, width=66)

    with redis_app.app_context():
        from babyowl.services import leaderboards

        live = {k: v for k, v in redis.zrange(f"lb:{class_id}:all", 0, -1, withscores=True)}
        leaderboards.rebuild(class_id)
        rebuilt = {k: v for k, v in redis.zrange(f"lb:{class_id}:all", 0, -1, withscores=True)}
        sql = {str(k).encode(): float(v) for k, v in leaderboards.sql_scores(class_id).items()}
        db.engine.dispose()
    print(f"\nrebuilt board == live board: {rebuilt == live}; == SQL aggregate: {rebuilt == sql}")


if __name__ == "__main__":
    main()
