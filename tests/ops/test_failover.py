"""Scale-out that is real (issue 22, point 3): deploy/ run as deployed, then a node and a worker killed.

1. Debian's nginx with deploy/nginx/babyowl.conf (only addresses, ports, paths and
   the certificate swapped) in front of two gunicorn nodes started with
   deploy/gunicorn.conf.py. Instructors' tablets tap attendance through nginx
   from several threads; one node is killed (SIGKILL, its whole process group)
   in the middle. nginx sends the taps cut on the dead node on to the other
   one, so every tap is answered 200 and is in the database exactly once; a
   tap resent with its key (a tablet that missed the answer) changes nothing;
   the credits reconcile.
2. Two RQ workers (worker.py's worker) on the same queue; the one sending a
   notification email is killed mid-send. RQ notices the dead worker's job
   (abandoned: its heartbeat stopped), puts it back (it has a retry left) and
   the other worker sends the email: one email arrives, the notification is
   `sent` once.
"""
from __future__ import annotations

import asyncio
import http.client
import os
import re
import socket
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from babyowl.extensions import db as _db
from babyowl.models import AttendanceChange, ClassAttendance, ClassEnrollment, Notification
from tests.factories import PASSWORD, make_class, make_enrollment, make_user
from tests.ops.conftest import PROJECT, children_of, deadline_loop, free_port, kill_group, wait_for_port

pytestmark = pytest.mark.scaleout

NGINX = "/usr/sbin/nginx"
STUDENTS_PER_CLASS, MEETINGS, CLASSES, THREADS = 8, 5, 2, 4


# ---------------------------------------------------------------- nginx from deploy/


def _certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def _swap(text: str, old: str, new: str) -> str:
    # Each swap must find its text: if deploy/ changes shape, this test says so instead of testing something else.
    assert old in text, f"deploy/nginx/babyowl.conf no longer contains {old!r}"
    return text.replace(old, new)


def nginx_config(directory: Path, http_port: int, https_port: int, nodes: list[int]) -> Path:
    """deploy/nginx/babyowl.conf with the test's ports, certificate, paths and app nodes, plus a main file."""
    cert, key = _certificate(directory)
    site = (PROJECT / "deploy/nginx/babyowl.conf").read_text()
    site = _swap(site, "server 10.0.0.11:8000", f"server 127.0.0.1:{nodes[0]}")
    site = _swap(site, "server 10.0.0.12:8000", f"server 127.0.0.1:{nodes[1]}")
    site = _swap(site, "    listen 80;\n    listen [::]:80;\n", f"    listen 127.0.0.1:{http_port};\n")
    site = _swap(site, "    listen 443 ssl http2;\n    listen [::]:443 ssl http2;\n",
                 f"    listen 127.0.0.1:{https_port} ssl http2;\n")
    site = _swap(site, "/etc/letsencrypt/live/lms.school.example/fullchain.pem", str(cert))
    site = _swap(site, "/etc/letsencrypt/live/lms.school.example/privkey.pem", str(key))
    site = _swap(site, "/srv/babyowl/app/babyowl", str(PROJECT / "babyowl"))
    site = _swap(site, "/var/log/nginx/babyowl.access.log", str(directory / "access.log"))
    site = _swap(site, "/var/log/nginx/babyowl.error.log warn", str(directory / "error.log") + " info")
    (directory / "babyowl.conf").write_text(site)
    main = directory / "nginx.conf"
    main.write_text(f"""
load_module /usr/lib/nginx/modules/ngx_http_brotli_filter_module.so;
load_module /usr/lib/nginx/modules/ngx_http_brotli_static_module.so;
# The test runs as whoever runs the suite; its files are readable by that user only.
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/main-error.log info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log off;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/babyowl.conf;
}}
""")
    done = subprocess.run([NGINX, "-t", "-p", str(directory), "-c", str(main)], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    return main


def start_node(processes, name: str, port: int, env: dict):
    node_env = {**env, "WEB_BIND": f"127.0.0.1:{port}", "WEB_WORKERS": "1", "WEB_THREADS": "4"}
    return processes.start(name, [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                                  "babyowl:create_app()"], node_env)


def app_env(database_url: str, redis_url: str, **extra) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DB_", "MAIL_", "STORAGE_"))}
    env.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "scale-out-test",
                "BABYOWL_ENV": "production", "PROXY_HOPS": "1", "RATELIMIT_ENABLED": "0",
                "DB_STATEMENT_TIMEOUT_MS": "30000", "DB_POOL_SIZE": "4", "DB_MAX_OVERFLOW": "0",
                "MAIL_BACKEND": "console", "DEFAULT_LOCALE": "en", **extra})
    return env


