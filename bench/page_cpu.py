"""Benchmark: CPU milliseconds and SQL statements per request of each page in bench/load.py's mix, in-process.

Not a test: it measures and prints. Throughput on two shared cores moves with
whatever else runs there; the CPU time this process spends on one request
(time.process_time: Python, Flask, SQLAlchemy, Jinja, psycopg's client side)
moves much less, so it is the figure to compare before and after a change. The
floor app (bench/floor_app.py) is measured in the same run: the ratio
`floor CPU / page CPU` is a rough upper bound of the load benchmark's
throughput ratio (PostgreSQL's own CPU and the load generator's are not in it).

The school is bench/school.py's (3,000 students by default); every request is
signed in as bench/load.py signs its users in (a live session row and a signed
cookie) and is the same request that benchmark sends (`load.request_for`).

`--production` measures the app as gunicorn runs it in bench/load.py (and a
school runs it): rate limits counted in Redis (`--redis-url`), Prometheus
metrics, JSON logs, compressed pages (the client asks for `gzip, br`), CSRF.
Without it the app runs with the bench settings (no limiter, no Redis, text
logs; CSRF on). The page `layout` is a signed-in page that is only the base
layout (a bench route, `{% extends "base.html" %}` and nothing else): its cost
minus the floor's is what every signed-in page pays before its own work.

    .venv/bin/python bench/page_cpu.py [--requests 200] [--pages layout,dashboard,tap] [--production] [--keep] \
        [--xp-rows 300] [--redis-url URL]

Without --redis-url the jobs a request queues after its commit run inline, in the measured request (the
achievements check after an XP award: a tap or a quiz pass then costs 8-17 statements more than it does in
production). With it they go to that Redis, as in production and bench/load.py (its database is emptied
before and after: give one no one else uses).

A student after months of lessons has hundreds of XP ledger rows, which the
dashboard's streak and level read: `--xp-rows N` seeds N per student and class.
"""
from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import load  # noqa: E402
import school  # noqa: E402

PAGES = {  # name: (role, kind in load.request_for)
    "layout": ("student", "layout"),
    "dashboard": ("student", "dashboard"),
    "lesson": ("student", "lesson"),
    "quiz": ("student", "quiz"),
    "grid": ("instructor", "grid"),
    "tap": ("instructor", "tap"),
    "reports": ("staff", "reports"),
    "users": ("staff", "users"),
}
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/babyowl_bench_cpu"
LAYOUT_PATH = "/bench/layout"


def production_app(url: str, redis_url: str):
    """The app as bench/load.py's gunicorn builds it from its environment (rate limits counted, not refusing)."""
    from babyowl import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": load.SECRET, "REDIS_URL": redis_url,
        "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": redis_url,
        # The spec's 100 a minute would refuse the measured loop; the limits are counted all the same.
        "RATELIMIT_APPLICATION": load.BENCH_APPLICATION_LIMIT,
        "LOG_FORMAT": "json", "COMPRESS_REGISTER": True, "WTF_CSRF_ENABLED": True,
        "BABEL_DEFAULT_LOCALE": "en", "MAIL_BACKEND": "console", "BCRYPT_ROUNDS": 4,
    })


def add_layout_page(app) -> None:
    """A signed-in page that is the base layout and nothing else, through the app's whole request cycle."""
    from flask import render_template
    from flask_login import login_required

    template = app.jinja_env.from_string('{% extends "base.html" %}')

    @login_required
    def layout_only():
        return render_template(template)

    app.add_url_rule(LAYOUT_PATH, "bench_layout", layout_only)


def page_request(person, kind, rng):
    """(label, method, path, form) of one measured request of `kind`."""
    if kind == "layout":
        return "base layout", "GET", LAYOUT_PATH, None
    if person.role != "staff":
        return load.request_for(person, kind, rng)
    # load.request_for picks the staff page at random; here each is measured on its own.
    if kind == "reports":
        return "staff reports (one class)", "GET", f"/reports?class_id={person.class_id}", None
    return "staff user list", "GET", "/admin/users", None


def measure(client, counter, requests: int, make_request) -> tuple[list[float], list[int]]:
    cpu, statements = [], []
    for index in range(requests):
        method, path, data, headers = make_request(index)
        before_statements = counter.count if counter else 0
        started = time.process_time()
        response = school.isolated(client.open, path, method=method, data=data, headers=headers)
        cpu.append((time.process_time() - started) * 1000)
        statements.append((counter.count - before_statements) if counter else 1)
        if response.status_code >= 400:
            raise school.BenchFailure(f"{method} {path} answered {response.status_code}: "
                                      f"{response.get_data(as_text=True)[:300]!r}")
    return cpu, statements


