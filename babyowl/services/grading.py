"""Trusted grading of coding exercises: the browser gives instant feedback, the server decides the score.

A submission is stored first (ungraded: `test_results` is NULL), then graded
by a job in three steps, so no transaction or row lock is held while untrusted
code runs (seconds to minutes):
1. claim: a short transaction takes the submission (`SKIP LOCKED`, then a
   compare-and-set of `grading_claimed_at`), unless it is graded or another
   job's claim has not run out;
2. run: every test, hidden ones included, in the sandbox
   (`babyowl.grading.sandbox`), with no transaction open;
3. store: a short transaction writes the result only if the submission is
   still ungraded, and completes the exercise when the grading says so.
Nothing the browser claims about the result is read. A retried, doubled or
swept job changes nothing once a submission is graded. What a test means
(`testCases`, `isHidden`, …) is the coding exercise type's business: this
module asks it. Who may see the solution and the hidden tests is decided here.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from babyowl.authz import STAFF_ROLES
from babyowl.exercise_types import get_type
from babyowl.extensions import db
from babyowl.grading.compare import same_output, student_traceback
from babyowl.grading.sandbox import SandboxSettings, TestInput, TestRun, run_tests
from babyowl.grading.snapshot import usable_snapshot
from babyowl.models import CodingSubmission, Exercise, User
from babyowl.models.base import utcnow
from babyowl.observability import GRADING_SECONDS
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.listing import Key
from babyowl.transactions import after_commit, use_case

MAX_CODE = 50_000
JOB_MARGIN_SECONDS = 120  # start-up of the last sandbox, storing, and the worker's own work


class SubmissionNotFound(DomainError):
    status_code = 404


def _coding():
    return get_type("coding")


def time_budget() -> float:
    """The seconds one submission may take in the sandbox; the grading job's timeout is this plus a margin."""
    return float(current_app.config["GRADER_TIME_BUDGET"])


def job_timeout() -> int:
    return int(time_budget() + JOB_MARGIN_SECONDS)


def sandbox_settings() -> SandboxSettings:
    config = current_app.config
    packages = config["PYODIDE_PACKAGES_DIR"]
    pyodide_dir = Path(config["GRADER_PYODIDE_DIR"])
    snapshot_dir = config.get("GRADER_SNAPSHOT_DIR")
    backend = config.get("GRADER_BACKEND", "auto")
    snapshot = (usable_snapshot(pyodide_dir, Path(snapshot_dir), config["GRADER_NODE"])
                if snapshot_dir and backend in ("pyodide", "auto") else None)
    return SandboxSettings(pyodide_dir=pyodide_dir, node=config["GRADER_NODE"],
                           bwrap=config["GRADER_BWRAP"], memory_mb=config["GRADER_MEMORY_MB"],
                           output_limit=config["GRADER_OUTPUT_LIMIT"],
                           packages_dir=Path(packages) if packages else None, snapshot=snapshot,
                           time_budget=time_budget(), prestart=config.get("GRADER_PRESTART", 2),
                           backend=backend, python=config.get("GRADER_PYTHON", "/usr/bin/python3"))


@use_case
def submit(student: User, exercise: Exercise, code: str) -> CodingSubmission:
    """Store the code and queue its grading once this commits."""
    from babyowl.jobs.grading import queue_grading
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
    db.session.flush()
    after_commit(queue_grading, submission.id)
    return submission


def exercise_to_submit(exercise_id: uuid.UUID) -> Exercise:
    """The exercise a submission is for; whether it takes code and whether the student may submit is `submit`'s."""
    exercise = db.session.get(Exercise, exercise_id)
    if exercise is None:
        raise SubmissionNotFound(_("This exercise does not exist."))
    return exercise


def exercise_for_coding(actor: User, exercise_id: uuid.UUID) -> Exercise:
    """The coding exercise if `actor` may open it: a student whose class has unlocked its lesson, or a teacher."""
    from babyowl.services.classes import student_can_open

    exercise = db.session.get(Exercise, exercise_id)
    if exercise is None or exercise.type != "coding":
        raise SubmissionNotFound(_("This exercise does not exist."))
    if actor.role == "student" and not student_can_open(actor, exercise.lesson):
        raise NotAllowed(_("This lesson is not open for you yet."))
    return exercise


def last_submission(student: User, exercise: Exercise) -> CodingSubmission | None:
    return db.session.scalars(select(CodingSubmission).where(
        CodingSubmission.user_id == student.id, CodingSubmission.exercise_id == exercise.id)
        .order_by(CodingSubmission.attempt_number.desc()).limit(1)).first()


