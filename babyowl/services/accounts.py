"""Accounts: sign-up, sign-in, email verification, passwords, onboarding, profile.

Rules:
- Addresses are stored lower-case; one account per address.
- Sign-in costs the same whether or not the address has a usable account
  (bcrypt against a dummy hash otherwise), so timing tells nothing.
- Signing in (also by sign-up or a password link) starts a session on this
  device (services/sessions.py); a new password ends every other session.
- Emails (verification, reset, invitation) are written by `babyowl.emails`
  and leave after the commit of the use case that sends them.
"""
from __future__ import annotations

import logging

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from babyowl import emails
from babyowl.extensions import db
from babyowl.models import ROLES, User
from babyowl.models.base import utcnow
from babyowl.services import sessions, tokens
from babyowl.services.avatars import AVATAR_PREFIX, delete_avatar, store_avatar
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


class NotFound(DomainError):
    status_code = 404


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
def register_student(*, email: str, full_name: str, password: str, user_agent: str | None = None,
                     ip: str | None = None) -> User:
    """Self sign-up: always a student, unverified until the emailed link is opened; signed in on this device."""
    if not current_app.config["ALLOW_SELF_REGISTRATION"]:
        raise NotAllowed(_("Sign-up is closed. Ask the school to create your account."))
    user = new_user(email=email, full_name=full_name, role="student", password=password)
    send_verification_email(user)
    sessions.start_session(user, user_agent=user_agent, ip=ip)
    return user


def _authenticate(email: str, password: str) -> User:
    user = find_user_by_email(email)
    # bcrypt runs on every path (a dummy hash where there is no usable one), so
    # the answer takes as long for an unknown address as for a wrong password.
    password_ok = check_password(password, user.password_hash if user is not None else None)
    if user is None or not password_ok:
        raise SignInRefused(_("The email or password is not correct."))
    if user.status == "suspended":
        raise SignInRefused(_("This account is suspended. Please contact the school."))
    if user.status != "active":
        raise SignInRefused(_("This account is not active. Please contact the school."))
    return user


@use_case
def sign_in(email: str, password: str, *, user_agent: str | None = None, ip: str | None = None) -> User:
    """The user whose credentials these are, signed in on this device (a new session), `last_login_at` recorded."""
    user = _authenticate(email, password)
    user.last_login_at = utcnow()
    sessions.start_session(user, user_agent=user_agent, ip=ip)
    return user


def send_verification_email(user: User) -> None:
    emails.send(emails.verify_email(to=user.email, name=user.full_name,
                                    token=tokens.make_token(tokens.VERIFY_EMAIL, user), language=user.language),
                user_id=user.id)


@use_case
def resend_verification(user: User) -> None:
    send_verification_email(user)


@use_case
def verify_email(token: str) -> User:
    user = tokens.read_token(tokens.VERIFY_EMAIL, token)
    user.email_verified = True
    return user


@use_case
def request_password_reset(email: str) -> None:
    """Send a reset link if the account exists and may sign in; say nothing either way."""
    user = find_user_by_email(email)
    if user is None or user.status != "active" or user.erased_at is not None:
        log.info("Password reset asked for an unknown or closed account")
        return
    emails.send(emails.reset_password(to=user.email, name=user.full_name,
                                      token=tokens.make_token(tokens.RESET_PASSWORD, user), language=user.language),
                user_id=user.id)


def send_invitation(user: User) -> None:
    """A new account made by staff: the person chooses their own password."""
    emails.send(emails.invitation(to=user.email, name=user.full_name,
                                  token=tokens.make_token(tokens.INVITATION, user), language=user.language),
                user_id=user.id)


def user_for_password_link(purpose: str, token: str) -> User:
    user = tokens.read_token(purpose, token)
    if user.status != "active":
        raise tokens.InvalidLink(_("This account is not active. Please contact the school."))
    return user


@use_case
def set_password_from_link(purpose: str, token: str, new_password: str, *, user_agent: str | None = None,
                           ip: str | None = None) -> User:
    """Reset (or first set) a password through an emailed link; the link then stops working.

    Every device signed in with the old password is signed out; this one is signed in.
    """
    user = user_for_password_link(purpose, token)
    check_password_policy(new_password)
    user.password_hash = hash_password(new_password)
    # Opening a link sent to the address proves the address.
    user.email_verified = True
    user.current_session_id = None
    sessions.revoke_others(user)
    sessions.start_session(user, user_agent=user_agent, ip=ip)
    return user


def confirm_password(user: User, password: str) -> None:
    """Ask again before something that cannot be undone."""
    if not check_password(password, user.password_hash):
        raise WrongPassword(_("Your current password is not correct."))


@use_case
def change_password(user: User, current_password: str, new_password: str) -> None:
    """A new password; every other device is signed out, this one stays signed in."""
    confirm_password(user, current_password)
    check_password_policy(new_password)
    user.password_hash = hash_password(new_password)
    sessions.revoke_others(user)


def update_profile(user: User, *, full_name: str, bio: str | None, avatar=None, remove_avatar: bool = False,
                   finish_onboarding: bool = False) -> None:
    """Name, bio and picture; the picture is stored before the row changes and removed if the use case fails."""
    new_avatar = store_avatar(avatar) if avatar else None
    try:
        _save_profile(user, full_name=full_name, bio=bio, new_avatar=new_avatar, remove_avatar=remove_avatar,
                      finish_onboarding=finish_onboarding)
    except BaseException:
        delete_avatar(new_avatar)
        raise


@use_case
def _save_profile(user: User, *, full_name: str, bio: str | None, new_avatar: str | None, remove_avatar: bool,
                  finish_onboarding: bool) -> None:
    full_name = full_name.strip()
    if not full_name:
        raise InvalidInput(_("Enter your name."))
    old_avatar = user.avatar
    user.full_name = full_name
    user.bio = (bio or "").strip() or None
    if new_avatar or remove_avatar:
        user.avatar = new_avatar
        if old_avatar:
            # Only once the row no longer names it: had the commit failed, the old picture is still in use.
            after_commit(delete_avatar, old_avatar)
    if finish_onboarding:
        user.onboarding_completed = True


@use_case
def request_deletion(user: User, password: str) -> None:
    """The person asks to be forgotten (their password again first); staff then erase the account."""
    from babyowl.services import privacy

    privacy.record_deletion_request(user)  # refuses an erased account first
    confirm_password(user, password)  # a wrong password rolls the request back


def avatar_key(key: str) -> str:
    """A stored key that may be served as a profile picture; anything else does not exist."""
    if not key.startswith(AVATAR_PREFIX):
        raise NotFound(_("This picture does not exist."))
    return key
