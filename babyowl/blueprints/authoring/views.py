"""Course authoring: courses, their structure, exercises and the student preview (instructors, super_admin)."""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from babyowl.blueprints.params import form_status, uploaded_file
from babyowl.authz import AUTHORS, roles_required
from babyowl.blueprints.authoring.forms import CourseForm, LessonForm, TitleForm
from babyowl.errors import on_refusal
from babyowl.exercise_types import REGISTRY, get_type
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.services import courses, exercises, learning, structure
from babyowl.storage import serve_file

bp = Blueprint("authoring", __name__, url_prefix="/authoring")


def _course(course_id: uuid.UUID):
    return courses.course_for_author(current_user, course_id)


def _course_details(form: CourseForm) -> dict:
    return dict(title=form.title.data, description=form.description.data, slug=form.slug.data, code=form.code.data,
                category=form.category.data, level=form.level.data, language=form.language.data,
                cover=uploaded_file(form.cover.data))


@bp.route("/courses")
@roles_required(*AUTHORS)
def courses_index():
    return render("authoring/courses.html", courses=courses.authored_courses(current_user))


@bp.route("/courses/new", methods=["GET", "POST"])
@roles_required(*AUTHORS)
def new_course():
    form = CourseForm()
    if form.validate_on_submit():
        with on_refusal(lambda refused: _course_form_page(form, None, refused.message)):
            course = courses.create_course(current_user, **_course_details(form))
        flash(_("Course created. Now add its sections and lessons."), "success")
        return redirect_to(url_for("authoring.course", course_id=course.id))
    return _course_form_page(form, None)


def _course_form_page(form, course, error=None):
    return render("authoring/course_form.html", block="course_form", status=form_status(), form=form, error=error,
                  course=course)


@bp.route("/courses/<uuid:course_id>/edit", methods=["GET", "POST"])
@roles_required(*AUTHORS)
def edit_course(course_id: uuid.UUID):
    course = _course(course_id)
    form = CourseForm(obj=course)
    if form.validate_on_submit():
        with on_refusal(lambda refused: _course_form_page(form, course, refused.message)):
            courses.update_course(current_user, course, **_course_details(form),
                                  remove_cover=form.remove_cover.data)
        flash(_("Course details saved."), "success")
        return redirect_to(url_for("authoring.course", course_id=course.id))
    return _course_form_page(form, course)


@bp.route("/courses/<uuid:course_id>")
@roles_required(*AUTHORS)
def course(course_id: uuid.UUID):
    _course(course_id)
    return _structure_page(course_id)


def _structure_page(course_id: uuid.UUID, error: str | None = None, status: int = 200):
    return render("authoring/course.html", block="structure", status=status,
                  course=structure.course_outline(course_id), error=error, title_form=TitleForm())


def _after_structure_change(course_id: uuid.UUID, action, success: str | None = None):
    """Run a structure change; answer htmx with the fresh outline, a plain post with a redirect."""
    back = url_for("authoring.course", course_id=course_id)
    with on_refusal(lambda refused: _structure_page(course_id, refused.message), redirect_to_url=back):
        action()
    if is_htmx():
        return _structure_page(course_id)
    if success:
        flash(success, "success")
    return redirect_to(back)


@bp.route("/courses/<uuid:course_id>/status", methods=["POST"])
@roles_required(*AUTHORS)
def course_status(course_id: uuid.UUID):
    course = _course(course_id)
    status = request.form.get("status", "")
    return _after_structure_change(course_id, lambda: courses.change_status(current_user, course, status),
                                   _("The course is now %(status)s.", status=courses.status_name(status)))


@bp.route("/courses/<uuid:course_id>/delete", methods=["POST"])
@roles_required(*AUTHORS)
def delete_course(course_id: uuid.UUID):
    course = _course(course_id)
    with on_refusal(redirect_to_url=url_for("authoring.course", course_id=course_id)):
        courses.delete_course(current_user, course)
    flash(_("The course was deleted."), "success")
    return redirect_to(url_for("authoring.courses_index"))


