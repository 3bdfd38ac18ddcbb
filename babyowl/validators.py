"""Form validators with messages in our catalogs (WTForms ships no Indonesian)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import DataRequired, Email, EqualTo, Length


def required():
    return DataRequired(message=_l("This field is required."))


def email_address():
    return Email(message=_l("Enter a valid email address."))


def max_length(limit: int):
    return Length(max=limit, message=_l("Use at most %(max)d characters."))


def strip(value: str | None) -> str | None:
    # Phone keyboards add a trailing space after an autocompleted address.
    return value.strip() if isinstance(value, str) else value


def strong_password():
    """The spec's password policy, one message per rule the password misses."""
    from wtforms.validators import ValidationError

    from babyowl.services.passwords import password_problems

    def check(form, field):
        problems = password_problems(field.data or "")
        if problems:
            field.errors.extend(problems[:-1])
            raise ValidationError(problems[-1])

    return check


def same_as(other: str):
    return EqualTo(other, message=_l("The two passwords are not the same."))
