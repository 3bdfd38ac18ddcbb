"""Taking attendance on a tablet: one tap per student, saved at once; the whole grid as one plain post."""
from __future__ import annotations

import uuid
from datetime import date

from flask import Blueprint, abort, flash, jsonify, request, url_for
from flask_babel import gettext as _
from flask_babel import get_locale, ngettext
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from babyowl.blueprints.params import parse_uuid
from babyowl.authz import STAFF_ROLES, TEACHING_ROLES, roles_required
from babyowl.errors import error_response, on_refusal
from babyowl.extensions import limiter
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.services import attendance, classes, credits
from babyowl.services.errors import InvalidInput
from babyowl.services.school_time import school_today

bp = Blueprint("attendance", __name__)


def _taken_class(class_id: uuid.UUID):
    school_class = classes.class_for(current_user, class_id)
    if not attendance.may_take(current_user, school_class):
        abort(403)
    return school_class


def _int(value, default: int | None = None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _date(value) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError as exc:
        raise InvalidInput(_("Enter a date such as 2026-12-31.")) from exc




_SHEET_WORDS: dict[str, dict[str, str]] = {}


def _sheet_words() -> dict[str, str]:
    """The sheet's fixed words, translated once per language and process: each row used to translate its ten
    (issue 22: ~350 gettext calls made a third of a 30-student grid's CPU), then every answer its eleven (a
    twentieth of a tap's). The catalogs do not change while the app runs. The template fills in the numbers."""
    locale = str(get_locale())
    words = _SHEET_WORDS.get(locale)
    if words is None:
        words = _SHEET_WORDS[locale] = {
            "present": _("Present"), "late": _("Late"), "absent": _("Absent"), "meeting": _("Meeting %(n)d"),
            "credits_left": _("Credits left: %(n)d"), "left": _("%(n)d left"),
            "no_credits": _("no credits left: marking present or late goes below zero"),
            "attendance_of": _("Attendance of %(name)s"), "note": _("Note (optional)"),
            "note_for": _("Note for %(name)s"), "saved": _("Saved")}
    return words


def _grid_page(school_class, meeting_number: int, error: str | None = None, status: int = 200, block=None,
               confirmation: str | None = None, meeting=None):
    """`meeting`: `attendance.sheet_meeting`'s answer for this meeting, when the caller read it already."""
    meeting_date, next_number = meeting or attendance.sheet_meeting(school_class, meeting_number)
    rows = attendance.grid(school_class, meeting_number)
    return render("attendance/take.html", block=block, status=status, school_class=school_class,
                  meeting_number=meeting_number, meeting_date=meeting_date or school_today(),
                  date_fixed=meeting_date is not None, rows=rows, tally=attendance.tally(rows),
                  error=error, confirmation=confirmation, next_number=next_number,
                  words=_sheet_words())


def _back_to_sheet(class_id: uuid.UUID, meeting: int) -> str:
    return url_for("attendance.take", class_id=class_id, meeting=meeting or None)


@bp.route("/classes/<uuid:class_id>/attendance")
@roles_required(*TEACHING_ROLES)
def take(class_id: uuid.UUID):
    asked = _int(request.args.get("meeting"))
    # The class and the asked meeting's date in one read (issue 22); the refusals are _taken_class's.
    school_class, sheet = attendance.class_with_sheet_meeting(class_id, asked or 0)
    if school_class is None or not attendance.may_take(current_user, school_class):
        school_class = _taken_class(class_id)
    meeting = asked or attendance.proposed_meeting_number(school_class)
    meeting = min(max(1, meeting), school_class.total_meetings)
    return _grid_page(school_class, meeting, meeting=sheet if meeting == asked else None)


@bp.route("/attendance/csrf-token")
@roles_required(*TEACHING_ROLES)
@limiter.exempt
def csrf_token():
    """A fresh CSRF token for the sheet's queued taps after theirs expired (a tablet left open for hours)."""
    response = jsonify(token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/classes/<uuid:class_id>/attendance/mark", methods=["POST"])
@roles_required(*TEACHING_ROLES)
def mark(class_id: uuid.UUID):
    """One tap. htmx gets the row back (saved or refused); a plain post goes back to the grid.

    The use case reads the class itself (locked, then checked): not found and not allowed are its refusals."""
    meeting = _int(request.form.get("meeting_number"), 0)
    enrollment_id = parse_uuid(request.form.get("enrollment_id"))
    back = _back_to_sheet(class_id, meeting)
    with on_refusal(lambda refused: _row(class_id, meeting, enrollment_id, refused.message),
                    redirect_to_url=back):
        if enrollment_id is None:
            raise InvalidInput(_("This student is not active in the class."))
        record = attendance.mark(current_user, class_id, enrollment_id=enrollment_id, meeting_number=meeting,
                                 status=request.form.get("status", ""),
                                 meeting_date=_date(request.form.get("meeting_date")),
                                 note=request.form.get("note"), key=parse_uuid(request.form.get("key")))
    if is_htmx():
        # The row as the tap left it; a re-sent tap whose record is gone is read afresh.
        return _row(class_id, meeting, enrollment_id, saved=attendance.saved_row(record) if record else None)
    return redirect_to(back)


def _row(class_id: uuid.UUID, meeting: int, enrollment_id, error: str | None = None, saved=None):
    row = saved or attendance.grid_row(current_user, class_id, enrollment_id, meeting)
    if row is None:
        if error:  # no row to show the refusal on (an id that is not of this class, or not the actor's class)
            return error_response(422, error)
        abort(404)
    return render("attendance/take.html", block="row", meeting_number=meeting, row=row, row_error=error,
                  saved=error is None, words=_sheet_words())


@bp.route("/classes/<uuid:class_id>/attendance/all-present", methods=["POST"])
@roles_required(*TEACHING_ROLES)
def all_present(class_id: uuid.UUID):
    school_class = _taken_class(class_id)
    meeting = _int(request.form.get("meeting_number"), 0)
    back = _back_to_sheet(class_id, meeting)
    with on_refusal(lambda refused: _grid_page(school_class, min(max(meeting, 1), school_class.total_meetings),
                                               refused.message, block="grid"), redirect_to_url=back):
        count = attendance.mark_all_present(current_user, school_class, meeting_number=meeting,
                                            meeting_date=_date(request.form.get("meeting_date")),
                                            key=parse_uuid(request.form.get("key")))
    done = ngettext("%(num)d student marked present.", "%(num)d students marked present.", count)
    if is_htmx():
        return _grid_page(school_class, meeting, block="grid", confirmation=done)
    flash(done, "success")
    return redirect_to(back)


@bp.route("/classes/<uuid:class_id>/attendance", methods=["POST"])
@roles_required(*TEACHING_ROLES)
def save_sheet(class_id: uuid.UUID):
    """The grid as one form post, for a browser without JavaScript."""
    school_class = _taken_class(class_id)
    meeting = _int(request.form.get("meeting_number"), 0)
    marks = {}
    for name, value in request.form.items():
        if name.startswith("status-") and (enrollment_id := parse_uuid(name.removeprefix("status-"))):
            marks[enrollment_id] = (value or None, request.form.get(f"note-{enrollment_id}"))
    back = _back_to_sheet(class_id, meeting)
    with on_refusal(redirect_to_url=back):
        changed = attendance.save_sheet(current_user, school_class, meeting_number=meeting,
                                        meeting_date=_date(request.form.get("meeting_date")), marks=marks)
    flash(ngettext("%(num)d mark saved.", "%(num)d marks saved.", changed), "success")
    return redirect_to(back)


@bp.route("/attendance/out-of-credits")
@roles_required(*STAFF_ROLES)
def out_of_credits():
    return render("attendance/out_of_credits.html", enrollments=credits.out_of_credits())
