"""Notifications: the bell, the list, email choices, unsubscribe links, and failed emails for staff."""
from __future__ import annotations

import uuid

from flask import Blueprint, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from babyowl.authz import STAFF_ROLES, roles_required
from babyowl.blueprints.notifications.forms import PreferencesForm
from babyowl.blueprints.params import form_status, page_number
from babyowl.extensions import db
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.services import failed_mail, notifications
from babyowl.services.errors import DomainError

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
    error = None
    if form.validate_on_submit():
        try:
            notifications.save_preferences(current_user, emails_for=form.emails.data or [],
                                           language=form.language.data)
        except DomainError as refused:
            db.session.rollback()
            error = refused.message
        else:
            flash(_("Your notification settings are saved."), "success")
            return redirect_to(url_for("notifications.preferences"))
    status = 422 if error else form_status()
    return render("notifications/preferences.html", block="preferences_form", status=status, form=form,
                  error=error)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    try:
        if request.method == "POST":
            user, kind = notifications.unsubscribe(token)
            flash(_("Done: you will no longer get emails about “%(kind)s”.", kind=notifications.KINDS[kind]),
                  "success")
            return redirect_to(url_for("notifications.unsubscribe", token=token))
        user, kind = notifications.read_unsubscribe_token(token)
    except notifications.InvalidUnsubscribeLink as refused:
        db.session.rollback()
        return render("notifications/unsubscribe.html", status=refused.status_code, problem=refused.message)
    return render("notifications/unsubscribe.html", token=token, kind_name=notifications.KINDS[kind],
                  subscribed=notifications.wants_email(user.id, kind), email=user.email)


@bp.route("/admin/failed-mail")
@roles_required(*STAFF_ROLES)
def failed_mail_index():
    try:
        mails, problem = failed_mail.failed_emails(), None
    except failed_mail.NoJobQueue as refused:
        mails, problem = [], refused.message
    return render("notifications/failed_mail.html", block="failed_list", mails=mails, problem=problem)


@bp.route("/admin/failed-mail/<job_id>/resend", methods=["POST"])
@roles_required(*STAFF_ROLES)
def resend_mail(job_id: str):
    try:
        failed_mail.resend(job_id)
    except DomainError as refused:
        message, category = refused.message, "error"
    else:
        message, category = _("The email is queued to be sent again."), "success"
    if is_htmx():
        try:
            mails, problem = failed_mail.failed_emails(), None
        except failed_mail.NoJobQueue as refused:
            mails, problem = [], refused.message
        return render("notifications/failed_mail.html", block="failed_list", mails=mails, problem=problem,
                      notice=message if category == "success" else None,
                      error=message if category == "error" else None)
    flash(message, category)
    return redirect_to(url_for("notifications.failed_mail_index"))
