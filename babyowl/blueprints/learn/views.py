"""Learning: the lesson player and its exercises (students), grading (instructors), progress (everyone).

Every action is a plain form post answered with 303 and a flash, and the same
post from htmx answered with the block of the lesson page that changed (plus
the exercise's status and the lesson's progress bar, out of band).
"""
from __future__ import annotations

import uuid

from flask import Blueprint, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from babyowl.authz import ALL_ROLES, GRADERS, TEACHING_ROLES, roles_required
from babyowl.blueprints.learn.forms import GradeForm, SubmissionForm
from babyowl.blueprints.params import page_number, parse_uuid, uploaded_file
from babyowl.errors import on_refusal
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.services import assignments, classes, learning, progress
from babyowl.storage import serve_file

bp = Blueprint("learn", __name__)
SUBMISSION_STATUS_NAMES = {"pending": _l("waiting for a grade"), "graded": _l("graded"),
                           "returned": _l("returned for changes")}
LESSON = "learn/lesson.html"
PANEL = "exercise_panel"  # the block of the lesson page that shows one exercise's own player


@bp.context_processor
def names():
    return {"submission_status_names": SUBMISSION_STATUS_NAMES}


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _lesson_url(place: learning.Place, **query) -> str:
    return url_for("learn.lesson", class_id=place.school_class.id, lesson_id=place.lesson.id, **query) + \
        f"#exercise-{place.exercise.id}"


@bp.route("/learn")
@roles_required("student")
def my_classes():
    return render("learn/my_classes.html", classes=progress.student_progress(current_user))


@bp.route("/learn/progress")
@roles_required("student")
def my_progress():
    return render("learn/my_progress.html", classes=progress.student_progress(current_user))


@bp.route("/learn/classes/<uuid:class_id>/lessons/<uuid:lesson_id>")
@roles_required("student")
def lesson(class_id: uuid.UUID, lesson_id: uuid.UUID):
    page = learning.lesson_page(current_user, class_id, lesson_id,
                                review_attempt=parse_uuid(request.args.get("attempt")))
    return render(LESSON, page=page, school_class=page.school_class, can_work=page.can_work, done=page.done,
                  total=page.total)


def _fragment(place: learning.Place, block: str, **extra):
    """One exercise's block after an action, with its status and the lesson bar out of band."""
    item = learning.item_for(current_user, place, review_attempt=extra.pop("review_attempt", None),
                             attempts=extra.pop("attempts", None))
    done, total = learning.lesson_counts(current_user, place.lesson)
    context = {"oob": True, "bar_oob": True, **extra}
    return render(LESSON, block=block, item=item, school_class=place.school_class, can_work=True,
                  done=done, total=total, error_for=place.exercise.id, **context)


def _refusal_at(place: learning.Place, block: str, error_name: str, **extra):
    """How a refused action answers: htmx gets the exercise's block with the message; a plain post gets the
    lesson page again with the message at the exercise (and what was typed still in the form)."""
    def answer(refused):
        if is_htmx():
            return _fragment(place, block, oob=False, bar_oob=False, **{error_name: refused.message}, **extra)
        page = learning.lesson_page(current_user, place.school_class.id, place.lesson.id)
        return render(LESSON, page=page, school_class=page.school_class, can_work=page.can_work, done=page.done,
                      total=page.total, error_for=place.exercise.id, **{error_name: refused.message}, **extra)

    return on_refusal(answer)


@bp.route("/learn/classes/<uuid:class_id>/exercises/<uuid:exercise_id>/complete", methods=["POST"])
@roles_required("student")
def complete(class_id: uuid.UUID, exercise_id: uuid.UUID):
    """The "Mark as done" button."""
    place = learning.place_for(current_user, class_id, exercise_id)
    with _refusal_at(place, "exercise_status", "status_error"):
        learning.mark_done(current_user, place)
    if is_htmx():
        return _fragment(place, "exercise_status", oob=False)
    flash(_("“%(title)s” is done.", title=place.exercise.title), "success")
    return redirect_to(_lesson_url(place))


@bp.route("/learn/classes/<uuid:class_id>/exercises/<uuid:exercise_id>/progress", methods=["POST"])
@roles_required("student")
def report_progress(class_id: uuid.UUID, exercise_id: uuid.UUID):
    """Seconds of video watched (the player's script) or reading reaching the end of a material (htmx)."""
    place = learning.place_for(current_user, class_id, exercise_id)
    with _refusal_at(place, "exercise_status", "status_error"):
        learning.record_progress(current_user, place, seconds=_int(request.form.get("seconds")),
                                 scroll_depth=_int(request.form.get("scroll_depth")))
    if is_htmx():
        return _fragment(place, "exercise_status", oob=False)
    return redirect_to(_lesson_url(place))


