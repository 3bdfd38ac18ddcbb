"""User administration (staff, super_admin)."""
from __future__ import annotations

import uuid

from flask import Blueprint, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from babyowl.blueprints.params import form_status, page_number
from babyowl.authz import ERASERS, STAFF_ROLES, creatable_roles, roles_required
from babyowl.blueprints.admin.forms import UserForm
from babyowl.errors import on_refusal
from babyowl.models import ROLES, USER_STATUSES, User
from babyowl.navigation import ROLE_NAMES, STATUS_NAMES
from babyowl.rendering import redirect_to, render
from babyowl.services import privacy, users

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _role_choices(actor: User, current: str | None = None):
    roles = list(creatable_roles(actor))
    if current and current not in roles:
        roles.insert(0, current)
    return [(role, ROLE_NAMES[role]) for role in roles]


@bp.route("/users")
@roles_required(*STAFF_ROLES)
def users_index():
    filters = {
        "q": request.args.get("q", "")[:100],
        "role": request.args.get("role", "") if request.args.get("role") in ROLES else "",
        "status": request.args.get("status", "") if request.args.get("status") in USER_STATUSES else "",
        "deletion_requested": request.args.get("deletion") == "1",
    }
    page = users.search_users(**filters, page=page_number())
    # Each name translated once per page, not once per row (lazy strings: two translations a row were a tenth of
    # the list's CPU); these override the context processor's lazy dictionaries for this page only.
    return render("admin/users.html", block="results", page=page, filters=filters, roles=ROLES,
                  statuses=USER_STATUSES, role_names={role: str(name) for role, name in ROLE_NAMES.items()},
                  status_names={status: str(name) for status, name in STATUS_NAMES.items()})


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def new_user():
    form = UserForm(role_choices=_role_choices(current_user))

    def page(error=None):
        return render("admin/user_form.html", block="user_form", status=form_status(), form=form, error=error,
                      user=None)

    if form.validate_on_submit():
        with on_refusal(lambda refused: page(refused.message)):
            user = users.create_user_by(current_user, email=form.email.data, full_name=form.full_name.data,
                                        role=form.role.data)
        flash(_("Account created for %(name)s. An invitation to choose a password was sent to %(email)s.",
                name=user.full_name, email=user.email), "success")
        return redirect_to(url_for("account.user_profile", user_id=user.id))
    return page()


@bp.route("/users/<uuid:user_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def edit_user(user_id: uuid.UUID):
    with on_refusal():
        user = users.user_to_manage(current_user, user_id)
    form = UserForm(obj=user, role_choices=_role_choices(current_user, user.role))

    def page(error=None):
        return render("admin/user_form.html", block="user_form", status=form_status(), form=form, error=error,
                      user=user)

    if form.validate_on_submit():
        with on_refusal(lambda refused: page(refused.message)):
            users.update_user_by(current_user, user, full_name=form.full_name.data, email=form.email.data,
                                 role=form.role.data)
        flash(_("Changes to %(name)s saved.", name=user.full_name), "success")
        return redirect_to(url_for("account.user_profile", user_id=user.id))
    return page()


@bp.route("/users/<uuid:user_id>/status", methods=["POST"])
@roles_required(*STAFF_ROLES)
def set_user_status(user_id: uuid.UUID):
    profile_url = url_for("account.user_profile", user_id=user_id)
    with on_refusal(redirect_to_url=profile_url):
        user = users.set_status(current_user, user_id, request.form.get("status", ""))
    flash(_("%(name)s is now %(status)s.", name=user.full_name, status=STATUS_NAMES[user.status]), "success")
    return redirect_to(profile_url)


@bp.route("/users/<uuid:user_id>/erase", methods=["POST"])
@roles_required(*ERASERS)
def erase_user(user_id: uuid.UUID):
    profile_url = url_for("account.user_profile", user_id=user_id)
    with on_refusal(redirect_to_url=profile_url):
        privacy.erase_user(current_user, users.user_to_manage(current_user, user_id))
    flash(_("The account was erased. Attendance and credit records stay, anonymised."), "success")
    return redirect_to(profile_url)