@bp.route("/courses/<uuid:course_id>/sections", methods=["POST"])
@roles_required(*AUTHORS)
def add_section(course_id: uuid.UUID):
    course = _course(course_id)
    title = request.form.get("title", "")
    return _after_structure_change(course_id, lambda: structure.add_section(current_user, course, title))


@bp.route("/sections/<uuid:section_id>", methods=["POST"])
@roles_required(*AUTHORS)
def rename_section(section_id: uuid.UUID):
    section = structure.section_for_author(current_user, section_id)
    title = request.form.get("title", "")
    return _after_structure_change(section.course_id,
                                   lambda: structure.rename_section(current_user, section, title))


@bp.route("/sections/<uuid:section_id>/move", methods=["POST"])
@roles_required(*AUTHORS)
def move_section(section_id: uuid.UUID):
    section = structure.section_for_author(current_user, section_id)
    direction = request.form.get("direction", "")
    return _after_structure_change(section.course_id,
                                   lambda: structure.move_section(current_user, section, direction))


@bp.route("/sections/<uuid:section_id>/delete", methods=["POST"])
@roles_required(*AUTHORS)
def delete_section(section_id: uuid.UUID):
    section = structure.section_for_author(current_user, section_id)
    return _after_structure_change(section.course_id, lambda: structure.delete_section(current_user, section),
                                   _("Section deleted."))


@bp.route("/sections/<uuid:section_id>/lessons", methods=["POST"])
@roles_required(*AUTHORS)
def add_lesson(section_id: uuid.UUID):
    section = structure.section_for_author(current_user, section_id)
    title = request.form.get("title", "")
    return _after_structure_change(section.course_id, lambda: structure.add_lesson(current_user, section, title))


@bp.route("/lessons/<uuid:lesson_id>/move", methods=["POST"])
@roles_required(*AUTHORS)
def move_lesson(lesson_id: uuid.UUID):
    lesson = structure.lesson_for_author(current_user, lesson_id)
    direction = request.form.get("direction", "")
    return _after_structure_change(lesson.section.course_id,
                                   lambda: structure.move_lesson(current_user, lesson, direction))


@bp.route("/lessons/<uuid:lesson_id>/delete", methods=["POST"])
@roles_required(*AUTHORS)
def delete_lesson(lesson_id: uuid.UUID):
    lesson = structure.lesson_for_author(current_user, lesson_id)
    return _after_structure_change(lesson.section.course_id, lambda: structure.delete_lesson(current_user, lesson),
                                   _("Lesson deleted."))


def _lesson_page(lesson, form=None, error=None, status=200, block="lesson_details"):
    return render("authoring/lesson.html", block=block, status=status, lesson=lesson,
                  form=form or LessonForm(obj=lesson), error=error, exercise_types=REGISTRY)


@bp.route("/lessons/<uuid:lesson_id>", methods=["GET", "POST"])
@roles_required(*AUTHORS)
def lesson(lesson_id: uuid.UUID):
    lesson = structure.lesson_for_author(current_user, lesson_id)
    form = LessonForm(obj=lesson)
    if form.validate_on_submit():
        with on_refusal(lambda refused: _lesson_page(lesson, form, refused.message)):
            structure.update_lesson(current_user, lesson, form.title.data, form.description.data)
        flash(_("Lesson saved."), "success")
        return redirect_to(url_for("authoring.lesson", lesson_id=lesson.id))
    return _lesson_page(lesson, form, status=form_status())


def _after_exercise_change(lesson, action, success: str | None = None):
    back = url_for("authoring.lesson", lesson_id=lesson.id)
    with on_refusal(lambda refused: _lesson_page(lesson, error=refused.message, block="exercise_list"),
                    redirect_to_url=back):
        action()
    if is_htmx():
        return _lesson_page(lesson, block="exercise_list")
    if success:
        flash(success, "success")
    return redirect_to(back)