@bp.route("/learn/classes/<uuid:class_id>/exercises/<uuid:exercise_id>/quiz")
@roles_required("student")
def quiz(class_id: uuid.UUID, exercise_id: uuid.UUID):
    """A fresh attempt's form ("Try again"): the quiz block for htmx, else the lesson page at the quiz."""
    place = learning.place_for(current_user, class_id, exercise_id)
    if not is_htmx():
        return redirect_to(_lesson_url(place))
    return _fragment(place, PANEL, oob=False, bar_oob=False)


@bp.route("/learn/classes/<uuid:class_id>/exercises/<uuid:exercise_id>/quiz", methods=["POST"])
@roles_required("student")
def submit_quiz(class_id: uuid.UUID, exercise_id: uuid.UUID):
    place = learning.place_for(current_user, class_id, exercise_id)
    answers = {name[2:]: request.form.getlist(name) for name in request.form if name.startswith("q-")}
    with _refusal_at(place, PANEL, "panel_error"):
        attempt, _review, attempts = learning.submit_quiz(current_user, place, answers)
    if is_htmx():
        return _fragment(place, PANEL, review_attempt=attempt.id, attempts=attempts)
    flash(_("Your score: %(score)d of %(max)d points.", score=attempt.score, max=attempt.max_score), "success")
    return redirect_to(_lesson_url(place, attempt=attempt.id))


@bp.route("/learn/classes/<uuid:class_id>/exercises/<uuid:exercise_id>/submissions", methods=["POST"])
@roles_required("student")
def submit_assignment(class_id: uuid.UUID, exercise_id: uuid.UUID):
    place = learning.place_for(current_user, class_id, exercise_id)
    form = SubmissionForm()
    upload = uploaded_file(form.file.data)
    with _refusal_at(place, PANEL, "panel_error", submitted=form):
        assignments.submit(current_user, place, kind=form.kind.data or "",
                           upload=assignments.Upload(upload.filename, upload.stream) if upload else None,
                           text=form.text.data, link=form.link.data, comment=form.comment.data)
    if is_htmx():
        return _fragment(place, PANEL, assignment_saved=True)
    flash(_("Your work is handed in. Your instructor will grade it."), "success")
    return redirect_to(_lesson_url(place))


@bp.route("/learn/submissions/<uuid:submission_id>/file")
@roles_required(*ALL_ROLES)
def submission_file(submission_id: uuid.UUID):
    submission = assignments.submitted_file(current_user, submission_id)
    return serve_file(submission.file_url, download_name=submission.file_name or "submission",
                      cache_control="private, no-store")


@bp.route("/learn/grading")
@roles_required(*GRADERS)
def grading_queue():
    status = request.args.get("status", "pending")
    status = status if status in ("pending", "graded", "returned", "all") else "pending"
    class_id = parse_uuid(request.args.get("class"))
    page = assignments.grading_queue(current_user, class_id=class_id, status=status, page=page_number())
    return render("learn/grading.html", block="results", page=page, status_filter=status, class_id=class_id,
                  classes=assignments.grading_classes(current_user))


def _grade_page(submission, form, error=None, status=200, block=None):
    return render("learn/grade.html", block=block, status=status, submission=submission, form=form, error=error,
                  versions=assignments.versions(submission), can_grade=assignments.can_grade(current_user, submission))


@bp.route("/learn/submissions/<uuid:submission_id>", methods=["GET", "POST"])
@roles_required(*GRADERS)
def grade(submission_id: uuid.UUID):
    submission = assignments.submission_for(current_user, submission_id)
    form = GradeForm(obj=submission if request.method == "GET" and submission.status != "pending" else None)
    if request.method == "GET":
        return _grade_page(submission, form)
    if not form.validate_on_submit():
        return _grade_page(submission, form, status=422, block="grade_panel")
    with on_refusal(lambda refused: _grade_page(submission, form, refused.message, block="grade_panel")):
        assignments.grade(current_user, submission, status=form.status.data, grade_value=form.grade.data,
                          feedback=form.feedback.data)
    if is_htmx():
        return _grade_page(submission, form, block="grade_panel")
    flash(_("%(name)s has been told.", name=submission.student.full_name), "success")
    return redirect_to(url_for("learn.grading_queue"))


@bp.route("/classes/<uuid:class_id>/progress")
@roles_required(*TEACHING_ROLES)
def class_progress(class_id: uuid.UUID):
    school_class = classes.class_for(current_user, class_id)
    return render("learn/class_progress.html", report=progress.class_progress(school_class))

