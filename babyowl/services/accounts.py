"""Accounts: sign-up, sign-in, email verification, passwords, onboarding, profile."""
from __future__ import annotations

import logging

from flask import current_app, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from babyowl.extensions import db
from babyowl.jobs.email import queue_email
from babyowl.models import ROLES, User
from babyowl.models.base import utcnow
from babyowl.services import tokens
from babyowl.services.avatars import delete_avatar, store_avatar
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.passwords import check_password, hash_password, password_problems
from babyowl.transactions import after_commit, use_case

log = logging.getLogger(__name__)


class EmailTaken(DomainError):
    status_code = 422


class SignInRefused(DomainError):
    status_code = 422


class WeakPassword(InvalidInput):
    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = problems


class WrongPassword(InvalidInput):
    pass


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    # Stored lower-case (CHECK constraint), so this equality uses the unique index.
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def check_password_policy(password: str) -> None:
    if problems := password_problems(password):
        raise WeakPassword(problems)


def _add_new_user(user: User) -> None:
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as exc:  # two sign-ups with one email at the same moment (the use case rolls back)
        raise EmailTaken(_("An account with this email already exists.")) from exc


@use_case
def create_user(**fields) -> User:
    return new_user(**fields)


def new_user(
    *, email: str, full_name: str, role: str, password: str | None = None,
    email_verified: bool = False, onboarding_completed: bool = False,
) -> User:
    if role not in ROLES:
        raise InvalidInput(_("Unknown role: %(role)s.", role=role))
    if password is not None:
        check_password_policy(password)
    if find_user_by_email(email) is not None:
        raise EmailTaken(_("An account with this email already exists."))
    user = User(
        email=normalise_email(email), full_name=full_name.strip(), role=role,
        password_hash=hash_password(password) if password else None,
        email_verified=email_verified, onboarding_completed=onboarding_completed,
    )
    _add_new_user(user)
    return user


@use_case
def register_student(*, email: str, full_name: str, password: str) -> User:
    """Self sign-up: always a student, unverified until the emailed link is opened."""
    if not current_app.config["ALLOW_SELF_REGISTRATION"]:
        raise NotAllowed(_("Sign-up is closed. Ask the school to create your account."))
    user = new_user(email=email, full_name=full_name, role="student", password=password)
    send_verification_email(user)
    return user


def authenticate(email: str, password: str) -> User:
    """The user whose credentials these are, with `last_login_at` recorded."""
    user = find_user_by_email(email)
    if user is None or not check_password(password, user.password_hash):
        raise SignInRefused(_("The email or password is not correct."))
    if user.status == "suspended":
        raise SignInRefused(_("This account is suspended. Please contact the school."))
    if user.status != "active":
        raise SignInRefused(_("This account is not active. Please contact the school."))
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def _send(user: User, subject: str, template: str, **context) -> None:
    """Written now (this request's language and host), queued once the use case has committed."""
    text = render_template(template, user=user, school_name=current_app.config["SCHOOL_NAME"], **context)
    after_commit(queue_email, user.email, subject, text)


def send_verification_email(user: User) -> None:
    link = url_for("auth.verify_email", token=tokens.make_token(tokens.VERIFY_EMAIL, user), _external=True)
    _send(user, _("Confirm your email address"), "email/verify_email.txt", link=link)


@use_case
def resend_verification(user: User) -> None:
    send_verification_email(user)


def verify_email(token: str) -> User:
    user = tokens.read_token(tokens.VERIFY_EMAIL, token)
    if not user.email_verified:
        user.email_verified = True
        db.session.commit()
    return user


@use_case
def request_password_reset(email: str) -> None:
    """Send a reset link if the account exists and may sign in; say nothing either way."""
    user = find_user_by_email(email)
    if user is None or user.status != "active" or user.erased_at is not None:
        log.info("Password reset asked for an unknown or closed account")
        return
    link = url_for("auth.reset_password", token=tokens.make_token(tokens.RESET_PASSWORD, user), _external=True)
    _send(user, _("Reset your password"), "email/reset_password.txt", link=link)


def send_invitation(user: User) -> None:
    """A new account made by staff: the person chooses their own password."""
    link = url_for("auth.accept_invitation", token=tokens.make_token(tokens.INVITATION, user), _external=True)
    _send(user, _("Your %(school)s account", school=current_app.config["SCHOOL_NAME"]),
          "email/invitation.txt", link=link)


def user_for_password_link(purpose: str, token: str) -> User:
    user = tokens.read_token(purpose, token)
    if user.status != "active":
        raise tokens.InvalidLink(_("This account is not active. Please contact the school."))
    return user


def set_password_from_link(purpose: str, token: str, new_password: str) -> User:
    """Reset (or first set) a password through an emailed link; the link then stops working."""
    user = user_for_password_link(purpose, token)
    check_password_policy(new_password)
    user.password_hash = hash_password(new_password)
    # Opening a link sent to the address proves the address.
    user.email_verified = True
    db.session.commit()
    return user


def confirm_password(user: User, password: str) -> None:
    """Ask again before something that cannot be undone."""
    if not check_password(password, user.password_hash):
        raise WrongPassword(_("Your current password is not correct."))


def change_password(user: User, current_password: str, new_password: str) -> None:
    confirm_password(user, current_password)
    check_password_policy(new_password)
    user.password_hash = hash_password(new_password)
    db.session.commit()


def update_profile(user: User, *, full_name: str, bio: str | None, avatar=None, remove_avatar: bool = False,
                   finish_onboarding: bool = False) -> None:
    """Name, bio and picture; the picture is stored before the row changes and removed if the commit fails."""
    full_name = full_name.strip()
    if not full_name:
        raise InvalidInput(_("Enter your name."))
    new_avatar = store_avatar(avatar) if avatar else None
    old_avatar = user.avatar
    user.full_name = full_name
    user.bio = (bio or "").strip() or None
    if new_avatar or remove_avatar:
        user.avatar = new_avatar
    if finish_onboarding:
        user.onboarding_completed = True
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        delete_avatar(new_avatar)
        raise
    if (new_avatar or remove_avatar) and old_avatar:
        delete_avatar(old_avatar)