def page_data(exercise: Exercise) -> dict:
    """What the coding page may know: never the hidden tests nor the solution."""
    return _coding().page_data(exercise.content)


def sees_everything(actor: User) -> bool:
    """Staff and teachers see hidden tests in full and the solution; a student sees their visible tests only."""
    return actor.role != "student"


def solution_for(actor: User, exercise: Exercise) -> str | None:
    return (_coding().solution(exercise.content) or None) if sees_everything(actor) else None


def _result(test, run: TestRun) -> dict:
    """One test's result; `test` is None for a playground's single run, which passes when it runs cleanly."""
    passed = run.status == "ok" and (test is None or same_output(run.stdout, test.expected, test.compare,
                                                                  test.tolerance))
    error, line = student_traceback(run.stderr) if run.status == "error" else (run.stderr, None)
    # A code, not a sentence: the page words it in the reader's language.
    reason = None if passed else ("wrong_output" if run.status == "ok" else run.status)
    points = test.points if test is not None else 0
    return {"id": test.id if test else None, "name": test.name if test else None,
            "hidden": bool(test and test.hidden), "points": points if passed else 0, "maxPoints": points,
            "passed": passed, "status": run.status, "reason": reason, "output": run.stdout[:4000],
            "error": error[:4000] if error else None, "errorLine": line, "seconds": run.seconds,
            "compare": test.compare if test else "exact",
            # Which interpreter's run decided this test, and why the auto backend asked the browser's (staff see it).
            "backend": run.backend, "recheck": run.recheck}


@dataclass(frozen=True)
class Claimed:
    """What the sandbox run needs, as plain values: nothing of the session is used while it runs."""

    code: str
    content: dict


@use_case
def claim(submission_id: uuid.UUID) -> Claimed | None:
    """Take an ungraded submission for grading; None when it is graded, gone, or another job holds it."""
    expired = utcnow() - timedelta(seconds=job_timeout())
    submission = db.session.scalars(select(CodingSubmission).where(
        CodingSubmission.id == submission_id, CodingSubmission.test_results.is_(None),
        or_(CodingSubmission.grading_claimed_at.is_(None), CodingSubmission.grading_claimed_at < expired))
        .with_for_update(skip_locked=True)).first()
    if submission is None:
        return None
    submission.grading_claimed_at = utcnow()
    return Claimed(code=submission.code, content=dict(submission.exercise.content))


@use_case
def store(submission_id: uuid.UUID, results: list[dict], seconds: float) -> CodingSubmission | None:
    """Write a grading's result if the submission is still ungraded (a doubled job stores nothing)."""
    submission = db.session.scalars(select(CodingSubmission).where(
        CodingSubmission.id == submission_id, CodingSubmission.test_results.is_(None))
        .with_for_update()).first()
    if submission is None:
        return None
    content = submission.exercise.content
    if _coding().grading_tests(content):  # a playground has no score (NULL, as the spec says)
        submission.score = sum(r["points"] for r in results)
        submission.max_score = sum(r["maxPoints"] for r in results)
    submission.passed = all(r["passed"] for r in results)
    submission.test_results = results
    submission.execution_time = int(seconds * 1000)
    submission.execution_output = "\n".join(r["output"] for r in results if not r["hidden"])[:10_000]
    errors = [r["error"] for r in results if r["error"] and not r["hidden"]]
    submission.execution_error = errors[0] if errors else None
    _record_completion(submission, content, results)
    GRADING_SECONDS.observe(seconds)
    return submission


def grade(submission_id: uuid.UUID) -> CodingSubmission | None:
    """Claim, run every test in the sandbox (no transaction open), store; a graded submission is left as it is."""
    claimed = claim(submission_id)
    if claimed is None:
        return db.session.get(CodingSubmission, submission_id)
    content, code, coding = claimed.content, claimed.code, _coding()
    tests = coding.grading_tests(content)
    inputs = [TestInput(stdin=t.stdin, code=t.code) for t in tests] or [TestInput()]  # a playground: one run
    runs = run_tests(sandbox_settings(), code, inputs, coding.time_limit(content), coding.packages(content))
    results = [_result(test, run) for test, run in zip(tests or [None], runs)]
    store(submission_id, results, sum(run.seconds for run in runs))
    return db.session.get(CodingSubmission, submission_id)


