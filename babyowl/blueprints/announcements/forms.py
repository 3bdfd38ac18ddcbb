from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from babyowl.services.announcements import MAX_CONTENT, MAX_TITLE
from babyowl.validators import max_length, normalise_newlines, optional_date, optional_time, required, strip


class AnnouncementForm(FlaskForm):
    title = StringField(_l("Title"), filters=[strip], validators=[required(), max_length(MAX_TITLE)])
    content = TextAreaField(_l("Announcement"), filters=[strip, normalise_newlines],
                            validators=[required(), max_length(MAX_CONTENT)],
                            description=_l("Markdown: **bold**, *italic*, lists, [links](https://…)."))
    when = RadioField(_l("When"), choices=[SelectChoice("now", _l("Send now")),
                                           SelectChoice("later", _l("Schedule for later"))],
                      validators=[required()], default="now", invalid_choice_message=_l("Choose one of the options."))
    send_date = optional_date(_l("Date"))
    send_time = optional_time(_l("Time"))

    def validate(self, extra_validators=None) -> bool:
        # Not inline validators: Optional() stops a field's chain when it is empty.
        valid = super().validate(extra_validators)
        if self.when.data == "later":
            for field, message in ((self.send_date, _l("Choose the day to send it.")),
                                   (self.send_time, _l("Choose the time to send it."))):
                if field.data is None and not field.errors:
                    field.errors = [*field.errors, message]
                    valid = False
        return valid
