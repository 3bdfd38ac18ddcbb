"""RQ worker for Baby Owl: email, scheduled announcements, code grading.

    REDIS_URL=redis://127.0.0.1:6379/0 python worker.py [queue ...]

Without queue names it listens to the default queue (email, announcements)
and then `grading` (RQ_GRADING_QUEUE); run `python worker.py grading` to add
workers for grading alone.

The scheduler runs inside the worker, so jobs enqueued for later (and retries
with an interval) are moved onto the queue when their time comes. Every
SWEEP_INTERVAL seconds the worker also queues the sweep (announcements due
but unsent, emails whose job was lost): our Redis keeps nothing on disk, and
the worker's own clock survives a Redis restart where a scheduled job does not.
"""
from __future__ import annotations

import sys

from rq import Queue, Worker

from babyowl import create_app
from babyowl.jobs import redis_connection
from babyowl.jobs.announcements import queue_sweep


class QueuesTheSweep:
    """Mixed into an RQ worker: its periodic maintenance also queues the sweep."""

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        try:
            queue_sweep(self.queues[0])
        except Exception:  # Redis away for a moment: the next round queues it
            self.log.warning("Could not queue the sweep", exc_info=True)


class SchoolWorker(QueuesTheSweep, Worker):
    pass


def build_worker(queues: list[Queue], sweep_interval: int, worker_class: type[Worker] = SchoolWorker) -> Worker:
    # Maintenance (and so the sweep) runs between waits for a job, so a wait
    # must not be longer than the interval: RQ waits worker_ttl - 15 seconds.
    return worker_class(queues, connection=queues[0].connection, maintenance_interval=sweep_interval,
                        worker_ttl=sweep_interval + 15)


def main(argv: list[str]) -> None:
    app = create_app()
    if not app.config.get("REDIS_URL"):
        sys.exit("REDIS_URL is not set: without Redis, jobs run inline in the web process and no worker is needed.")
    with app.app_context():
        connection = redis_connection(patient=True)
        # By default both queues, email first: a class's burst of submissions never delays an email.
        names = argv or [app.config["RQ_QUEUE"], app.config["RQ_GRADING_QUEUE"]]
        worker = build_worker([Queue(name, connection=connection) for name in names], app.config["SWEEP_INTERVAL"])
        worker.work(with_scheduler=True)


if __name__ == "__main__":
    main(sys.argv[1:])
