"""The signed-in person's own account: onboarding, profile, password, their data."""
from __future__ import annotations

import uuid

from flask import Blueprint, Response, abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user


from babyowl.blueprints.params import form_status, uploaded_file
from babyowl.authz import STAFF_ROLES
from babyowl.blueprints.account.forms import ChangePasswordForm, DeleteAccountForm, ProfileForm
from babyowl.extensions import db
from babyowl.models import User
from babyowl.models.base import utcnow
from babyowl.rendering import full_redirect, redirect_to, remembered, render
from babyowl.services import accounts, classes, privacy
from babyowl.services.errors import DomainError
from babyowl.storage import serve_file

bp = Blueprint("account", __name__)

# Pages a new user may open before finishing onboarding.
ONBOARDING_EXEMPT = {"account.onboarding", "account.avatar", "account.download_data", "account.request_deletion",
                     "auth.logout", "auth.verify_email",
                     "auth.resend_verification", "main.set_language", "main.healthz", "static"}


@bp.before_app_request
def require_onboarding():
    if (current_user.is_authenticated and not current_user.onboarding_completed
            and request.endpoint and request.endpoint not in ONBOARDING_EXEMPT):
        return full_redirect(url_for("account.onboarding"))
    return None






def _save_profile(form: ProfileForm, finish_onboarding: bool) -> str | None:
    """Apply the form; the error message to show, or None when saved."""
    try:
        accounts.update_profile(current_user, full_name=form.full_name.data, bio=form.bio.data,
                                avatar=uploaded_file(form.picture.data), remove_avatar=form.remove_avatar.data,
                                finish_onboarding=finish_onboarding)
    except DomainError as refused:
        return refused.message
    return None


@bp.route("/welcome", methods=["GET", "POST"])
@login_required
def onboarding():
    if current_user.onboarding_completed:
        return full_redirect(url_for("main.dashboard"))
    form = ProfileForm(obj=current_user)
    error = None
    if form.validate_on_submit():
        error = _save_profile(form, finish_onboarding=True)
        if error is None:
            flash(_("Your profile is ready. Welcome to %(school)s!", school=current_app.config["SCHOOL_NAME"]),
                  "success")
            return full_redirect(url_for("main.dashboard"))
    return render("account/onboarding.html", block="profile_form", status=form_status(), form=form, error=error)


@bp.route("/account/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    error = None
    if form.validate_on_submit():
        error = _save_profile(form, finish_onboarding=False)
        if error is None:
            flash(_("Your profile is saved."), "success")
            return redirect_to(url_for("account.profile"))
    return render("account/profile.html", block="profile_form", status=form_status(), form=form, error=error)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.password.data)
        except DomainError as refused:
            error = refused.message
        else:
            # The session id carries the password fingerprint: sign this device in
            # again, keeping "remember me" if it was on.
            login_user(current_user._get_current_object(), remember=remembered())
            flash(_("Your password is changed. Other devices have been signed out."), "success")
            return redirect_to(url_for("account.profile"))
    return render("account/password.html", block="password_form", status=form_status(), form=form, error=error)


@bp.route("/avatars/<path:key>")
@login_required
def avatar(key: str):
    if not key.startswith("avatars/"):
        abort(404)
    # Keys change with every upload, so a picture may be cached for long.
    return serve_file(key, cache_control="private, max-age=604800, immutable")


@bp.route("/users/<uuid:user_id>")
@login_required
def user_profile(user_id: uuid.UUID):
    user = db.session.get(User, user_id)
    # Other people's profiles are for staff; to anyone else they do not exist.
    if user is None or (user.id != current_user.id and current_user.role not in STAFF_ROLES):
        abort(404)
    history = classes.class_history(user) if user.role == "student" else []
    return render("account/user_profile.html", user=user, history=history)


@bp.route("/account/data")
@login_required
def download_data():
    archive = privacy.export_user_data(current_user)
    filename = f"babyowl-data-{utcnow():%Y%m%d}.zip"
    return Response(archive, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
def request_deletion():
    form = DeleteAccountForm()
    error = None
    if form.validate_on_submit():
        try:
            accounts.confirm_password(current_user, form.password.data)
            privacy.request_deletion(current_user)
        except DomainError as refused:
            error = refused.message
        else:
            flash(_("Your request is recorded. An administrator will delete your account and tell you by email."),
                  "success")
            return redirect_to(url_for("account.profile"))
    return render("account/delete.html", block="delete_form", status=form_status(), form=form, error=error)
