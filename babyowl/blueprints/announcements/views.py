"""Class announcements: the class's instructor and staff write and schedule them, students read them."""
from __future__ import annotations

import uuid

from flask import Blueprint, flash, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from babyowl.authz import TEACHING_ROLES, roles_required
from babyowl.blueprints.announcements.forms import AnnouncementForm
from babyowl.blueprints.params import form_status
from babyowl.errors import on_refusal
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.services import announcements
from babyowl.services.school_time import in_school_time, school_moment

bp = Blueprint("announcements", __name__)


@bp.app_context_processor
def announcement_helpers():
    # For the one-line includes in the class page and the dashboard: they fetch their own rows.
    return {"announcements_for_student": announcements.for_student}


def _send_at(form: AnnouncementForm):
    if form.when.data != "later":
        return None
    return school_moment(form.send_date.data, form.send_time.data)


def _index_page(school_class, form=None, error=None, status=200, block=None, notice=None):
    managing = announcements.may_manage(current_user, school_class)
    return render("announcements/index.html", block=block, status=status, school_class=school_class,
                  managing=managing, form=form or AnnouncementForm(), error=error, notice=notice,
                  rows=announcements.class_announcements(current_user, school_class) if managing else [],
                  student_rows=[] if managing else announcements.for_student(current_user, class_id=school_class.id))


@bp.route("/classes/<uuid:class_id>/announcements")
@login_required
def index(class_id: uuid.UUID):
    return _index_page(announcements.class_to_read(current_user, class_id))


@bp.route("/classes/<uuid:class_id>/announcements", methods=["POST"])
@roles_required(*TEACHING_ROLES)
def create(class_id: uuid.UUID):
    school_class = announcements.class_to_manage(current_user, class_id)
    form = AnnouncementForm()
    if not form.validate_on_submit():
        return _index_page(school_class, form=form, status=422, block="announcements_panel")
    with on_refusal(lambda refused: _index_page(school_class, form=form, error=refused.message,
                                                status=refused.status_code, block="announcements_panel")):
        announcement = announcements.create_announcement(current_user, school_class, title=form.title.data,
                                                         content=form.content.data, send_at=_send_at(form))
    message = _sent_or_scheduled(announcement)
    if is_htmx():
        return _index_page(school_class, block="announcements_panel", notice=message)
    flash(message, "success")
    return redirect_to(url_for("announcements.index", class_id=class_id))


def _sent_or_scheduled(announcement) -> str:
    from babyowl.i18n import datetime_local

    if announcement.scheduled_at is None:
        return _("“%(title)s” is sent to the class.", title=announcement.title)
    return _("“%(title)s” will be sent on %(when)s.", title=announcement.title,
             when=datetime_local(announcement.scheduled_at, "full"))


@bp.route("/announcements/<uuid:announcement_id>")
@login_required
def show(announcement_id: uuid.UUID):
    announcement = announcements.open_announcement(current_user, announcement_id)
    managing = announcements.may_manage(current_user, announcement.school_class)
    return render("announcements/show.html", announcement=announcement, managing=managing,
                  reads=announcements.read_by(announcement) if managing else [])


@bp.route("/announcements/<uuid:announcement_id>/edit", methods=["GET", "POST"])
@roles_required(*TEACHING_ROLES)
def edit(announcement_id: uuid.UUID):
    announcement = announcements.announcement_for(current_user, announcement_id, manage=True)
    back = url_for("announcements.index", class_id=announcement.class_id)
    with on_refusal(redirect_to_url=back):
        announcements.ensure_open(announcement)
    form = AnnouncementForm(obj=announcement)
    if not form.is_submitted() and announcement.scheduled_at:
        local = in_school_time(announcement.scheduled_at)
        form.when.data, form.send_date.data, form.send_time.data = "later", local.date(), local.time()

    def page(error=None, status=None):
        return render("announcements/edit.html", block="announcement_form", status=status or form_status(),
                      form=form, announcement=announcement, error=error)

    if form.validate_on_submit():
        with on_refusal(lambda refused: page(refused.message, refused.status_code)):
            announcements.update_announcement(current_user, announcement, title=form.title.data,
                                              content=form.content.data, send_at=_send_at(form))
        flash(_sent_or_scheduled(announcement), "success")
        return redirect_to(back)
    return page()


@bp.route("/announcements/<uuid:announcement_id>/cancel", methods=["POST"])
@roles_required(*TEACHING_ROLES)
def cancel(announcement_id: uuid.UUID):
    announcement = announcements.announcement_for(current_user, announcement_id, manage=True)
    school_class = announcement.school_class
    back = url_for("announcements.index", class_id=school_class.id)
    with on_refusal(lambda refused: _index_page(school_class, error=refused.message, status=refused.status_code,
                                                block="announcement_list"), redirect_to_url=back):
        announcements.cancel_announcement(current_user, announcement)
    message = _("“%(title)s” is cancelled; it will not be sent.", title=announcement.title)
    if is_htmx():
        return _index_page(school_class, block="announcement_list", notice=message)
    flash(message, "success")
    return redirect_to(back)
