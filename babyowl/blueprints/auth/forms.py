from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField

from babyowl.validators import email_address, max_length, required, same_as, strip, strong_password


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), filters=[strip], validators=[required(), email_address(), max_length(255)])
    password = PasswordField(_l("Password"), validators=[required(), max_length(200)])
    remember = BooleanField(_l("Remember me for 30 days"))


class RegisterForm(FlaskForm):
    full_name = StringField(_l("Full name"), filters=[strip], validators=[required(), max_length(255)])
    email = EmailField(_l("Email"), filters=[strip], validators=[required(), email_address(), max_length(255)])
    password = PasswordField(_l("Password"), validators=[required(), max_length(200), strong_password()])
    confirm = PasswordField(_l("Repeat the password"), validators=[required(), same_as("password")])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), filters=[strip], validators=[required(), email_address(), max_length(255)])


class NewPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[required(), max_length(200), strong_password()])
    confirm = PasswordField(_l("Repeat the new password"), validators=[required(), same_as("password")])


