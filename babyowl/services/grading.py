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


class SubmissionNotFound(DomainError):
    status_code = 404


def sandbox_settings() -> SandboxSettings:
    config = current_app.config
    packages = config["PYODIDE_PACKAGES_DIR"]
    return SandboxSettings(pyodide_dir=Path(config["GRADER_PYODIDE_DIR"]), node=config["GRADER_NODE"],
                           bwrap=config["GRADER_BWRAP"], memory_mb=config["GRADER_MEMORY_MB"],
                           output_limit=config["GRADER_OUTPUT_LIMIT"],
                           packages_dir=Path(packages) if packages else None)


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
    content = exercise.content
    tests = [{"name": t.get("name"), "stdin": t.get("stdin") or "", "input": t.get("input") or "",
              "expectedOutput": t.get("expectedOutput") or ""}
             for t in content.get("testCases") or [] if not t.get("isHidden")]
    return {"mode": content.get("mode"), "starterCode": content.get("starterCode") or "", "tests": tests,
            "hiddenTests": sum(1 for t in content.get("testCases") or [] if t.get("isHidden")),
            "packages": content.get("requiredPackages") or [], "timeLimit": content.get("timeLimit") or 30,
            "runOnce": content.get("completionCriteria") == "run_once", "hints": content.get("hints") or [],
            "outputType": content.get("outputType") or "console"}


def _result(test: dict | None, run: TestRun) -> dict:
    """One test's result; `test` is None for a playground's single run, which passes when it runs cleanly."""
    test = test or {}
    passed = run.status == "ok" and (not test or same_output(run.stdout, test.get("expectedOutput", "")))
    error, line = student_traceback(run.stderr) if run.status == "error" else (run.stderr, None)
    # A code, not a sentence: the page words it in the reader's language.
    reason = None if passed else ("wrong_output" if run.status == "ok" else run.status)
    return {"id": test.get("id"), "name": test.get("name"), "hidden": bool(test.get("isHidden")),
            "points": test.get("points", 0) if passed else 0, "maxPoints": test.get("points", 0),
            "passed": passed, "status": run.status, "reason": reason, "output": run.stdout[:4000],
            "error": error[:4000] if error else None, "errorLine": line, "seconds": run.seconds}


def grade(submission_id: uuid.UUID) -> CodingSubmission | None:
    """Run every test in the sandbox and store the score; a graded submission is left as it is."""
    # Held for the whole run: a second job for the same submission (a retry, the
    # sweep) skips it instead of grading it twice.
    submission = db.session.scalars(select(CodingSubmission).where(CodingSubmission.id == submission_id)
                                    .with_for_update(skip_locked=True)).first()
    if submission is None or submission.test_results is not None:
        db.session.rollback()
        return db.session.get(CodingSubmission, submission_id)
    content = submission.exercise.content
    tests = content.get("testCases") or []
    time_limit = float(content.get("timeLimit") or 30)
    packages = content.get("requiredPackages") or []
    if tests:
        inputs = [TestInput(stdin=t.get("stdin") or "", code=t.get("input") or "") for t in tests]
    else:
        inputs = [TestInput()]  # a playground: one run, passed when it runs without an error
    runs = run_tests(sandbox_settings(), submission.code, inputs, time_limit, packages)
    results = [_result(test, run) for test, run in zip(tests or [None], runs)]
    if tests:  # a playground has no score (NULL, as the spec says)
        submission.score = sum(r["points"] for r in results)
        submission.max_score = sum(r["maxPoints"] for r in results)
    submission.passed = all(r["passed"] for r in results)
    submission.test_results = results
    submission.execution_time = int(sum(run.seconds for run in runs) * 1000)
    submission.execution_output = "\n".join(r["output"] for r in results if not r["hidden"])[:10_000]
    errors = [r["error"] for r in results if r["error"] and not r["hidden"]]
    submission.execution_error = errors[0] if errors else None
    _record_completion(submission, content, results)
    db.session.commit()
    return submission


def _record_completion(submission: CodingSubmission, content: dict, results: list[dict]) -> None:
    """Complete the exercise when the server's grading says so; a later failing try never un-completes it."""
    from babyowl.services import progress

    if content.get("completionCriteria") == "run_once":
        done = any(r["status"] == "ok" for r in results)
    else:
        done = submission.passed
    if not done:
        return
    row = progress.locked_progress(submission.user_id, submission.exercise_id)
    progress.set_completed(row, True)
    progress.refresh_counters(submission.user_id, submission.exercise.lesson)


def visible_results(submission: CodingSubmission, *, staff_view: bool) -> tuple[list[dict], int, int]:
    """What a person may see: students get visible tests in full and only a pass count for hidden ones."""
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
    if submission.user_id == actor.id or actor.role in ("staff", "super_admin"):
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


def history(actor: User, exercise: Exercise) -> list[CodingSubmission]:
    """A student's own submissions; an instructor's students'; every one for staff. Newest first."""
    from sqlalchemy.orm import joinedload

    query = (select(CodingSubmission).options(joinedload(CodingSubmission.user))
             .where(CodingSubmission.exercise_id == exercise.id)
             .order_by(CodingSubmission.created_at.desc(), CodingSubmission.attempt_number.desc()))
    if actor.role == "student":
        query = query.where(CodingSubmission.user_id == actor.id)
    elif actor.role == "instructor":
        query = query.where(CodingSubmission.user_id.in_(_taught_students(actor, exercise)))
    return list(db.session.scalars(query.limit(200)))


def ungraded_since(seconds: int, give_up_after: int = 24 * 3600) -> list[uuid.UUID]:
    """Submissions still ungraded after `seconds` (their job was lost), for a day at most."""
    from datetime import timedelta

    from babyowl.models.base import utcnow

    now = utcnow()
    return list(db.session.scalars(select(CodingSubmission.id).where(
        CodingSubmission.test_results.is_(None), CodingSubmission.created_at < now - timedelta(seconds=seconds),
        CodingSubmission.created_at > now - timedelta(seconds=give_up_after))
        .order_by(CodingSubmission.created_at)))
