"""A warm reload of the coding page asks the server for no versioned static file (issue 22: it made 26
revalidation requests). Counted at the server, with Chromium on a persistent profile: Playwright's
`new_context()` keeps its cache in memory and never stores the 9.6 MB wasm (DESIGN.md)."""
from __future__ import annotations

import re
import tempfile
import threading
import time

from werkzeug.serving import make_server

from babyowl.extensions import db as _db
from babyowl.models import Exercise
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.factories import PASSWORD, make_open_lesson, make_user

VERSIONED = re.compile(r"^/static/vendor/[^/]+@[^/]+/")


class Recorder:
    """WSGI middleware: the paths the browser really asked for (a cached file never reaches the server)."""

    def __init__(self, app):
        self.app, self.paths, self.lock = app, [], threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            self.paths.append(environ["PATH_INFO"])
        return self.app(environ, start_response)


def wait_ready(page, seconds: float = 90) -> None:
    # Polled from here: the coding page's CSP forbids wait_for_function's string evaluation.
    deadline = time.monotonic() + seconds
    while not page.evaluate("window.babyowlCoding && window.babyowlCoding.editorReady() "
                            "&& window.babyowlCoding.ready()"):
        assert time.monotonic() < deadline, "the editor and Python never became ready"
        time.sleep(0.1)


def test_a_warm_reload_of_the_coding_page_asks_for_no_versioned_static_file(browser, browser_app, db, tmp_path):
    student = make_user("student", email="siswa@example.com")
    exercise = Exercise(lesson=make_open_lesson(student), title="Halo", type="coding", order_index=1, content={
        "mode": "playground", "language": "python", "starterCode": "print(1)\n", "timeLimit": 5, "maxPoints": 0,
        "requiredPackages": [], "hints": [], "outputType": "console", "completionCriteria": "all_tests_pass",
        "testCases": []})
    _db.session.add(exercise)
    _db.session.commit()
    recorder = Recorder(browser_app.wsgi_app)
    browser_app.wsgi_app = recorder
    server = make_server("127.0.0.1", 0, browser_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    profile = tempfile.mkdtemp(dir=tmp_path)
    context = browser.browser_type.launch_persistent_context(
        profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900},
        locale="en-US")
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{base}/login")
        page.fill("input[name=email]", "siswa@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("form#login-form button[type=submit]")
        page.wait_for_url(f"{base}/dashboard")
        page.goto(f"{base}/exercises/{exercise.id}/code")
        wait_ready(page)
        cold = [path for path in recorder.paths if VERSIONED.match(path)]
        assert len(cold) >= 5, recorder.paths  # htmx, Monaco and Pyodide's files came from the server once
        recorder.paths.clear()
        page.reload()
        wait_ready(page)
        warm = [path for path in recorder.paths if VERSIONED.match(path)]
        assert warm == [], warm
        assert f"/exercises/{exercise.id}/code" in recorder.paths  # the page itself was asked for again
    finally:
        context.close()
        server.shutdown()
