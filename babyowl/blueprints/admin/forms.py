from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from babyowl.validators import email_address, max_length, required, strip


class UserForm(FlaskForm):
    full_name = StringField(_l("Full name"), filters=[strip], validators=[required(), max_length(255)])
    email = EmailField(_l("Email"), filters=[strip], validators=[required(), email_address(), max_length(255)])
    # The service decides which roles the actor may give, with a translated message.
    role = SelectField(_l("Role"), validators=[required()], validate_choice=False)

    def __init__(self, *args, role_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = [SelectChoice(value, label) for value, label in role_choices]