@bp.route("/exercises/<uuid:exercise_id>/move", methods=["POST"])
@roles_required(*AUTHORS)
def move_exercise(exercise_id: uuid.UUID):
    exercise = structure.exercise_for_author(current_user, exercise_id)
    direction = request.form.get("direction", "")
    return _after_exercise_change(exercise.lesson,
                                  lambda: structure.move_exercise(current_user, exercise, direction))


@bp.route("/exercises/<uuid:exercise_id>/delete", methods=["POST"])
@roles_required(*AUTHORS)
def delete_exercise(exercise_id: uuid.UUID):
    exercise = structure.exercise_for_author(current_user, exercise_id)
    lesson = exercise.lesson
    return _after_exercise_change(lesson, lambda: exercises.delete_exercise(current_user, exercise),
                                  _("Exercise deleted."))


def _exercise_form(kind, form, lesson, exercise, save):
    """Shared by new and edit: a row button re-renders, an invalid form answers 422, a valid one is saved.

    None once saved; otherwise the page to answer with.
    """
    if request.method == "POST" and kind.handle_row_action(form):
        return _exercise_form_page(kind, form, lesson, exercise)
    if not form.validate_on_submit():
        return _exercise_form_page(kind, form, lesson, exercise, status=form_status())
    with on_refusal(lambda refused: _exercise_form_page(kind, form, lesson, exercise, error=refused.message)):
        # The type builds the content (and may store an upload); the use case deletes that file if refused.
        save(kind.content_from_form(form))
    return None


@bp.route("/lessons/<uuid:lesson_id>/exercises/new/<kind_name>", methods=["GET", "POST"])
@roles_required(*AUTHORS)
def new_exercise(lesson_id: uuid.UUID, kind_name: str):
    lesson = structure.lesson_for_author(current_user, lesson_id)
    try:
        kind = get_type(kind_name)
    except KeyError:
        abort(404)
    form = kind.form_class()

    def save(content):
        exercises.create_exercise(current_user, lesson, type_name=kind.name, title=form.title.data, content=content,
                                  estimated_duration=form.estimated_duration.data)

    page = _exercise_form(kind, form, lesson, None, save)
    if page is not None:
        return page
    flash(_("Exercise added."), "success")
    return redirect_to(url_for("authoring.lesson", lesson_id=lesson.id))


@bp.route("/exercises/<uuid:exercise_id>", methods=["GET", "POST"])
@roles_required(*AUTHORS)
def edit_exercise(exercise_id: uuid.UUID):
    exercise = structure.exercise_for_author(current_user, exercise_id)
    kind = get_type(exercise.type)
    form = kind.form_class(data=None if request.method == "POST" else {
        **kind.form_data(exercise.content), "title": exercise.title,
        "estimated_duration": exercise.estimated_duration})

    def save(content):
        exercises.update_exercise(current_user, exercise, title=form.title.data, content=content,
                                  estimated_duration=form.estimated_duration.data)

    page = _exercise_form(kind, form, exercise.lesson, exercise, save)
    if page is not None:
        return page
    flash(_("Exercise saved."), "success")
    return redirect_to(url_for("authoring.lesson", lesson_id=exercise.lesson_id))


def _exercise_form_page(kind, form, lesson, exercise=None, error=None, status=200):
    return render("authoring/exercise_form.html", block="exercise_form", status=status, kind=kind, form=form,
                  lesson=lesson, exercise=exercise, error=error)


@bp.route("/lessons/<uuid:lesson_id>/preview")
@roles_required(*AUTHORS)
def preview_lesson(lesson_id: uuid.UUID):
    lesson = structure.lesson_for_author(current_user, lesson_id)
    return render("authoring/preview.html", lesson=lesson, exercise_types=REGISTRY)


@bp.route("/videos/<path:key>")
@login_required
def video_file(key: str):
    return serve_file(learning.video_for(current_user, key))
