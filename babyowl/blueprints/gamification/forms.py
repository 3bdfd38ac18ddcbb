from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField

from babyowl.services.xp import MAX_BONUS, MAX_NOTE
from babyowl.validators import choice, max_length, required, strip, whole_number

MODE_NAMES = {
    "off": _l("Off: students see no leaderboard"),
    "anonymous": _l("Anonymous: other students are shown as “Student 7”"),
    "neighbours": _l("Neighbours: only the places just above and below, anonymous"),
    "full": _l("Full names"),
}
# The zones of Indonesia; "" is the school's own.
TIME_ZONES = (("", _l("The school's time zone")), ("Asia/Jakarta", _l("WIB (Jakarta)")),
              ("Asia/Makassar", _l("WITA (Makassar)")), ("Asia/Jayapura", _l("WIT (Jayapura)")))


class BonusForm(FlaskForm):
    amount = whole_number(_l("XP (negative to remove)"), minimum=-MAX_BONUS, maximum=MAX_BONUS, is_required=True)
    note = StringField(_l("Reason"), filters=[strip], validators=[required(), max_length(MAX_NOTE)])


class LeaderboardSettingsForm(FlaskForm):
    mode = choice(_l("Leaderboard"), MODE_NAMES.items(), default="off")
    neighbours = whole_number(_l("Places shown above and below (neighbours mode)"), minimum=1, maximum=10,
                              is_required=True, default=2)


class PreferencesForm(FlaskForm):
    opt_out = BooleanField(_l("Hide me from class leaderboards"))
    time_zone = choice(_l("Count my streak days in"), TIME_ZONES)


class ShareForm(FlaskForm):
    shared = HiddenField()
