"""RQ worker for Baby Owl: email, scheduled announcements, code grading.

    REDIS_URL=redis://127.0.0.1:6379/0 python worker.py [queue ...]

The scheduler runs inside the worker, so jobs enqueued for later (and retries
with an interval) are moved onto the queue when their time comes.
"""
from __future__ import annotations

import sys

from rq import Queue, Worker

from babyowl import create_app
from babyowl.jobs import redis_connection


def main(argv: list[str]) -> None:
    app = create_app()
    if not app.config.get("REDIS_URL"):
        sys.exit("REDIS_URL is not set: without Redis, jobs run inline in the web process and no worker is needed.")
    with app.app_context():
        connection = redis_connection()
        names = argv or [app.config["RQ_QUEUE"]]
        worker = Worker([Queue(name, connection=connection) for name in names], connection=connection)
        worker.work(with_scheduler=True)


if __name__ == "__main__":
    main(sys.argv[1:])
