"""gunicorn settings for one Baby Owl app server (deploy/systemd/babyowl-web.service).

    gunicorn -c deploy/gunicorn.conf.py 'babyowl:create_app()'

Sizes come from the environment (deploy/babyowl.env) so the unit never changes:
WEB_BIND, WEB_WORKERS, WEB_THREADS. Each worker process has its own database pool:
keep WEB_WORKERS × min(WEB_THREADS, DB_POOL_SIZE + DB_MAX_OVERFLOW) within the
database's connections (README, "Database connections").
"""
import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000").split(",")
# gthread: a thread waiting on PostgreSQL or Redis does not hold a whole process; a
# process per core keeps Python's CPU work (the measured cost per request) on both cores.
# Compared with `bench/load.py --servers 2x4,sync:2,sync:3,3x2,4x2,sync:4` (each configuration
# in the same run, 2026-12-01, load average 10-19 from other sessions): no configuration beat
# 2 x 4 gthread consistently (500-user step 6.3-12.9 req/s for every one of them, capacity ratios
# swapping places between runs): the cost is Python CPU per request, which more processes or
# threads cannot add on two cores. 2 x 4 is kept: both cores, and a slow request (an export up
# to EXPORT_JOB_ROWS, a stalled upload) holds one thread, not a whole process. `sync` stays
# selectable (WEB_WORKER_CLASS=sync) for a re-measurement on an idle machine.
worker_class = os.environ.get("WEB_WORKER_CLASS", "gthread")
workers = int(os.environ.get("WEB_WORKERS", os.cpu_count() or 2))
threads = int(os.environ.get("WEB_THREADS", "4"))
# A large xlsx export may take a while; nginx waits 190 s (proxy_read_timeout).
timeout = int(os.environ.get("WEB_TIMEOUT", "180"))
# On SIGTERM (a rollout, systemctl stop) requests in flight get this long to finish.
graceful_timeout = 30
# nginx keeps connections to the app open (upstream keepalive 16).
keepalive = 75
# Each worker imports the app itself, so `systemctl reload babyowl-web` (HUP) starts workers on the
# new release while the old ones finish their requests; a preloaded app would keep the old code.
preload_app = False
# A worker is replaced after this many requests, so slow growth of memory never adds up; rarely, because
# replacing one closes the connections kept alive to it, and a request already on its way on one of them
# gets a reset instead of an answer: nginx sends a GET again, never a POST (a quiz answer, a message: 502).
# At 2,000 (every minute or so per worker under load) those resets (ConnectionResetError) were the few
# failed requests of bench/load.py's steps (reproduced there with max_requests lowered to 150-200), and
# each new worker costs ~2.7 s of CPU (imports, templates) plus cold caches. The workers' memory stayed
# at 150 MB over a run. WEB_MAX_REQUESTS=0 never replaces them.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "100000"))
max_requests_jitter = max_requests // 10
# The proxy's X-Forwarded-* are read by the app itself (PROXY_HOPS, werkzeug's ProxyFix).
# The one log line per request (the app writes none of its own): gunicorn's costs ~22 µs of CPU, a JSON line from
# the app ~11 µs plus the hook that would write it, and would miss the files WhiteNoise serves. The request id is
# the one the app answered with (X-Request-ID out): nginx's own when it sent one, else the id the app made.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%({x-request-id}o)s"'
