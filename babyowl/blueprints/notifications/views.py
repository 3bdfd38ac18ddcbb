"""Notifications: the bell, the list, email choices, unsubscribe links, and failed emails for staff."""
from __future__ import annotations

import uuid

from flask import Blueprint, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from babyowl.authz import STAFF_ROLES, roles_required
from babyowl.blueprints.notifications.forms import PreferencesForm
from babyowl.blueprints.params import form_status, page_number
from babyowl.errors import on_refusal
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.services import failed_mail, notifications

bp = Blueprint("notifications", __name__)

# The bell listens for this event; every view that reads notifications sends it.
CHANGED_EVENT = "notifications-changed"


def _changed(response):
    response.headers["HX-Trigger"] = CHANGED_EVENT
    return response


def _list_page(block=None, notice=None):
    page = notifications.notifications_page(current_user, page_number())
    return render("notifications/index.html", block=block, page=page, notice=notice,
                  unread=notifications.unread_count(current_user))


@bp.route("/notifications")
@login_required
def index():
    return _list_page(block="notification_list")


@bp.route("/notifications/bell")
@login_required
def bell():
    response = render("notifications/_bell.html", unread=notifications.unread_count(current_user))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/notifications/<uuid:notification_id>/read", methods=["POST"])
@login_required
def mark_read(notification_id: uuid.UUID):
    notification = notifications.mark_read(current_user, notification_id)
    if is_htmx():
        return _changed(render("notifications/index.html", block="notification_row", n=notification))
    flash(_("Marked as read."), "success")
    return redirect_to(url_for("notifications.index"))


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def mark_all_read():
    count = notifications.mark_all_read(current_user)
    message = _("Every notification is marked as read.") if count else _("There was nothing unread.")
    if is_htmx():
        return _changed(_list_page(block="notification_list", notice=message))
    flash(message, "success")
    return redirect_to(url_for("notifications.index"))


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    form = PreferencesForm()
    if not form.is_submitted():
        choices = notifications.email_choices(current_user)
        form.emails.data = [kind for kind, wanted in choices.items() if wanted]
        form.language.data = notifications.language_of(current_user)
    if form.validate_on_submit():
        with on_refusal(lambda refused: _preferences_page(form, refused.message)):
            notifications.save_preferences(current_user, emails_for=form.emails.data or [],
                                           language=form.language.data)
        flash(_("Your notification settings are saved."), "success")
        return redirect_to(url_for("notifications.preferences"))
    return _preferences_page(form)


def _preferences_page(form, error=None):
    return render("notifications/preferences.html", block="preferences_form", status=form_status(), form=form,
                  error=error)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    with on_refusal(lambda refused: render("notifications/unsubscribe.html", problem=refused.message)):
        if request.method == "POST":
            user, kind = notifications.unsubscribe(token)
            flash(_("Done: you will no longer get emails about “%(kind)s”.", kind=notifications.KINDS[kind]),
                  "success")
            return redirect_to(url_for("notifications.unsubscribe", token=token))
        user, kind = notifications.read_unsubscribe_token(token)
    return render("notifications/unsubscribe.html", token=token, kind_name=notifications.KINDS[kind],
                  subscribed=notifications.wants_email(user.id, kind), email=user.email)


def _failed_list(notice=None, error=None):
    listed = failed_mail.failed_emails()
    return render("notifications/failed_mail.html", block="failed_list", mails=listed.mails, problem=listed.problem,
                  notice=notice, error=error)


@bp.route("/admin/failed-mail")
@roles_required(*STAFF_ROLES)
def failed_mail_index():
    return _failed_list()


@bp.route("/admin/failed-mail/<job_id>/resend", methods=["POST"])
@roles_required(*STAFF_ROLES)
def resend_mail(job_id: str):
    back = url_for("notifications.failed_mail_index")
    with on_refusal(lambda refused: _failed_list(error=refused.message), redirect_to_url=back):
        failed_mail.resend(job_id)
    message = _("The email is queued to be sent again.")
    if is_htmx():
        return _failed_list(notice=message)
    flash(message, "success")
    return redirect_to(back)