def _record_completion(submission: CodingSubmission, content: dict, results: list[dict]) -> None:
    """Complete the exercise when the server's grading says so; a later failing try never un-completes it."""
    from babyowl.services import progress

    if _coding().completed_when_ran(content):
        done = any(r["status"] == "ok" for r in results)
    else:
        done = submission.passed
    if not done:
        return
    from babyowl.services import xp

    row = progress.locked_progress(submission.user_id, submission.exercise_id)
    class_id = xp.class_for_work(submission.user_id, submission.exercise.lesson)
    if _coding().completed_when_ran(content):
        xp.for_exercise(submission.user_id, submission.exercise_id, class_id)
    else:  # first passed: the ledger's key is the exercise, so later passes earn nothing more
        xp.for_coding(submission.user_id, submission.exercise_id, class_id)
    progress.set_completed(row, True)
    progress.refresh_counters(submission.user_id, submission.exercise.lesson, class_id=class_id)


def visible_results(submission: CodingSubmission, viewer: User | None = None, *,
                    staff_view: bool | None = None) -> tuple[list[dict], int, int]:
    """What a person may see: students get visible tests in full and only a pass count for hidden ones."""
    if staff_view is None:
        staff_view = viewer is not None and sees_everything(viewer)
    results = submission.test_results or []
    if staff_view:
        return results, 0, 0
    hidden = [r for r in results if r.get("hidden")]
    return [r for r in results if not r.get("hidden")], sum(r["passed"] for r in hidden), len(hidden)


def submission_for(actor: User, submission_id: uuid.UUID) -> CodingSubmission:
    """The submission if `actor` may see it: its student, staff, or an instructor of one of the student's classes
    on that course; anyone else is told it does not exist."""
    submission = db.session.get(CodingSubmission, submission_id)
    if submission is None:
        raise SubmissionNotFound(_("This submission does not exist."))
    if submission.user_id == actor.id or actor.role in STAFF_ROLES:
        return submission
    if actor.role == "instructor" and db.session.scalar(select(func.count()).where(
            CodingSubmission.id == submission.id,
            CodingSubmission.user_id.in_(_taught_students(actor, submission.exercise)))):
        return submission
    raise SubmissionNotFound(_("This submission does not exist."))


def _taught_students(actor: User, exercise: Exercise):
    """Ids of the students in the classes `actor` teaches on the exercise's course."""
    from babyowl.models import ClassEnrollment, Lesson, SchoolClass, Section

    course_id = (select(Section.course_id).join(Lesson, Lesson.section_id == Section.id)
                 .where(Lesson.id == exercise.lesson_id).scalar_subquery())
    return (select(ClassEnrollment.student_id).join(SchoolClass, SchoolClass.id == ClassEnrollment.class_id)
            .where(SchoolClass.instructor_id == actor.id, SchoolClass.course_id == course_id))


_NEWEST_FIRST = (Key(CodingSubmission.created_at, datetime, descending=True),
                 Key(CodingSubmission.id, uuid.UUID, descending=True))


def history(actor: User, exercise: Exercise) -> list[CodingSubmission]:
    """A student's own submissions; an instructor's students'; every one for staff. Newest first."""
    query = _visible_submissions(actor, exercise).order_by(*(key.column.desc() for key in _NEWEST_FIRST))
    return list(db.session.scalars(query.limit(200)))


def history_after(actor: User, exercise: Exercise, *, after: list | None = None, limit: int = 20):
    """The same submissions, one keyset page after the cursor's submission."""
    from babyowl.services.listing import keyset_page

    return keyset_page(_visible_submissions(actor, exercise), _NEWEST_FIRST, after=after, limit=limit)


def _visible_submissions(actor: User, exercise: Exercise):
    from sqlalchemy.orm import joinedload

    query = (select(CodingSubmission).options(joinedload(CodingSubmission.user))
             .where(CodingSubmission.exercise_id == exercise.id))
    if actor.role == "student":
        query = query.where(CodingSubmission.user_id == actor.id)
    elif actor.role == "instructor":
        query = query.where(CodingSubmission.user_id.in_(_taught_students(actor, exercise)))
    return query


def ungraded_since(seconds: int, give_up_after: int = 24 * 3600) -> list[uuid.UUID]:
    """Submissions still ungraded after `seconds` (their job was lost), for a day at most."""
    now = utcnow()
    return list(db.session.scalars(select(CodingSubmission.id).where(
        CodingSubmission.test_results.is_(None), CodingSubmission.created_at < now - timedelta(seconds=seconds),
        CodingSubmission.created_at > now - timedelta(seconds=give_up_after))
        .order_by(CodingSubmission.created_at)))