# ---------------------------------------------------------------- the tablet


class Tablet:
    """An instructor's tablet: signed in through nginx, tapping with a fresh key per tap."""

    def __init__(self, base: str, cert: Path, email: str):
        self.base, self.session = base, requests.Session()
        # The session's own certificate: not a CA bundle the environment may name.
        self.session.trust_env = False
        self.session.verify = str(cert)
        page = self.session.get(f"{base}/login", timeout=10)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"',
                          page.text)
        assert token, page.text[:500]
        answer = self.session.post(f"{base}/login", data={"csrf_token": token.group(1) or token.group(2),
                                                          "email": email, "password": PASSWORD},
                                   headers={"Referer": f"{base}/login"}, timeout=10, allow_redirects=False)
        assert answer.status_code in (302, 303), answer.text[:500]

    def open_sheet(self, class_id) -> str:
        page = self.session.get(f"{self.base}/classes/{class_id}/attendance", timeout=10)
        assert page.status_code == 200, page.text[:300]
        return re.search(r'"X-CSRFToken": "([^"]+)"', page.text).group(1)

    def tap(self, class_id, token: str, tap: dict) -> int | str:
        """The status code, or the name of the network error (what the tablet's queue sees)."""
        try:
            answer = self.session.post(
                f"{self.base}/classes/{class_id}/attendance/mark",
                data={"enrollment_id": tap["enrollment_id"], "meeting_number": tap["meeting"], "status": "present",
                      "key": tap["key"]},
                headers={"X-CSRFToken": token, "HX-Request": "true",
                         "Referer": f"{self.base}/classes/{class_id}/attendance"}, timeout=20)
            return answer.status_code
        except requests.RequestException as error:
            return type(error).__name__


