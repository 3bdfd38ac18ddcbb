"""Form validators and field factories with messages in our catalogs (WTForms ships no Indonesian)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, IntegerField, SelectField, StringField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired, Email, EqualTo, InputRequired, Length, NumberRange, Optional, StopValidation,
)


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


def normalise_newlines(value):
    # Browsers send textarea lines ending in CR LF; store plain LF.
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


class WholeNumberRange(NumberRange):
    """NumberRange that stays quiet when the text was not a number at all (one message is enough)."""

    def __call__(self, form, field):
        if field.process_errors:
            raise StopValidation()
        super().__call__(form, field)


def whole_number(label, *, minimum: int, maximum: int, is_required: bool = False, default=None,
                 description=None) -> IntegerField:
    first = InputRequired(message=_l("This field is required.")) if is_required else Optional()
    return IntegerField(
        label,
        [first, WholeNumberRange(min=minimum, max=maximum,
                                 message=_l("Enter a whole number from %(min)d to %(max)d."))],
        default=default, description=description, invalid_value_message=_l("Enter a whole number."),
        render_kw={"inputmode": "numeric"},
    )


def choice(label, choices, *, default=None, description=None) -> SelectField:
    return SelectField(label, choices=[SelectChoice(value, text) for value, text in choices], default=default,
                       description=description, invalid_choice_message=_l("Choose one of the options."))


def optional_date(label, description=None) -> DateField:
    return DateField(label, [Optional()], description=description,
                     invalid_value_message=_l("Enter a date such as 2026-12-31."))


def optional_time(label) -> TimeField:
    return TimeField(label, [Optional()], invalid_value_message=_l("Enter a time such as 19:00."))


class MoneyField(StringField):
    """Rupiah typed the Indonesian way (`1.750.000`, `Rp 1.500.000,00`); `data` is a Decimal or None."""

    def process_formdata(self, valuelist):
        from babyowl.money import InvalidAmount, parse_rupiah

        if not valuelist:
            return
        try:
            self.data = parse_rupiah(valuelist[0])
        except InvalidAmount as exc:
            self.data = None
            raise ValueError(exc.message) from exc

    def _value(self):
        # What was typed stays in the field when the form comes back with a message.
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else str(self.data)


def money(label, description=None) -> MoneyField:
    return MoneyField(label, [Optional()], description=description, render_kw={"inputmode": "decimal"},
                      filters=[strip])
