"""The signed-in person's own account: onboarding, profile, password, their data."""
from __future__ import annotations

import uuid

from flask import Blueprint, Response, current_app, flash, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user

from babyowl.authz import can_erase_accounts, is_staff
from babyowl.blueprints.account.forms import ChangePasswordForm, DeleteAccountForm, ProfileForm
from babyowl.blueprints.params import form_status, uploaded_file
from babyowl.errors import on_refusal
from babyowl.models.base import utcnow
from babyowl.rendering import full_redirect, redirect_to, remembered, render
from babyowl.services import accounts, classes, privacy, sessions, users
from babyowl.storage import serve_file

bp = Blueprint("account", __name__)

# Pages a new user may open before finishing onboarding.
ONBOARDING_EXEMPT = {"account.onboarding", "account.avatar", "account.download_data", "account.request_deletion",
                     "auth.logout", "auth.verify_email",
                     "auth.resend_verification", "main.set_language", "main.healthz", "main.readyz", "main.metrics",
                     "static",
                     # What the layout polls by htmx on every page, /welcome included: redirecting it to
                     # /welcome (HX-Redirect) reloaded the onboarding page for ever in a real browser.
                     "notifications.bell", "messages.badge"}


@bp.before_app_request
def require_onboarding():
    # The endpoint first: a static file (or an exempt page) must not load the
    # signed-in user, which costs a query and touches the session cookie.
    if not request.endpoint or request.endpoint in ONBOARDING_EXEMPT or request.endpoint.startswith("api."):
        return None  # the JSON API never reads the session cookie
    if current_user.is_authenticated and not current_user.onboarding_completed:
        return full_redirect(url_for("account.onboarding"))
    return None


def _save_profile(form: ProfileForm, finish_onboarding: bool) -> None:
    accounts.update_profile(current_user, full_name=form.full_name.data, bio=form.bio.data,
                            avatar=uploaded_file(form.picture.data), remove_avatar=form.remove_avatar.data,
                            finish_onboarding=finish_onboarding)


@bp.route("/welcome", methods=["GET", "POST"])
@login_required
def onboarding():
    if current_user.onboarding_completed:
        return full_redirect(url_for("main.dashboard"))
    form = ProfileForm(obj=current_user)

    def page(error=None):
        return render("account/onboarding.html", block="profile_form", status=form_status(), form=form, error=error)

    if form.validate_on_submit():
        with on_refusal(lambda refused: page(refused.message)):
            _save_profile(form, finish_onboarding=True)
        flash(_("Your profile is ready. Welcome to %(school)s!", school=current_app.config["SCHOOL_NAME"]),
              "success")
        return full_redirect(session.pop("after_onboarding", None) or url_for("main.dashboard"))
    return page()


@bp.route("/account/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)

    def page(error=None):
        return render("account/profile.html", block="profile_form", status=form_status(), form=form, error=error)

    if form.validate_on_submit():
        with on_refusal(lambda refused: page(refused.message)):
            _save_profile(form, finish_onboarding=False)
        flash(_("Your profile is saved."), "success")
        return redirect_to(url_for("account.profile"))
    return page()


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()

    def page(error=None):
        return render("account/password.html", block="password_form", status=form_status(), form=form, error=error)

    if form.validate_on_submit():
        with on_refusal(lambda refused: page(refused.message)):
            accounts.change_password(current_user, form.current_password.data, form.password.data)
        # The cookie carries the password fingerprint: sign this device in again
        # (same session), keeping "remember me" if it was on.
        login_user(current_user._get_current_object(), remember=remembered())
        flash(_("Your password is changed. Other devices have been signed out."), "success")
        return redirect_to(url_for("account.profile"))
    return page()


@bp.route("/account/sessions")
@login_required
def signed_in_devices():
    return render("account/sessions.html", block="device_list", devices=sessions.active_sessions(current_user),
                  current_session_id=current_user.current_session_id)


@bp.route("/account/sessions/<uuid:session_id>/sign-out", methods=["POST"])
@login_required
def sign_out_device(session_id: uuid.UUID):
    with on_refusal(redirect_to_url=url_for("account.signed_in_devices")):
        sessions.sign_out_device(current_user, session_id)
    flash(_("That device is signed out."), "success")
    return redirect_to(url_for("account.signed_in_devices"))


@bp.route("/account/sessions/sign-out-others", methods=["POST"])
@login_required
def sign_out_everywhere_else():
    ended = sessions.sign_out_everywhere_else(current_user)
    flash(ngettext("%(num)d other device is signed out.", "%(num)d other devices are signed out.", ended),
          "success")
    return redirect_to(url_for("account.signed_in_devices"))


@bp.route("/avatars/<path:key>")
@login_required
def avatar(key: str):
    with on_refusal():
        key = accounts.avatar_key(key)
    # Keys change with every upload, so a picture may be cached for long.
    return serve_file(key, cache_control="private, max-age=604800, immutable")


@bp.route("/users/<uuid:user_id>")
@login_required
def user_profile(user_id: uuid.UUID):
    from babyowl.blueprints.gamification.forms import BonusForm
    from babyowl.services import profiles

    if not is_staff(current_user) and current_user.id != user_id:  # classmates and instructors: achievements only
        with on_refusal():
            student = profiles.student_profile(current_user, user_id)
        return render("gamification/profile.html", user=student, panel=profiles.panel_for(current_user, student))
    with on_refusal():
        user = users.profile_for(current_user, user_id)
    return render("account/user_profile.html", user=user, history=classes.class_history(user),
                  can_erase=can_erase_accounts(current_user),
                  panel=profiles.panel_for(current_user, user, BonusForm(formdata=None)))


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

    def page(error=None):
        return render("account/delete.html", block="delete_form", status=form_status(), form=form, error=error)

    if form.validate_on_submit():
        with on_refusal(lambda refused: page(refused.message)):
            accounts.request_deletion(current_user, form.password.data)
        flash(_("Your request is recorded. An administrator will delete your account and tell you by email."),
              "success")
        return redirect_to(url_for("account.profile"))
    return page()
