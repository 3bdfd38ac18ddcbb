from flask import Blueprint, current_app, flash, request, session, url_for
from flask_babel import gettext as _
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_required, login_user, logout_user

from babyowl.blueprints.params import form_status
from babyowl.blueprints.auth.forms import ForgotPasswordForm, LoginForm, NewPasswordForm, RegisterForm
from babyowl.errors import error_response, on_refusal
from babyowl.extensions import limiter
from babyowl.rendering import full_redirect, remembered, render
from babyowl.security import safe_next_url
from babyowl.services import accounts, sessions, tokens

bp = Blueprint("auth", __name__)

# Failed sign-ins per account, from any address (ASVS 2.2.1): enough to slow a
# password-guessing botnet down to a crawl, short enough that the owner is not
# locked out for long. RATELIMIT_AUTH_ACCOUNT overrides it.
ACCOUNT_LIMIT = "10 per 15 minutes"


def auth_limit():
    # Brute-force guard, per address: counts attempts (POSTs), not page views.
    return limiter.limit(lambda: current_app.config["RATELIMIT_AUTH"], key_func=_address, methods=["POST"])


def account_limit():
    # Counts only refused sign-ins (422), keyed by the address typed, so many
    # addresses guessing one account's password share one budget.
    return limiter.limit(lambda: current_app.config.get("RATELIMIT_AUTH_ACCOUNT", ACCOUNT_LIMIT),
                         key_func=_account, methods=["POST"], deduct_when=lambda response: response.status_code == 422,
                         on_breach=_account_throttled)


def _address() -> str:
    from flask_limiter.util import get_remote_address

    return f"auth-ip:{get_remote_address()}"


def _account() -> str:
    return f"auth-account:{accounts.normalise_email(request.form.get('email', ''))[:255] or '-'}"


def _account_throttled(_limit):
    return error_response(429, _("Too many failed sign-ins for this account. Wait a few minutes and try again, "
                                 "or reset your password through “Forgot your password?”."))


@bp.errorhandler(RateLimitExceeded)
def rate_limited(error: RateLimitExceeded):
    # The per-account limit prepared its own page (`_account_throttled`); the others get the common one.
    if error.response is not None:
        return error.response
    return error_response(429)


def _device() -> dict:
    return {"user_agent": request.headers.get("User-Agent"), "ip": request.remote_addr}


def _form_page(template: str, block: str, **context):
    return render(template, block=block, status=form_status(), **context)


def _sign_in(user, remember: bool):
    # `user` carries the session its use case started (user.current_session_id).
    session.permanent = True  # 24 h sliding session; "remember me" adds the 30-day cookie
    login_user(user, remember=remember)


def _login_page(form, error=None):
    return _form_page("auth/login.html", "login_form", form=form, error=error,
                      registration_open=current_app.config["ALLOW_SELF_REGISTRATION"])


@bp.route("/login", methods=["GET", "POST"])
@auth_limit()
@account_limit()
def login():
    form = LoginForm()
    if form.validate_on_submit():
        with on_refusal(lambda refused: _login_page(form, refused.message)):
            user = accounts.sign_in(form.email.data, form.password.data, **_device())
        _sign_in(user, form.remember.data)
        return full_redirect(safe_next_url(request.args.get("next"), "main.dashboard"))
    return _login_page(form)


@bp.route("/register", methods=["GET", "POST"])
@auth_limit()
def register():
    if not current_app.config["ALLOW_SELF_REGISTRATION"]:
        return render("auth/registration_closed.html", status=403)
    form = RegisterForm()
    if form.validate_on_submit():
        with on_refusal(lambda refused: _form_page("auth/register.html", "register_form", form=form,
                                                   error=refused.message)):
            user = accounts.register_student(email=form.email.data, full_name=form.full_name.data,
                                             password=form.password.data, **_device())
        _sign_in(user, remember=False)
        if request.args.get("next"):  # e.g. the class chosen on the landing page, once the profile is done
            session["after_onboarding"] = safe_next_url(request.args.get("next"), "main.dashboard")
        flash(_("Welcome! We sent a link to %(email)s to confirm your address.", email=user.email), "success")
        return full_redirect(url_for("account.onboarding"))
    return _form_page("auth/register.html", "register_form", form=form, error=None)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    # Ends this session on the server: a copy of the cookie stops working too.
    sessions.sign_out(current_user._get_current_object())
    logout_user()
    flash(_("You have signed out."), "info")
    return full_redirect(url_for("main.index"))


def _link_problem(refused):
    return render("auth/link_problem.html", message=refused.message)


@bp.route("/verify-email/<token>")
def verify_email(token: str):
    with on_refusal(_link_problem):
        accounts.verify_email(token)
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
    with on_refusal(_link_problem):
        user = accounts.user_for_password_link(purpose, token)
    form = NewPasswordForm()

    def page(error=None):
        return _form_page("auth/set_password.html", "password_form", form=form, error=error, title=title,
                          email=user.email, action=request.path)

    if form.validate_on_submit():
        with on_refusal(lambda refused: _link_problem(refused) if isinstance(refused, tokens.InvalidLink)
                        else page(refused.message)):
            user = accounts.set_password_from_link(purpose, token, form.password.data, **_device())
        _sign_in(user, remember=remembered())
        flash(_("Your new password is saved."), "success")
        return full_redirect(url_for("main.dashboard"))
    return page()


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@auth_limit()
def reset_password(token: str):
    return _password_link_page(tokens.RESET_PASSWORD, token, _("Choose a new password"))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@auth_limit()
def accept_invitation(token: str):
    return _password_link_page(tokens.INVITATION, token, _("Choose your password"))
