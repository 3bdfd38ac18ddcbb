from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError
from wtforms.widgets import Select

from babyowl.blueprints.params import parse_uuid
from babyowl.services.attendance_reports import ExportFilter
from babyowl.validators import choice, max_length, optional_date, strip

SEPARATOR_CHOICES = [("comma", _l("Comma (,)")), ("semicolon", _l("Semicolon (;) for Excel set to Indonesian"))]


class SeparatorForm(FlaskForm):
    class Meta:
        csrf = False  # a download link (GET) changes nothing

    separator = choice(_l("CSV separator"), SEPARATOR_CHOICES, default="comma")


class LongSelect(Select):
    """The same markup as WTForms' select, each option by one escaping format instead of html_params: the class
    and instructor lists run to hundreds of options, and rendering them was an eighth of /reports' CPU."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw or isinstance(choice.value, bool):
            return super().render_option(choice, **kwargs)
        return (_SELECTED if choice.selected else _OPTION) % (choice.value, choice.label or choice.value)


_OPTION, _SELECTED = Markup('<option value="%s">%s</option>'), Markup('<option selected value="%s">%s</option>')


class ReportFilterForm(SeparatorForm):
    date_from = optional_date(_l("From"))
    date_to = optional_date(_l("To"))
    class_id = choice(_l("Class"), [], default="")
    instructor_id = choice(_l("Instructor"), [], default="")
    student = StringField(_l("Student (name or email)"), filters=[strip], validators=[max_length(100)])

    def __init__(self, *args, classes=(), instructors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.class_id.choices = [SelectChoice("", _l("All classes"))] + [
            SelectChoice(str(c.id), c.name) for c in classes]
        self.instructor_id.choices = [SelectChoice("", _l("All instructors"))] + [
            SelectChoice(str(u.id), u.full_name) for u in instructors]
        self.class_id.widget = self.instructor_id.widget = LongSelect()

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date comes before the start date."))

    def filters(self) -> ExportFilter:
        return ExportFilter(date_from=self.date_from.data, date_to=self.date_to.data,
                            class_id=parse_uuid(self.class_id.data), instructor_id=parse_uuid(self.instructor_id.data),
                            student=self.student.data or "")