def main(argv=None) -> int:
    parser = school.bench_arguments(__doc__, DEFAULT_URL)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests first (default 20)")
    parser.add_argument("--pages", default=",".join(PAGES), help=f"comma-separated, of {','.join(PAGES)}")
    parser.add_argument("--redis-url", default=None,
                        help="queue jobs to this Redis as production does (default: run them inline; with "
                             "--production redis://127.0.0.1:6379/7); emptied before and after")
    parser.add_argument("--xp-rows", type=int, default=0,
                        help="XP ledger rows per student and class over the last 60 days, and the badge catalog "
                             "(bench/gamification.py's seeding; default 0: none, as the other figures were taken)")
    parser.add_argument("--production", action="store_true",
                        help="the app as gunicorn runs it in bench/load.py: limits in Redis, metrics, JSON logs, "
                             "compression, CSRF")
    args = parser.parse_args(argv)
    if args.production and not args.redis_url:
        args.redis_url = "redis://127.0.0.1:6379/7"  # the limiter counts in Redis, as in production
    pages = [p for p in args.pages.split(",") if p]
    print(f"CPU per request on {school.shown(args.database_url)}"
          f"{' (production stack)' if args.production else ''}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with school.bench_database(args.database_url, keep=args.keep) as app:
        app.config["SECRET_KEY"] = load.SECRET
        app.config["WTF_CSRF_ENABLED"] = True  # as in production: the taps and quiz posts carry their token
        if args.redis_url:
            import redis

            redis.Redis.from_url(args.redis_url).flushdb()  # no queued job of an earlier run
            app.config["REDIS_URL"] = args.redis_url
        seeded = school.seed(app, args.students, args.classes)
        if args.xp_rows:
            import gamification

            print(f"  {gamification.seed_ledger(app, args.xp_rows)} XP ledger rows")
        people = load.signed_in_people(app, seeded)
        if args.production:
            app = production_app(args.database_url, args.redis_url)
            import logging

            logging.getLogger().setLevel(logging.WARNING)
        add_layout_page(app)
        counter = school.StatementCounter(school.engine_of(app))

        os.environ["DATABASE_URL"] = args.database_url
        import floor_app

        floor = floor_app.create_app()
        floor_client = floor.test_client()
        uids = [str(u) for u in seeded["student_ids"][:1]]
        floor_client.get(f"/?uid={uids[0]}")
        rows = []
        cpu, _ = measure(floor_client, None, args.warmup + args.requests, lambda i: ("GET", "/", None, {}))
        floor_ms = statistics.median(cpu[args.warmup:])
        rows.append(("floor page", floor_ms, "1", 1.0))

        for page in pages:
            role, kind = PAGES[page]
            rng = random.Random(7)
            group = people[role]
            clients = {}

            def make_request(index, group=group, kind=kind, rng=rng, clients=clients, role=role):
                person = group[index % min(len(group), 50)]
                clients.setdefault(id(person), person)
                label, method, path, form = page_request(person, kind, rng)
                headers = {"HX-Request": "true", "X-CSRFToken": person.csrf} if method == "POST" else {}
                headers["Cookie"] = f"session={person.cookie}"
                headers["User-Agent"] = load.USER_AGENT  # the browser the session was started in
                if args.production:  # as a browser (and bench/load.py's client) asks
                    headers["Accept-Encoding"] = "gzip, br"
                return method, path, form, headers

            client = app.test_client(use_cookies=False)
            cpu, statements = measure(client, counter, args.warmup + args.requests, make_request)
            cpu, statements = cpu[args.warmup:], statements[args.warmup:]
            median = statistics.median(cpu)
            rows.append((page, median, school.statements_label(statements), floor_ms / median))
        print(f"\n{'page':<14}{'CPU ms (median)':>17}{'statements':>24}{'floor/page':>12}")
        for page, ms, statements, ratio in rows:
            print(f"{page:<14}{ms:>17.2f}{statements:>24}{ratio:>12.2f}")
        print(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
              + (f"; jobs queued to {args.redis_url}" if args.redis_url else "; jobs inline"))
        if args.redis_url:
            import redis

            redis.Redis.from_url(args.redis_url).flushdb()
        with floor.app_context():
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
