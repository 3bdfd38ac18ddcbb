from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from babyowl.i18n import LANGUAGE_NAMES
from babyowl.services.notifications import KINDS
from babyowl.validators import choice


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PreferencesForm(FlaskForm):
    emails = CheckboxesField(_l("Also send me an email for"),
                             choices=[SelectChoice(kind, name) for kind, name in KINDS.items()],
                             invalid_choice_message=_l("Choose one of the options."))
    language = choice(_l("Language of my emails"), LANGUAGE_NAMES.items())