def test_nginx_fails_over_to_the_other_node_and_no_tap_is_lost_or_doubled(processes, db, database_url, redis_url,
                                                                          redis_db, tmp_path):
    from babyowl.services.credits import reconciliation

    instructor = make_user("instructor")
    classes = [make_class(instructor=instructor, total_meetings=MEETINGS, max_capacity=STUDENTS_PER_CLASS)
               for _ in range(CLASSES)]
    taps = []
    for school_class in classes:
        for _ in range(STUDENTS_PER_CLASS):
            enrollment = make_enrollment(school_class)
            taps += [{"class_id": school_class.id, "enrollment_id": str(enrollment.id), "meeting": meeting,
                      "key": str(uuid.uuid4())} for meeting in range(1, MEETINGS + 1)]
    instructor_email = instructor.email
    _db.session.commit()

    nodes = [free_port(), free_port()]
    http_port, https_port = free_port(), free_port()
    env = app_env(database_url, redis_url)
    node_a = start_node(processes, "node-a", nodes[0], env)
    node_b = start_node(processes, "node-b", nodes[1], env)
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    main = nginx_config(nginx_dir, http_port, https_port, nodes)
    nginx = processes.start("nginx", [NGINX, "-p", str(nginx_dir), "-c", str(main), "-g", "daemon off;"], env)
    for port, process in ((nodes[0], node_a), (nodes[1], node_b), (https_port, nginx)):
        wait_for_port(port, process)
    base, cert = f"https://127.0.0.1:{https_port}", nginx_dir / "cert.pem"

    # What nginx adds around the app: HTTPS only, HTTP/2, compression, static files.
    redirect = requests.get(f"http://127.0.0.1:{http_port}/login?next=/", allow_redirects=False, timeout=10)
    assert redirect.status_code == 301 and redirect.headers["Location"] == "https://127.0.0.1/login?next=/"
    context = ssl.create_default_context(cafile=str(cert))
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", https_port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.selected_alpn_protocol() == "h2"
    css = requests.get(f"{base}/static/css/app.css", headers={"Accept-Encoding": "br"}, verify=str(cert), timeout=10)
    assert css.status_code == 200 and css.headers["Content-Encoding"] == "br"
    assert css.headers["Cache-Control"] == "no-cache" and "Set-Cookie" not in css.headers
    # A versioned URL is kept a year; the runner's Pyodide files are readable cross-origin, .mjs is JavaScript.
    versioned = requests.get(f"{base}/static/css/app.css?v=3f9a1c2e", verify=str(cert), timeout=10)
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    module = requests.get(f"{base}/static/vendor/pyodide/pyodide.mjs", verify=str(cert), timeout=10)
    assert module.status_code == 200 and module.headers["Content-Type"] == "application/javascript"
    assert module.headers["Access-Control-Allow-Origin"] == "*"
    assert module.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "Access-Control-Allow-Origin" not in css.headers
    login_page = requests.get(f"{base}/login", headers={"Accept-Encoding": "gzip"}, verify=str(cert), timeout=10)
    assert login_page.headers["Content-Encoding"] == "gzip"
    # A body over the app's limit is refused by nginx from its Content-Length, before any byte is sent on.
    too_big = http.client.HTTPSConnection("127.0.0.1", https_port, timeout=10,
                                          context=ssl.create_default_context(cafile=str(cert)))
    too_big.putrequest("POST", "/login")
    too_big.putheader("Content-Length", str(202 * 1024 * 1024))
    too_big.endheaders()
    assert too_big.getresponse().status == 413
    too_big.close()
    # The app sees HTTPS through PROXY_HOPS=1: production's HSTS and Secure cookie.
    assert login_page.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Secure" in login_page.headers["Set-Cookie"]

    tablets = [Tablet(base, cert, instructor_email) for _ in range(THREADS)]
    tokens = [{c.id: tablet.open_sheet(c.id) for c in classes} for tablet in tablets]
    results: dict[str, list] = {tap["key"]: [] for tap in taps}
    answered = threading.Semaphore(0)
    killed_at: list[float] = []

    def tap_all(index: int) -> None:
        for tap in taps[index::THREADS]:
            outcome = tablets[index].tap(tap["class_id"], tokens[index][tap["class_id"]], tap)
            results[tap["key"]].append((time.monotonic(), outcome))
            answered.release()

    threads = [threading.Thread(target=tap_all, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    # A third of the taps in, node A dies as a crashed server does: no goodbye, requests in flight cut.
    for _ in range(len(taps) // 3):
        assert answered.acquire(timeout=60), "the taps stopped before node A was killed"
    kill_group(node_a, signal.SIGKILL)
    killed_at.append(time.monotonic())
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()

    first = {key: outcomes[0][1] for key, outcomes in results.items()}
    after_kill = [outcome for outcomes in results.values() for at, outcome in outcomes if at > killed_at[0]]
    assert node_a.wait(timeout=10) == -signal.SIGKILL
    assert after_kill and all(outcome == 200 for outcome in after_kill[-10:]), after_kill
    # nginx did meet the dead node, and answered from the other one.
    errors = (nginx_dir / "error.log").read_text()
    assert f"127.0.0.1:{nodes[0]}" in errors and ("Connection refused" in errors or "prematurely closed" in errors)

    # Taps cut on the dead node were sent on to the other one by nginx (the tap's location
    # allows it: non_idempotent), so every tablet got its answer the first time. (Without
    # that the taps in flight on node A are answered 502: the tablet resends them.)
    assert [outcome for outcome in first.values() if outcome != 200] == []
    # A tablet that never saw an answer resends the tap with its key: answered, changes nothing.
    for tap in taps[::7]:
        assert tablets[0].tap(tap["class_id"], tokens[0][tap["class_id"]], tap) == 200

    _db.session.expire_all()
    changes = dict(_db.session.execute(select(AttendanceChange.idempotency_key, func.count())
                                       .group_by(AttendanceChange.idempotency_key)).all())
    assert {str(key): n for key, n in changes.items()} == {tap["key"]: 1 for tap in taps}
    marks = _db.session.execute(select(ClassAttendance.enrollment_id, ClassAttendance.meeting_number)).all()
    assert sorted((str(e), m) for e, m in marks) == sorted((t["enrollment_id"], t["meeting"]) for t in taps)
    used = dict(_db.session.execute(select(ClassEnrollment.id, ClassEnrollment.credits_used)).all())
    assert set(used.values()) == {MEETINGS}
    assert reconciliation() == []
    print(f"\n{len(taps)} taps, node A killed after {len(taps) // 3}, {len(after_kill)} answered after; nginx: "
          f"{errors.count('Connection refused')} connections refused, {errors.count('prematurely closed')} "
          f"cut mid-request (sent on to node B)")


# ---------------------------------------------------------------- RQ workers


class StallingSMTP:
    """An SMTP server whose first message hangs before it is accepted (the worker is killed then)."""

    def __init__(self):
        self.delivered: list = []
        self.stalled, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if not self.stalled.is_set():
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Interrupted, not delivered"
        self.delivered.append(envelope)
        return "250 OK"


def test_a_worker_killed_mid_job_leaves_the_job_to_the_other_worker_and_nothing_is_done_twice(
        processes, make_app, db, database_url, redis_url, redis_db):
    from aiosmtpd.controller import Controller
    from rq import Worker
    from rq.job import Job

    from babyowl.jobs.notifications import email_job_id, enqueue_notification_email

    smtp = StallingSMTP()
    smtp_port = free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        student = make_user("student")
        notification = Notification(user_id=student.id, type="lesson_unlocked", title="Pelajaran 3 sudah dibuka",
                                    message="Buka pelajaran berikutnya.", email_status="pending")
        _db.session.add(notification)
        _db.session.commit()

        env = app_env(database_url, redis_url, BABYOWL_ENV="development", MAIL_BACKEND="smtp",
                      MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp_port), MAIL_USE_TLS="0", MAIL_RETRY_INTERVALS="0",
                      SWEEP_INTERVAL="2", DB_STATEMENT_TIMEOUT_MS="0")
        workers = [processes.start(f"worker-{n}", [sys.executable, "-m", "tests.ops.quick_worker", "default"], env)
                   for n in (1, 2)]
        with deadline_loop(30, "both workers to register with Redis") as tick:
            while len(Worker.all(connection=redis_db)) < 2:
                for worker in workers:
                    assert worker.poll() is None, worker.log_path.read_text()
                tick(0.1)

        app = make_app(REDIS_URL=redis_url, MAIL_RETRY_INTERVALS=[0])
        with app.app_context():
            job = enqueue_notification_email(notification.id)
        assert job.id == email_job_id(notification.id) and job.retries_left == 1

        assert smtp.stalled.wait(timeout=30), "no worker started sending"
        job = Job.fetch(job.id, connection=redis_db)
        dying = next(w for w in workers if _worker_pids(redis_db, job.worker_name) == str(w.pid))
        survivor = next(w for w in workers if w is not dying)
        horses = children_of(dying.pid)
        assert horses, "the worker sending the email has no work horse"
        for horse in horses:
            os.kill(horse, signal.SIGKILL)  # the work horse runs in a process group of its own
        kill_group(dying, signal.SIGKILL)
        assert dying.wait(timeout=10) == -signal.SIGKILL
        # A horse that outlived the kill would finish the send itself once released.
        with deadline_loop(10, "the killed work horse to be gone") as tick:
            while any(_alive(horse) for horse in horses):
                tick(0.05)
        smtp.release.set()

        with deadline_loop(40, "the other worker to send the email") as tick:
            while job.get_status(refresh=True) != "finished":
                assert survivor.poll() is None, survivor.log_path.read_text()
                tick(0.2)
        _db.session.expire_all()
        sent = _db.session.get(Notification, notification.id)
        assert (sent.email_status, sent.emailed_at is not None) == ("sent", True)
        assert [envelope.rcpt_tos for envelope in smtp.delivered] == [[student.email]]
        assert f"Job OK ({job.id})" in survivor.log_path.read_text()
        assert f"Job OK ({job.id})" not in dying.log_path.read_text()
    finally:
        smtp.release.set()
        controller.stop()


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _worker_pids(redis_db, worker_name: str) -> str:
    pid = redis_db.hget(f"rq:worker:{worker_name}", "pid")
    return pid.decode() if pid else ""
