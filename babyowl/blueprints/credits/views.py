"""An enrollment's meeting credits: the history that explains them, adjustments and mark corrections."""
from __future__ import annotations

import uuid

from flask import Blueprint, flash, url_for
from flask_babel import gettext as _
from flask_login import current_user

from babyowl.authz import ALL_ROLES, TEACHING_ROLES, roles_required
from babyowl.blueprints.credits.forms import CREDIT_REASON_NAMES, AdjustCreditsForm, CorrectMarkForm
from babyowl.blueprints.params import parse_uuid
from babyowl.errors import on_refusal
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.services import credits

bp = Blueprint("credits", __name__)


def _page(enrollment, *, adjust_form=None, error=None, mark_error=None, confirm_above_package=False, status=200):
    """The whole page, or its credits block for htmx (every form on it swaps that block)."""
    return render("credits/history.html", block="credits", status=status, enrollment=enrollment,
                  history=credits.history(enrollment), adjust_form=adjust_form or AdjustCreditsForm(formdata=None),
                  can_adjust=credits.may_adjust(current_user, enrollment.school_class),
                  out_of_credits=credits.is_out_of_credits(enrollment), reason_names=CREDIT_REASON_NAMES,
                  error=error, mark_error=mark_error, confirm_above_package=confirm_above_package)


def _done(enrollment, message: str):
    if is_htmx():
        return _page(enrollment)
    flash(message, "success")
    return redirect_to(url_for("credits.history", enrollment_id=enrollment.id))


@bp.route("/enrollments/<uuid:enrollment_id>/credits")
@roles_required(*ALL_ROLES)
def history(enrollment_id: uuid.UUID):
    return _page(credits.enrollment_for(current_user, enrollment_id))


@bp.route("/enrollments/<uuid:enrollment_id>/credits/adjust", methods=["POST"])
@roles_required(*TEACHING_ROLES)
def adjust(enrollment_id: uuid.UUID):
    enrollment = credits.enrollment_for(current_user, enrollment_id)
    form = AdjustCreditsForm()
    if not form.validate():
        return _page(enrollment, adjust_form=form, status=422)
    # Refused: the same form comes back (same key), with the confirmation box when staff may confirm.
    with on_refusal(lambda refused: _page(enrollment, adjust_form=form, error=refused.message,
                                          confirm_above_package=getattr(refused, "may_confirm", False),
                                          status=refused.status_code)):
        credits.adjust(current_user, enrollment, adjustment=form.adjustment, reason=form.reason.data,
                       detail=form.detail.data, key=parse_uuid(form.key.data),
                       above_package_confirmed=form.above_package.data)
    return _done(enrollment, _("Credits adjusted."))


@bp.route("/enrollments/<uuid:enrollment_id>/meetings/<int:meeting_number>/mark", methods=["POST"])
@roles_required(*TEACHING_ROLES)
def correct_mark(enrollment_id: uuid.UUID, meeting_number: int):
    enrollment = credits.enrollment_for(current_user, enrollment_id)
    form = CorrectMarkForm()
    if not form.validate():
        return _page(enrollment, mark_error=(meeting_number, next(iter(form.errors.values()))[0]), status=422)
    with on_refusal(lambda refused: _page(enrollment, mark_error=(meeting_number, refused.message),
                                          status=refused.status_code)):
        changed = credits.correct_mark(current_user, enrollment, meeting_number=meeting_number,
                                       status=form.status.data, reason=form.reason.data)
    return _done(enrollment, _("Mark of meeting %(n)d changed.", n=meeting_number) if changed
                 else _("Meeting %(n)d already had this mark.", n=meeting_number))
