from flask import Blueprint, current_app, flash, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from babyowl.blueprints.params import form_status
from babyowl.blueprints.auth.forms import ForgotPasswordForm, LoginForm, NewPasswordForm, RegisterForm
from babyowl.extensions import limiter
from babyowl.rendering import full_redirect, remembered, render
from babyowl.security import safe_next_url
from babyowl.services import accounts, tokens
from babyowl.services.errors import DomainError

bp = Blueprint("auth", __name__)


def auth_limit():
    # Brute-force guard, per address: counts attempts (POSTs), not page views.
    return limiter.limit(lambda: current_app.config["RATELIMIT_AUTH"], key_func=_address, methods=["POST"])


def _address() -> str:
    from flask_limiter.util import get_remote_address

    return f"auth-ip:{get_remote_address()}"


def _form_page(template: str, block: str, **context):
    return render(template, block=block, status=form_status(), **context)


def _sign_in(user, remember: bool):
    session.permanent = True  # 24 h sliding session; "remember me" adds the 30-day cookie
    login_user(user, remember=remember)


@bp.route("/login", methods=["GET", "POST"])
@auth_limit()
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data)
        except accounts.SignInRefused as refused:
            error = refused.message
        else:
            _sign_in(user, form.remember.data)
            return full_redirect(safe_next_url(request.args.get("next"), "main.dashboard"))
    return _form_page("auth/login.html", "login_form", form=form, error=error,
                      registration_open=current_app.config["ALLOW_SELF_REGISTRATION"])


@bp.route("/register", methods=["GET", "POST"])
@auth_limit()
def register():
    if not current_app.config["ALLOW_SELF_REGISTRATION"]:
        return render("auth/registration_closed.html", status=403)
    form = RegisterForm()
    error = None
    if form.validate_on_submit():
        try:
            user = accounts.register_student(email=form.email.data, full_name=form.full_name.data,
                                             password=form.password.data)
        except DomainError as refused:
            error = refused.message
        else:
            _sign_in(user, remember=False)
            flash(_("Welcome! We sent a link to %(email)s to confirm your address.", email=user.email), "success")
            return full_redirect(url_for("account.onboarding"))
    return _form_page("auth/register.html", "register_form", form=form, error=error)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash(_("You have signed out."), "info")
    return full_redirect(url_for("main.index"))


@bp.route("/verify-email/<token>")
def verify_email(token: str):
    try:
        accounts.verify_email(token)
    except tokens.InvalidLink as refused:
        return render("auth/link_problem.html", status=400, message=refused.message)
    flash(_("Thank you, your email address is confirmed."), "success")
    return full_redirect(url_for("main.dashboard" if current_user.is_authenticated else "auth.login"))


@bp.route("/verify-email", methods=["POST"])
@login_required
@auth_limit()
def resend_verification():
    if current_user.email_verified:
        flash(_("Your email address is already confirmed."), "info")
    else:
        accounts.resend_verification(current_user)
        flash(_("We sent a new confirmation link to %(email)s.", email=current_user.email), "success")
    return full_redirect(safe_next_url(request.referrer, "main.dashboard"))


@bp.route("/forgot-password", methods=["GET", "POST"])
@auth_limit()
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.email.data)
        # The same answer whether or not the address has an account.
        flash(_("If an account uses %(email)s, a link to reset its password is on its way. "
                "It works for 1 hour.", email=form.email.data), "success")
        return full_redirect(url_for("auth.login"))
    return _form_page("auth/forgot_password.html", "forgot_form", form=form)


def _password_link_page(purpose: str, token: str, title: str):
    try:
        user = accounts.user_for_password_link(purpose, token)
    except tokens.InvalidLink as refused:
        return render("auth/link_problem.html", status=400, message=refused.message)
    form = NewPasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            user = accounts.set_password_from_link(purpose, token, form.password.data)
        except DomainError as refused:
            error = refused.message
        else:
            _sign_in(user, remember=remembered())
            flash(_("Your new password is saved."), "success")
            return full_redirect(url_for("main.dashboard"))
    return _form_page("auth/set_password.html", "password_form", form=form, error=error, title=title,
                      email=user.email, action=request.path)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@auth_limit()
def reset_password(token: str):
    return _password_link_page(tokens.RESET_PASSWORD, token, _("Choose a new password"))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@auth_limit()
def accept_invitation(token: str):
    return _password_link_page(tokens.INVITATION, token, _("Choose your password"))
