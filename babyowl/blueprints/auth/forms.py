from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField

from babyowl.validators import email_address, max_length, required, strip


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), filters=[strip], validators=[required(), email_address(), max_length(255)])
    password = PasswordField(_l("Password"), validators=[required(), max_length(200)])
    remember = BooleanField(_l("Remember me for 30 days"))
