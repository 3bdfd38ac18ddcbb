from flask import Blueprint, flash, request, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user

from babyowl.blueprints.auth.forms import LoginForm
from babyowl.rendering import full_redirect, render
from babyowl.security import safe_next_url
from babyowl.services import accounts

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data)
        except accounts.SignInRefused as refused:
            error = refused.message
        else:
            login_user(user, remember=form.remember.data)
            return full_redirect(safe_next_url(request.args.get("next"), "main.dashboard"))
    status = 422 if request.method == "POST" else 200
    return render("auth/login.html", block="login_form", status=status, form=form, error=error)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash(_("You have signed out."), "info")
    return full_redirect(url_for("main.index"))
