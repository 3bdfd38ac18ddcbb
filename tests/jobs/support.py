"""What the job tests share: a real SMTP server (aiosmtpd) and a worker run in burst mode."""
from __future__ import annotations

import email
import socket
import time
from email import policy

from redis import Redis
from rq import Queue, SimpleWorker

from worker import QueuesTheSweep, build_worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    def __init__(self):
        from aiosmtpd.controller import Controller

        self.received: list[email.message.EmailMessage] = []
        server = self

        class Recorder:
            async def handle_DATA(self, smtp, session, envelope):
                server.received.append(email.message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Recorder(), hostname="127.0.0.1", port=self.port)

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.received if m["To"] == address]

    def wait_for(self, count: int, timeout: float = 20) -> None:
        """Poll (bounded) until `count` messages have arrived: the worker is another process."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)


class SweepingSimpleWorker(QueuesTheSweep, SimpleWorker):
    """worker.py's worker, jobs run in this process (fast, no fork)."""


def run_worker(app, *, sweep: bool = False) -> None:
    """Run every job queued (and every scheduled job due) until the queue is empty."""
    with app.app_context():
        queue = Queue(app.config["RQ_QUEUE"], connection=Redis.from_url(app.config["REDIS_URL"]))
        worker = (build_worker([queue], 60, worker_class=SweepingSimpleWorker) if sweep
                  else SimpleWorker([queue], connection=queue.connection))
        worker.work(burst=True, with_scheduler=True)
