from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField, TextAreaField

from babyowl.validators import choice, max_length, required, strip

LEVEL_CHOICES = [("", _l("Any level")), ("beginner", _l("Beginner")), ("intermediate", _l("Intermediate")),
                 ("advanced", _l("Advanced"))]
LANGUAGE_CHOICES = [("indonesian", _l("Indonesian")), ("english", _l("English"))]


class CourseForm(FlaskForm):
    title = StringField(_l("Title"), filters=[strip], validators=[required(), max_length(255)])
    code = StringField(_l("Code"), filters=[strip], validators=[max_length(20)],
                       description=_l("Short code used on reports, e.g. PY101 (optional)."))
    slug = StringField(_l("Address"), filters=[strip], validators=[max_length(255)],
                       description=_l("Part of the course's web address. Left empty, it is made from the title."))
    description = TextAreaField(_l("Description"), filters=[strip], validators=[required(), max_length(5000)])
    category = StringField(_l("Category"), filters=[strip], validators=[max_length(100)])
    level = choice(_l("Level"), LEVEL_CHOICES)
    language = choice(_l("Language"), LANGUAGE_CHOICES, default="indonesian")
    cover = FileField(_l("Cover picture"), description=_l("JPEG, PNG, GIF or WebP, at most 5 MB (optional)."),
                      render_kw={"accept": "image/jpeg,image/png,image/gif,image/webp"})
    remove_cover = BooleanField(_l("Remove the cover picture"))


class TitleForm(FlaskForm):
    title = StringField(_l("Title"), filters=[strip], validators=[required(), max_length(255)])


class LessonForm(TitleForm):
    description = TextAreaField(_l("Description"), filters=[strip], validators=[max_length(2000)])
