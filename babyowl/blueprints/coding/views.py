"""Coding submissions: the code goes to the server, which grades it; the page polls until it has a score."""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, make_response, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from babyowl.authz import ALL_ROLES, roles_required
from babyowl.blueprints.params import parse_uuid
from babyowl.errors import on_refusal
from babyowl.exercise_types.coding import COMPARE_DESCRIPTIONS
from babyowl.extensions import limiter
from babyowl.grading.packages import packages_dir
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.services import grading
from babyowl.static_files import runner_locations

bp = Blueprint("coding", __name__)
REASON_NAMES = {
    "wrong_output": _l("wrong output"),
    "error": _l("the program stopped with an error"),
    "time_limit": _l("time limit exceeded"),
    "memory_limit": _l("memory limit exceeded"),
    "output_limit": _l("too much output"),
    "crashed": _l("the program crashed"),
    "package_missing": _l("a required package cannot be loaded"),
    "not_run": _l("not run: time budget spent"),
    "budget_spent": _l("stopped: the submission's time budget was spent"),
}
BACKEND_NAMES = {"cpython": "CPython", "pyodide": "Pyodide"}


def judged_by(result: dict) -> str | None:
    """For staff: which interpreter decided a test and, when the auto backend asked the browser's, why."""
    backend = BACKEND_NAMES.get(result.get("backend") or "")
    if backend is None:
        return None
    code = (result.get("recheck") or "").removeprefix("test_")
    if not code:
        return _("judged by %(backend)s", backend=backend)
    if code == "syntax":
        why = _("the code does not compile under the server's older Python")
    elif code.startswith("newer:"):
        why = _("the code uses %(name)s, newer than the server's Python", name=code.removeprefix("newer:"))
    elif code.startswith("differs:"):
        why = _("the code uses %(name)s, which answers differently in the browser's Python",
                name=code.removeprefix("differs:"))
    elif code == "float_sum":
        why = _("sum() added decimal numbers, which newer Python adds more precisely")
    elif code == "cpython_slow":
        why = _("it ran close to its time limit under CPython, and the browser's Python is slower")
    elif code.startswith("cpython_"):
        status = code.removeprefix("cpython_")
        why = _("under CPython: %(reason)s", reason=REASON_NAMES.get(status, status))
    else:
        why = code
    return _("judged by %(backend)s (%(why)s)", backend=backend, why=why)


def _panel(submission, status: int = 200, error: str | None = None):
    shown, hidden_passed, hidden_total = grading.visible_results(submission, current_user) \
        if submission else ([], 0, 0)
    return render("coding/submission.html", block="panel", status=status, submission=submission, results=shown,
                  solution=grading.solution_for(current_user, submission.exercise) if submission else None,
                  hidden_passed=hidden_passed, hidden_total=hidden_total,
                  staff_view=grading.sees_everything(current_user), error=error, reason_names=REASON_NAMES,
                  compare_names=COMPARE_DESCRIPTIONS, judged_by=judged_by)


@bp.route("/exercises/<uuid:exercise_id>/submissions", methods=["POST"])
@roles_required("student")
@limiter.limit(lambda: current_app.config["RATELIMIT_GRADING"], methods=["POST"])
def submit(exercise_id: uuid.UUID):
    """Only the code is read: a score, a pass flag or test results sent along are ignored."""
    with on_refusal(lambda refused: _panel(None, refused.status_code, refused.message)):
        exercise = grading.exercise_to_submit(exercise_id)
        submission = grading.submit(current_user, exercise, request.form.get("code", ""))
    if is_htmx():
        return _panel(grading.submission_for(current_user, submission.id))
    return redirect_to(url_for("coding.submission", submission_id=submission.id))


@bp.route("/submissions/<uuid:submission_id>")
@roles_required(*ALL_ROLES)
def submission(submission_id: uuid.UUID):
    return _panel(grading.submission_for(current_user, submission_id))


# The coding page needs what the rest of the app refuses: Monaco adds <style>
# elements and starts its workers from blob: URLs, and the runner is a frame.
CODING_PAGE_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
    "font-src 'self' data:", "worker-src 'self' blob:", "frame-src 'self'", "object-src 'none'", "base-uri 'self'",
    "form-action 'self'", "frame-ancestors 'none'",
])


@bp.route("/exercises/<uuid:exercise_id>/code")
@roles_required(*ALL_ROLES)
def exercise(exercise_id: uuid.UUID):
    exercise = grading.exercise_for_coding(current_user, exercise_id)
    last = grading.last_submission(current_user, exercise)
    restore_id = parse_uuid(request.args.get("from"))
    # "Restore into the editor" opens the page with an older submission's code.
    shown = grading.submission_for(current_user, restore_id) if restore_id else last
    if shown is not None and shown.exercise_id != exercise.id:
        shown = last
    data = grading.page_data(exercise)
    results, hidden_passed, hidden_total = grading.visible_results(last, current_user) if last else ([], 0, 0)
    response = render("coding/exercise.html", exercise=exercise, data=data, last=last,
                      code=shown.code if shown else data["starterCode"],
                      staff_view=grading.sees_everything(current_user),
                      results=results, hidden_passed=hidden_passed, hidden_total=hidden_total,
                      reason_names=REASON_NAMES, compare_names=COMPARE_DESCRIPTIONS, judged_by=judged_by)
    response.headers["Content-Security-Policy"] = CODING_PAGE_POLICY
    return response


@bp.route("/coding/runner")
def runner():
    """The sandboxed runner frame; it holds no user data, so it needs no sign-in.

    The coding page hands it Pyodide's files as bytes: it fetches nothing itself but the wheels of the
    packages an exercise needs.
    """
    origin = request.host_url.rstrip("/")
    locations = runner_locations()
    response = make_response(render_template("coding/runner.html", **locations))
    response.headers["Content-Security-Policy"] = "; ".join([
        "default-src 'none'", f"script-src {origin}/static/ blob: 'wasm-unsafe-eval'", "worker-src blob:",
        f"connect-src {locations['packages']}", f"frame-ancestors {origin}",
        "base-uri 'none'", "form-action 'none'"])
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/exercises/<uuid:exercise_id>/submissions")
@roles_required(*ALL_ROLES)
def history(exercise_id: uuid.UUID):
    exercise = grading.exercise_for_coding(current_user, exercise_id)
    return render("coding/history.html", exercise=exercise, submissions=grading.history(current_user, exercise),
                  staff_view=grading.sees_everything(current_user))


@bp.route("/pyodide-packages/<path:filename>")
def package_file(filename: str):
    """Wheels of the full Pyodide release a school installed (PYODIDE_PACKAGES_DIR); none by default."""
    directory = packages_dir()
    if directory is None:
        abort(404)
    return send_from_directory(directory, filename, max_age=86400)
