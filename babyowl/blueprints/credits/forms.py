from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
import uuid

from wtforms import BooleanField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from babyowl.navigation import ATTENDANCE_STATUS_NAMES
from babyowl.services.credits import MAX_ADJUSTMENT, MAX_DETAIL
from babyowl.validators import choice, max_length, normalise_newlines, required, strip, whole_number

CREDIT_REASON_NAMES = {
    "makeup_class": _l("Makeup class attended"),
    "refund": _l("Refund"),
    "error_correction": _l("Correcting an error"),
    "bonus": _l("Bonus (promotion, compensation)"),
    "other": _l("Other (say what)"),
}


class AdjustCreditsForm(FlaskForm):
    direction = RadioField(_l("Change"), choices=[
        SelectChoice("give_back", _l("Give credits back")), SelectChoice("use", _l("Use credits"))],
        validators=[required()], default="give_back", invalid_choice_message=_l("Choose one of the options."))
    amount = whole_number(_l("Credits"), minimum=1, maximum=MAX_ADJUSTMENT, is_required=True, default=1)
    reason = choice(_l("Reason"), CREDIT_REASON_NAMES.items())
    detail = TextAreaField(_l("Detail"), filters=[strip, normalise_newlines], validators=[max_length(MAX_DETAIL)],
                           description=_l("Required when the reason is “Other”."))

    # Made when the form is shown: a double tap or a re-sent post carries the same key and counts once.
    key = HiddenField(default=lambda: uuid.uuid4().hex)
    # Shown only when staff give back more than the package (see credits.adjust).
    above_package = BooleanField(_l("Yes, leave the student more credits than the package"))

    def validate_detail(self, field):
        if self.reason.data == "other" and not field.data:
            raise ValidationError(_l("Say what the adjustment is for."))

    @property
    def adjustment(self) -> int:
        """The signed number the service stores: positive gives credits back."""
        return self.amount.data if self.direction.data == "give_back" else -self.amount.data


class CorrectMarkForm(FlaskForm):
    status = choice(_l("New mark"), ATTENDANCE_STATUS_NAMES.items())
    reason = StringField(_l("Reason for the change"), filters=[strip], validators=[max_length(MAX_DETAIL)])
