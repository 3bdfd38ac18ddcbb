"""worker.py's worker, noticing a dead worker's job in seconds instead of minutes (tests only).

    python -m tests.ops.quick_worker QUEUE...

RQ counts a started job as abandoned when its worker's heartbeat is
`job_monitoring_interval + 60` seconds late; the failover test cannot wait
that long, so this worker beats every second and is declared dead 2 seconds
after its last beat. Everything else is worker.py's own worker: the same
class, queues, sweep and scheduler.
"""
from __future__ import annotations

import sys

from rq import Queue

import worker as babyowl_worker
from babyowl import create_app
from babyowl.jobs import redis_connection


class QuickToNoticeDeath(babyowl_worker.SchoolWorker):
    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        return self.job_monitoring_interval + 2


def main(names: list[str]) -> None:
    app = create_app()
    with app.app_context():
        connection = redis_connection()
        worker = babyowl_worker.build_worker([Queue(name, connection=connection) for name in names],
                                             app.config["SWEEP_INTERVAL"], worker_class=QuickToNoticeDeath)
        worker.job_monitoring_interval = 1
        worker.work(with_scheduler=True)


if __name__ == "__main__":
    main(sys.argv[1:])
