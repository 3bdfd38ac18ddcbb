from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, PasswordField, StringField, TextAreaField

from babyowl.blueprints.auth.forms import NewPasswordForm
from babyowl.validators import max_length, required, strip


class ProfileForm(FlaskForm):
    full_name = StringField(_l("Full name"), filters=[strip], validators=[required(), max_length(255)])
    bio = TextAreaField(_l("About me"), filters=[strip], validators=[max_length(1000)],
                        description=_l("A few words for your classmates and instructors (optional)."))
    # Not named like the model's `avatar` column: filled from the user, the
    # field would hold the stored key instead of an upload.
    picture = FileField(_l("Profile picture"), description=_l("JPEG, PNG, GIF or WebP, at most 5 MB (optional)."),
                       render_kw={"accept": "image/jpeg,image/png,image/gif,image/webp"})
    remove_avatar = BooleanField(_l("Remove my picture"))


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(_l("Current password"), validators=[required(), max_length(200)])


class DeleteAccountForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[required(), max_length(200)])
