"""Classes: management and enrollment (staff), lesson unlocking (instructor), the class page (everyone in it)."""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from babyowl.blueprints.params import form_status, page_number, parse_uuid
from babyowl.authz import STAFF_ROLES, TEACHING_ROLES, UNLOCKERS, is_staff, roles_required
from babyowl.blueprints.classes.forms import ClassForm, ContinuationForm, EnrollForm
from babyowl.exercise_types import REGISTRY
from babyowl.models import CLASS_STATUSES, CLASS_TYPES
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.services import classes
from babyowl.services.class_rules import rules_for
from babyowl.services.classes import ClassDetails
from babyowl.errors import on_refusal

bp = Blueprint("classes", __name__)


def _choices():
    return classes.form_choices()


@bp.route("/classes")
@roles_required(*TEACHING_ROLES)
def index():
    filters = {"status": request.args.get("status", "") if request.args.get("status") in CLASS_STATUSES else "",
               "type_": request.args.get("type", "") if request.args.get("type") in CLASS_TYPES else "",
               "instructor_id": parse_uuid(request.args.get("instructor")),
               "course_id": parse_uuid(request.args.get("course"))}
    page = classes.search_classes(current_user, **filters, page=page_number())
    courses, instructors = _choices()
    return render("classes/index.html", block="results", page=page, filters=filters, statuses=CLASS_STATUSES,
                  types=CLASS_TYPES, staff=is_staff(current_user),
                  courses=courses, instructors=instructors)


def _details(form: ClassForm) -> ClassDetails:
    meetings = form.custom_meetings.data if form.package.data == "custom" else int(form.package.data)
    return ClassDetails(name=form.name.data, course_id=parse_uuid(form.course_id.data),
                        instructor_id=parse_uuid(form.instructor_id.data), type=form.type.data,
                        total_meetings=meetings or 0, max_capacity=form.max_capacity.data,
                        days=tuple(form.days.data or ()), start_time=form.start_time.data,
                        end_time=form.end_time.data, enrollment_deadline=form.enrollment_deadline.data,
                        start_date=form.start_date.data, end_date=form.end_date.data)


def _class_form_page(form, school_class=None, error=None):
    return render("classes/form.html", block="class_form", status=form_status(),
                  form=form, school_class=school_class, error=error)


