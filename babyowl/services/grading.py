"""Trusted grading of coding exercises: the browser gives instant feedback, the server decides the score.

A submission is stored first (ungraded: `test_results` is NULL), then graded
in a job that runs the code against every test case, hidden ones included, in
the sandbox (`babyowl.grading.sandbox`). Nothing the browser claims about the
result is read. Grading is idempotent: a graded submission is never graded
again, so a retried or doubled job changes nothing.
"""
from __future__ import annotations

import uuid
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from babyowl.extensions import db
from babyowl.grading.compare import same_output, student_traceback
from babyowl.grading.sandbox import SandboxSettings, TestInput, TestRun, run_tests
from babyowl.models import CodingSubmission, Exercise, User
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed

MAX_CODE = 50_000
REASONS = {
    "error": "error",
    "time_limit": "time limit exceeded",
    "memory_limit": "memory limit exceeded",
    "output_limit": "output limit exceeded",
    "crashed": "the program crashed",
    "package_missing": "a required package cannot be loaded",
}


class SubmissionRefused(DomainError):
    status_code = 409


def sandbox_settings() -> SandboxSettings:
    config = current_app.config
    return SandboxSettings(pyodide_dir=Path(config["GRADER_PYODIDE_DIR"]), node=config["GRADER_NODE"],
                           bwrap=config["GRADER_BWRAP"], memory_mb=config["GRADER_MEMORY_MB"],
                           output_limit=config["GRADER_OUTPUT_LIMIT"])


def submit(student: User, exercise: Exercise, code: str) -> CodingSubmission:
    """Store the code for grading; the caller enqueues `jobs.grading.grade_submission` after this commits."""
    from babyowl.services.classes import student_can_open

    if exercise.type != "coding":
        raise InvalidInput(_("This exercise is not a coding exercise."))
    if not isinstance(code, str) or not code.strip():
        raise InvalidInput(_("Write some code before submitting."))
    if len(code) > MAX_CODE:
        raise InvalidInput(_("The code is too long (at most %(max)d characters).", max=MAX_CODE))
    if student.role != "student" or not student_can_open(student, exercise.lesson):
        raise NotAllowed(_("This lesson is not open for you yet."))
    # One student's submissions are numbered in order: their row is the lock.
    db.session.scalars(select(User.id).where(User.id == student.id).with_for_update()).one()
    attempt = (db.session.scalar(select(func.max(CodingSubmission.attempt_number)).where(
        CodingSubmission.user_id == student.id, CodingSubmission.exercise_id == exercise.id)) or 0) + 1
    submission = CodingSubmission(user_id=student.id, exercise_id=exercise.id, code=code.replace("\r\n", "\n"),
                                  attempt_number=attempt)
    db.session.add(submission)
    db.session.commit()
    return submission


def _result(test: dict, run: TestRun) -> dict:
    passed = run.status == "ok" and same_output(run.stdout, test.get("expectedOutput", ""))
    error, line = student_traceback(run.stderr) if run.status == "error" else (run.stderr, None)
    reason = None if passed else ("wrong output" if run.status == "ok" else REASONS.get(run.status, run.status))
    return {"id": test.get("id"), "name": test.get("name"), "hidden": bool(test.get("isHidden")),
            "points": test.get("points", 0) if passed else 0, "maxPoints": test.get("points", 0),
            "passed": passed, "status": run.status, "reason": reason, "output": run.stdout[:4000],
            "error": error[:4000] if error else None, "errorLine": line, "seconds": run.seconds}


def grade(submission_id: uuid.UUID) -> CodingSubmission | None:
    """Run every test in the sandbox and store the score; a graded submission is left as it is."""
    submission = db.session.get(CodingSubmission, submission_id)
    if submission is None or submission.test_results is not None:
        return submission
    content = submission.exercise.content
    tests = content.get("testCases") or []
    time_limit = float(content.get("timeLimit") or 30)
    packages = content.get("requiredPackages") or []
    if tests:
        inputs = [TestInput(stdin=t.get("stdin") or "", code=t.get("input") or "") for t in tests]
    else:
        inputs = [TestInput()]  # a playground: one run, passed when it runs without an error
    runs = run_tests(sandbox_settings(), submission.code, inputs, time_limit, packages)
    if tests:
        results = [_result(test, run) for test, run in zip(tests, runs)]
        submission.score = sum(r["points"] for r in results)
        submission.max_score = sum(r["maxPoints"] for r in results)
        submission.passed = all(r["passed"] for r in results)
    else:
        run = runs[0]
        error, line = student_traceback(run.stderr) if run.status == "error" else (run.stderr, None)
        results = [{"id": None, "name": None, "hidden": False, "passed": run.status == "ok", "status": run.status,
                    "reason": None if run.status == "ok" else REASONS.get(run.status, run.status),
                    "output": run.stdout[:4000], "error": error[:4000] if error else None, "errorLine": line,
                    "seconds": run.seconds, "points": 0, "maxPoints": 0}]
        submission.passed = run.status == "ok"
    submission.test_results = results
    submission.execution_time = int(sum(run.seconds for run in runs) * 1000)
    submission.execution_output = "\n".join(r["output"] for r in results if not r["hidden"])[:10_000]
    errors = [r["error"] for r in results if r["error"] and not r["hidden"]]
    submission.execution_error = errors[0] if errors else None
    db.session.commit()
    return submission


def visible_results(submission: CodingSubmission, *, staff_view: bool) -> tuple[list[dict], int, int]:
    """What a person may see: students get visible tests in full and only a pass count for hidden ones."""
    results = submission.test_results or []
    if staff_view:
        return results, 0, 0
    hidden = [r for r in results if r.get("hidden")]
    return [r for r in results if not r.get("hidden")], sum(r["passed"] for r in hidden), len(hidden)
