"""User administration by staff and super_admin."""
from __future__ import annotations

import uuid

from flask_babel import gettext as _
from sqlalchemy import select

from babyowl.authz import can_manage_user, creatable_roles, is_staff
from babyowl.extensions import db
from babyowl.models import User, USER_STATUSES
from babyowl.services import accounts, sessions
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.listing import PER_PAGE, Page, paginate, text_matches
from babyowl.transactions import use_case


def search_users(*, q: str = "", role: str = "", status: str = "", deletion_requested: bool = False,
                 page: int = 1, per_page: int | None = None) -> Page[User]:
    query = select(User).order_by(User.full_name, User.email)
    if q.strip():
        query = query.where(text_matches(q, User.full_name, User.email))
    if role:
        query = query.where(User.role == role)
    if status:
        query = query.where(User.status == status)
    if deletion_requested:
        query = query.where(User.deletion_requested_at.is_not(None), User.erased_at.is_(None))
    return paginate(query, page, per_page or PER_PAGE)


class UserNotFound(DomainError):
    status_code = 404


class CannotChangeAccount(DomainError):
    """Not this actor's account to change: said plainly, back on the profile (not a bare 403 page)."""


def profile_for(viewer: User, user_id: uuid.UUID) -> User:
    """A person's profile page: your own, or anyone's for staff; to anyone else it does not exist."""
    user = db.session.get(User, user_id)
    if user is None or (user.id != viewer.id and not is_staff(viewer)):
        raise UserNotFound(_("This page does not exist."))
    return user


def user_to_manage(actor: User, user_id: uuid.UUID) -> User:
    """An account `actor` may open for editing (404 when there is none, 403 when it is not theirs to change)."""
    user = db.session.get(User, user_id)
    if user is None:
        raise UserNotFound(_("This page does not exist."))
    if not can_manage_user(actor, user):
        raise NotAllowed(_("You cannot change this account."))
    return user


def _require_manage(actor: User, target: User) -> None:
    if not can_manage_user(actor, target):
        raise CannotChangeAccount(_("You cannot change this account."))


@use_case
def create_user_by(actor: User, *, email: str, full_name: str, role: str) -> User:
    return new_user_by(actor, email=email, full_name=full_name, role=role)


def new_user_by(actor: User, *, email: str, full_name: str, role: str) -> User:
    """A new account made by staff; the person sets their password from the invitation emailed after the commit.

    Part of the caller's use case, so a refusal later in it (a full class) leaves no account and sends nothing.
    """
    if role not in creatable_roles(actor):
        raise InvalidInput(_("You cannot create an account with this role."))
    user = accounts.new_user(email=email, full_name=full_name, role=role)
    accounts.send_invitation(user)
    return user


@use_case
def update_user_by(actor: User, target: User, *, full_name: str, email: str, role: str) -> None:
    _require_manage(actor, target)
    if role != target.role:
        if role not in creatable_roles(actor):
            raise InvalidInput(_("You cannot give this role."))
        if target.id == actor.id:
            raise InvalidInput(_("You cannot change your own role."))
    email = accounts.normalise_email(email)
    email_changed = email != target.email
    if email_changed:
        existing = accounts.find_user_by_email(email)
        if existing is not None and existing.id != target.id:
            raise accounts.EmailTaken(_("An account with this email already exists."))
        target.email_verified = False
    if not full_name.strip():
        raise InvalidInput(_("Enter a name."))
    target.full_name = full_name.strip()
    target.email = email
    target.role = role
    if email_changed:
        accounts.send_verification_email(target)


@use_case
def set_status(actor: User, user_id: uuid.UUID, status: str) -> User:
    """Suspend or reactivate; a suspended user is signed out at their next request."""
    target = db.session.get(User, user_id)
    if target is None:
        raise UserNotFound(_("This page does not exist."))
    _require_manage(actor, target)
    if status not in USER_STATUSES:
        raise InvalidInput(_("Unknown status."))
    if target.id == actor.id:
        raise InvalidInput(_("You cannot change the status of your own account."))
    if target.erased_at is not None:
        raise DomainError(_("This account has been erased."))
    target.status = status
    if status != "active":
        # Reactivating later must not bring back the devices that were signed in before.
        sessions.revoke_all(target)
    return target