@bp.route("/classes/new", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def new_class():
    courses, instructors = _choices()
    form = ClassForm(courses=courses, instructors=instructors)
    if form.validate_on_submit():
        with on_refusal(lambda refused: _class_form_page(form, error=refused.message)):
            school_class = classes.create_class(current_user, _details(form))
        flash(_("Class created as a draft. Enroll students, then open it."), "success")
        return redirect_to(url_for("classes.show", class_id=school_class.id))
    return _class_form_page(form)


@bp.route("/classes/<uuid:class_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def edit_class(class_id: uuid.UUID):
    school_class = classes.class_for(current_user, class_id)
    courses, instructors = _choices()
    form = ClassForm(courses=courses, instructors=instructors, obj=school_class)
    if request.method == "GET":
        form.course_id.data = str(school_class.course_id)
        form.instructor_id.data = str(school_class.instructor_id or "")
        form.package.data = classes.package_choice(school_class.total_meetings)
        form.custom_meetings.data = school_class.total_meetings
        form.days.data = (school_class.schedule or {}).get("days", [])
    if form.validate_on_submit():
        with on_refusal(lambda refused: _class_form_page(form, school_class, refused.message)):
            classes.update_class(current_user, school_class, _details(form))
        flash(_("Class saved."), "success")
        return redirect_to(url_for("classes.show", class_id=class_id))
    return _class_form_page(form, school_class)


def _class_page(school_class, error=None, status=200, block=None, enroll_form=None, enrolled=None, offer=None):
    """The class page, or one of its blocks for htmx.

    `enroll_form` is the posted form when it comes back refused (what was
    typed and picked stays); otherwise a new, empty one. `enrolled` is the
    confirmation after a success; `offer` the existing account an email
    belongs to, offered to enroll explicitly.
    """
    teaching = classes.can_teach(current_user, school_class)
    rules = rules_for(school_class)
    enroll_form = enroll_form or EnrollForm(formdata=None)
    picked = classes.student_choice(parse_uuid(enroll_form.student_id.data)) if enroll_form.student_id.data else None
    query = request.args.get("q", "")[:100]
    matches = classes.find_students(query) if "q" in request.args else []
    if picked is not None and picked not in matches:
        matches = [picked, *matches]
    return render("classes/show.html", block=block, status=status, school_class=school_class,
                  roster=classes.roster(school_class) if current_user.role != "student" else [],
                  plan=classes.lesson_plan(school_class), teaching=teaching,
                  staff=is_staff(current_user), error=error, enroll_form=enroll_form, enrolled=enrolled,
                  offer=offer, picked=picked, my_enrollment=_my_enrollment(school_class), query=query,
                  matches=matches, rules=rules, next_statuses=rules.next_statuses(school_class))


def _my_enrollment(school_class):
    if current_user.role != "student":
        return None
    return classes.enrollment_of(current_user, school_class)


@bp.route("/classes/<uuid:class_id>")
@login_required
def show(class_id: uuid.UUID):
    return _class_page(classes.class_for(current_user, class_id))


@bp.route("/classes/<uuid:class_id>/status", methods=["POST"])
@roles_required(*STAFF_ROLES)
def change_status(class_id: uuid.UUID):
    school_class = classes.class_for(current_user, class_id)
    back = url_for("classes.show", class_id=class_id)
    with on_refusal(redirect_to_url=back):
        classes.change_status(current_user, school_class, request.form.get("status", ""))
    return redirect_to(back)


@bp.route("/classes/<uuid:class_id>/enrollments", methods=["POST"])
@roles_required(*STAFF_ROLES)
def enroll(class_id: uuid.UUID):
    school_class = classes.class_for(current_user, class_id)
    form = EnrollForm()
    if not form.validate_on_submit():
        return _class_page(school_class, status=422, block="enroll_panel", enroll_form=form)
    # A refusal re-renders the panel for htmx and plain posts alike, so the picked student and what was typed stay.
    with on_refusal(lambda refused: _class_page(school_class, refused.message, refused.status_code, "enroll_panel",
                                                form, offer=getattr(refused, "existing", None))):
        enrollment = classes.enroll_student_or_invite(
            current_user, school_class, student_id=parse_uuid(form.student_id.data), full_name=form.full_name.data,
            email=form.email.data, paid_at_desk=form.paid_at_desk.data)
    message = _("%(name)s is enrolled with %(n)d meeting credits.", name=enrollment.student.full_name,
                n=enrollment.meeting_credits)
    if is_htmx():
        return _class_page(classes.class_for(current_user, class_id), block="enroll_panel", enrolled=message)
    flash(message, "success")
    return redirect_to(url_for("classes.show", class_id=class_id))


@bp.route("/classes/<uuid:class_id>/students")
@roles_required(*STAFF_ROLES)
def find_students(class_id: uuid.UUID):
    school_class = classes.class_for(current_user, class_id)
    query = request.args.get("q", "")[:100]
    return render("classes/show.html", block="student_matches", school_class=school_class, query=query,
                  matches=classes.find_students(query))


@bp.route("/enrollments/<uuid:enrollment_id>/withdraw", methods=["POST"])
@roles_required(*STAFF_ROLES)
def withdraw(enrollment_id: uuid.UUID):
    enrollment = classes.enrollment_by_id(enrollment_id)
    back = url_for("classes.show", class_id=enrollment.class_id)
    with on_refusal(redirect_to_url=back):
        classes.withdraw(current_user, enrollment)
    flash(_("%(name)s has been withdrawn; their history is kept.", name=enrollment.student.full_name), "success")
    return redirect_to(back)


@bp.route("/classes/<uuid:class_id>/unlock-lesson", methods=["POST"])
@roles_required(*UNLOCKERS)
def unlock_lesson(class_id: uuid.UUID):
    school_class = classes.class_for(current_user, class_id)
    if not classes.can_teach(current_user, school_class):
        abort(403)
    back = url_for("classes.show", class_id=class_id)
    with on_refusal(lambda refused: _class_page(school_class, refused.message, refused.status_code, "unlock_panel"),
                    redirect_to_url=back):
        lesson = classes.unlock_next_lesson(current_user, school_class)
    if is_htmx():
        return _class_page(classes.class_for(current_user, class_id), block="unlock_panel")
    flash(_("“%(lesson)s” is unlocked; the students have been told.", lesson=lesson.title), "success")
    return redirect_to(back)


@bp.route("/classes/<uuid:class_id>/continue", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def continue_private(class_id: uuid.UUID):
    group = classes.class_for(current_user, class_id)
    from wtforms.fields.choices import SelectChoice

    form = ContinuationForm(total_meetings=classes.default_continuation_meetings(group),
                            name=_("%(class)s — private", **{"class": group.name}))
    form.student_id.choices = [SelectChoice(str(e.student_id), e.student.full_name) for e in classes.roster(group)]
    instructors = _choices()[1]
    form.instructor_id.choices = [SelectChoice(str(u.id), u.full_name) for u in instructors]
    def page(error=None):
        return render("classes/continue.html", block="continue_form", status=form_status(),
                      form=form, group=group, error=error)

    if form.validate_on_submit():
        with on_refusal(lambda refused: page(refused.message)):
            private = classes.continue_as_private(
                current_user, group, classes.student_choice(parse_uuid(form.student_id.data)), name=form.name.data,
                instructor_id=parse_uuid(form.instructor_id.data), total_meetings=form.total_meetings.data,
                start_date=form.start_date.data)
        flash(_("Private class created, continuing %(class)s.", **{"class": group.name}), "success")
        return redirect_to(url_for("classes.show", class_id=private.id))
    return page()


@bp.route("/classes/<uuid:class_id>/lessons/<uuid:lesson_id>")
@login_required
def lesson(class_id: uuid.UUID, lesson_id: uuid.UUID):
    if current_user.role == "student":
        # Students work through the lesson in the player, which records their progress.
        return redirect_to(url_for("learn.lesson", class_id=class_id, lesson_id=lesson_id))
    school_class = classes.class_for(current_user, class_id)
    return render("classes/lesson.html", school_class=school_class,
                  lesson=classes.lesson_for_class(current_user, school_class, lesson_id), exercise_types=REGISTRY)
