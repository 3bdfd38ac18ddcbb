"""Benchmark: grading coding submissions, cold start vs memory snapshot vs pre-started sandboxes.

Not a test: it measures and prints. For a 10-test exercise of short tests
(input → print), each start-up mode is measured twice:

  * the sandbox alone (`run_tests`): seconds per submission, and the CPU
    seconds its sandboxes report (Node's own count, start-up included; bwrap's
    few milliseconds are left out), from which gradings per minute per core
    follow;
  * end to end with one real RQ worker (`worker.py grading`) on PostgreSQL and
    Redis: seconds from submission (commit) to stored score, median and p95 of
    sequential submissions, then a burst (by default 30 submissions spread over
    10 s): the time until the last one has its score.

Modes: `cold` (no snapshot, each sandbox starts when its test's turn comes),
`snapshot` (the setup's memory snapshot, same), `pool` (the snapshot plus
GRADER_PRESTART sandboxes loading ahead of the running test), `cpython` (GRADER_BACKEND=cpython: native CPython
in the same sandbox, GRADER_PRESTART ahead; its CPU count is the runner's and the program's processes'), `auto`
(GRADER_BACKEND=auto, the default: CPython, with Pyodide re-judging any test whose verdict could differ from the
browser's; the benchmark's solution passes cleanly, so this is the common case, and `auto-fallback` grades a
program that uses `itertools.batched`, which all goes to Pyodide: the worst case).

    cd /work/main && .venv/bin/python bench/grader.py [--help]

The database named in --database-url is dropped and re-created, and the Redis
database in --redis-url is flushed: never point them at data you want to keep.
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
from collections import Counter
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402

from school import build_app, drop_database, recreate_database  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/babyowl_bench_grader"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
SOLUTION = "n = int(input())\nprint(n * n)\n"
# The same answers, in a program naming something newer than the server's Python: auto hands it all to Pyodide.
FALLBACK_SOLUTION = "from itertools import batched\nn = int(input())\nprint(n * n)\n"
MODES = ("cold", "snapshot", "pool", "cpython", "auto", "auto-fallback")
BACKENDS = {"cpython": "cpython", "auto": "auto", "auto-fallback": "auto"}


def solution(mode: str) -> str:
    return FALLBACK_SOLUTION if mode == "auto-fallback" else SOLUTION


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--tests", type=int, default=10, help="tests in the exercise (default 10)")
    parser.add_argument("--samples", type=int, default=5, help="sequential submissions per mode (default 5)")
    parser.add_argument("--burst", type=int, default=30, help="submissions in the burst (default 30; 0: none)")
    parser.add_argument("--burst-window", type=float, default=10.0, help="seconds the burst is spread over")
    parser.add_argument("--burst-modes", default="pool,cpython,auto",
                        help="modes that also get the burst (default pool,cpython,auto)")
    parser.add_argument("--modes", default=",".join(MODES), help="modes to measure (default all)")
    parser.add_argument("--prestart", type=int, default=2, help="sandboxes loading ahead in the pool mode")
    parser.add_argument("--no-worker", action="store_true", help="measure the sandbox alone")
    return parser.parse_args(argv)


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered) + 0.5) - 1))]
    return f"median {statistics.median(ordered):6.2f} s   p95 {p95:6.2f} s   min {ordered[0]:6.2f}   " \
           f"max {ordered[-1]:6.2f}   (n={len(ordered)})"


def mode_config(mode: str, prestart: int) -> dict:
    from babyowl.grading.snapshot import DEFAULT_DIR

    return {"GRADER_SNAPSHOT_DIR": "" if mode == "cold" else str(DEFAULT_DIR),
            "GRADER_PRESTART": prestart if mode in ("pool", "cpython", "auto", "auto-fallback") else 0,
            "GRADER_BACKEND": BACKENDS.get(mode, "pyodide")}


def bench_sandbox(app, mode: str, tests: int, samples: int, prestart: int) -> tuple[list[float], float]:
    from babyowl.grading.sandbox import TestInput, run_tests
    from babyowl.services import grading

    app.config.update(mode_config(mode, prestart))
    with app.app_context():
        settings = grading.sandbox_settings()
    if mode in ("snapshot", "pool", "auto", "auto-fallback") and settings.snapshot is None:
        raise SystemExit("No usable grader snapshot: run `python -m babyowl.grading.snapshot build` (the setup does).")
    inputs = [TestInput(stdin=f"{i}\n") for i in range(tests)]
    seconds, cpu, deciders = [], 0.0, Counter()
    for _ in range(samples):
        started = time.perf_counter()
        runs = run_tests(settings, solution(mode), inputs, time_limit=10)
        seconds.append(time.perf_counter() - started)
        cpu += sum(run.cpu_seconds for run in runs)
        deciders.update(run.backend for run in runs)
        wrong = [run for i, run in enumerate(runs) if run.status != "ok" or run.stdout != f"{i * i}\n"]
        if wrong:
            raise SystemExit(f"{mode}: a test did not pass: {wrong[0]}")
    return seconds, cpu / samples, deciders


def seed(app, tests: int) -> tuple[list, object]:
    from babyowl.extensions import db
    from babyowl.models import Exercise
    from tests.factories import make_open_lesson, make_user

    with app.app_context():
        # One student: their submissions are numbered in order, which a burst from one class also does.
        students = [make_user("student")]
        lesson = make_open_lesson(students[0])
        cases = [{"id": f"t{i}", "name": f"Test {i}", "stdin": f"{i}\n", "input": "", "expectedOutput": str(i * i),
                  "isHidden": i >= tests // 2, "points": 10} for i in range(tests)]
        exercise = Exercise(lesson=lesson, title="Kuadrat", type="coding", order_index=1, content={
            "mode": "challenge", "language": "python", "instructions": "", "starterCode": "",
            "solutionCode": SOLUTION, "testCases": cases, "requiredPackages": [], "hints": [], "timeLimit": 10,
            "maxPoints": 10 * tests, "outputType": "console", "completionCriteria": "all_tests_pass"})
        db.session.add(exercise)
        db.session.commit()
        return [s.id for s in students], exercise.id


def start_worker(url: str, redis_url: str, config: dict) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=url, REDIS_URL=redis_url, SECRET_KEY="bench",
               GRADER_SNAPSHOT_DIR=config["GRADER_SNAPSHOT_DIR"], GRADER_PRESTART=str(config["GRADER_PRESTART"]),
               GRADER_BACKEND=config["GRADER_BACKEND"],
               MAIL_BACKEND="console")
    return subprocess.Popen([sys.executable, str(ROOT / "worker.py"), "grading"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_scored(app, ids: list, timeout: float) -> dict:
    """{submission id: seconds from its commit to its stored score}, polling the database."""
    from babyowl.extensions import db
    from babyowl.models import CodingSubmission

    done, deadline = {}, time.monotonic() + timeout
    while len(done) < len(ids) and time.monotonic() < deadline:
        with app.app_context():
            rows = db.session.execute(sa.select(CodingSubmission.id, CodingSubmission.passed).where(
                CodingSubmission.id.in_([i for i in ids if i not in done]),
                CodingSubmission.test_results.is_not(None))).all()
            db.session.remove()
        now = time.perf_counter()
        for submission_id, passed in rows:
            if not passed:
                raise SystemExit(f"submission {submission_id} did not pass: the benchmark's solution is wrong")
            done[submission_id] = now
        time.sleep(0.05)
    return done


def bench_worker(app, url: str, redis_url: str, mode: str, students: list, exercise_id, samples: int,
                 burst: int, window: float, prestart: int) -> tuple[list[float], float | None]:
    from babyowl.extensions import db
    from babyowl.models import Exercise, User
    from babyowl.services import grading

    config = mode_config(mode, prestart)
    app.config.update(config, REDIS_URL=redis_url)
    worker = start_worker(url, redis_url, config)
    try:
        def submit(n: int):
            with app.app_context():
                student = db.session.get(User, students[n % len(students)])
                submission = grading.submit(student, db.session.get(Exercise, exercise_id), solution(mode))
                submitted = (submission.id, time.perf_counter())
                db.session.remove()
                return submitted

        latencies = []
        warm_up = submit(0)
        wait_scored(app, [warm_up[0]], 600)  # the worker's own start-up is not a submission's
        for n in range(samples):
            submission_id, at = submit(n)
            done = wait_scored(app, [submission_id], 600)
            latencies.append(done[submission_id] - at)
        burst_seconds = None
        if burst:
            started, ids = time.perf_counter(), []
            for n in range(burst):
                target = started + window * n / max(1, burst - 1)
                time.sleep(max(0.0, target - time.perf_counter()))
                ids.append(submit(n)[0])
            done = wait_scored(app, ids, 3600)
            burst_seconds = max(done.values()) - started if len(done) == len(ids) else float("inf")
        return latencies, burst_seconds
    finally:
        worker.terminate()
        worker.wait()


def main(argv=None) -> int:
    args = parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    burst_modes = set(args.burst_modes.split(","))
    logging.disable(logging.WARNING)
    print(f"Baby Owl grader benchmark: {args.tests}-test exercise, short tests; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at the start; {platform.python_version()}, "
          f"{subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}")
    recreate_database(args.database_url)
    app = build_app(args.database_url)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    logging.disable(logging.WARNING)
    try:
        print("\nThe sandbox alone (run_tests), per submission:")
        for mode in modes:
            seconds, cpu, deciders = bench_sandbox(app, mode, args.tests, args.samples, args.prestart)
            decided = ", ".join(f"{backend} {count}" for backend, count in sorted(deciders.items()))
            print(f"  {mode:13} {summary(seconds)}   CPU {cpu:5.2f} s → {60 / cpu:6.1f} gradings/min/core "
                  f"({1 / cpu:4.2f}/s)   tests decided by: {decided}")
        if args.no_worker:
            return 0
        from redis import Redis

        Redis.from_url(args.redis_url).flushdb()
        students, exercise_id = seed(app, args.tests)
        print("\nEnd to end with one worker (submission committed → score stored):")
        for mode in modes:
            burst = args.burst if mode in burst_modes else 0
            latencies, burst_seconds = bench_worker(app, args.database_url, args.redis_url, mode, students,
                                                    exercise_id, args.samples, burst, args.burst_window,
                                                    args.prestart)
            line = f"  {mode:13} {summary(latencies)}"
            if burst_seconds is not None:
                line += f"   burst of {burst} in {args.burst_window:.0f} s: last scored after {burst_seconds:.1f} s"
            print(line)
    finally:
        drop_database(args.database_url)
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
