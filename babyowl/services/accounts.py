"""Accounts: creating users and checking sign-in."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from babyowl.extensions import db
from babyowl.models import ROLES, User
from babyowl.models.base import utcnow
from babyowl.services.errors import DomainError, InvalidInput
from babyowl.services.passwords import check_password, hash_password, password_problems


class EmailTaken(DomainError):
    status_code = 422


class SignInRefused(DomainError):
    status_code = 422


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def create_user(
    *, email: str, full_name: str, role: str, password: str | None = None,
    email_verified: bool = False, onboarding_completed: bool = False,
) -> User:
    if role not in ROLES:
        raise InvalidInput(_("Unknown role: %(role)s.", role=role))
    if password is not None and (problems := password_problems(password)):
        raise InvalidInput(" ".join(problems))
    if find_user_by_email(email) is not None:
        raise EmailTaken(_("An account with this email already exists."))
    user = User(
        email=normalise_email(email),
        full_name=full_name.strip(),
        role=role,
        password_hash=hash_password(password) if password else None,
        email_verified=email_verified,
        onboarding_completed=onboarding_completed,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError as exc:  # two sign-ups with one email at the same moment
        db.session.rollback()
        raise EmailTaken(_("An account with this email already exists.")) from exc
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
