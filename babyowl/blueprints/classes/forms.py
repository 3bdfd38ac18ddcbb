from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from babyowl.navigation import DAY_NAMES
from babyowl.services.classes import PACKAGE_PRESETS
from babyowl.validators import (
    choice, email_address, max_length, money, optional_date, optional_time, required, strip, whole_number,
)

DAY_CHOICES = [SelectChoice(day, name) for day, name in DAY_NAMES.items()]
PACKAGE_CHOICES = [(str(n), str(n)) for n in PACKAGE_PRESETS] + [("custom", _l("Other number"))]


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ClassForm(FlaskForm):
    name = StringField(_l("Class name"), filters=[strip], validators=[required(), max_length(255)])
    course_id = choice(_l("Course"), [])
    instructor_id = choice(_l("Instructor"), [])
    type = choice(_l("Type"), [("group", _l("Group")), ("private", _l("Private (one student)"))], default="group")
    package = choice(_l("Package (meetings)"), PACKAGE_CHOICES, default="10")
    custom_meetings = whole_number(_l("Number of meetings, if other"), minimum=1, maximum=200)
    max_capacity = whole_number(_l("Capacity (students)"), minimum=1, maximum=500, default=10,
                                description=_l("A private class always has one seat."))
    days = CheckboxesField(_l("Meeting days"), choices=DAY_CHOICES, validate_choice=False)
    start_time = optional_time(_l("From"))
    end_time = optional_time(_l("To"))
    enrollment_deadline = optional_date(_l("Enrollment deadline"), description=_l("Required for a group class."))
    start_date = optional_date(_l("First day"))
    end_date = optional_date(_l("Last day"))

    def __init__(self, *args, courses=(), instructors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.course_id.choices = [SelectChoice(str(c.id), c.title) for c in courses]
        self.instructor_id.choices = [SelectChoice("", _l("No instructor yet"))] + [
            SelectChoice(str(u.id), u.full_name) for u in instructors]


class EnrollForm(FlaskForm):
    student_id = StringField(_l("Student"))
    full_name = StringField(_l("New student's name"), filters=[strip], validators=[max_length(255)])
    email = EmailField(_l("New student's email"), filters=[strip], validators=[max_length(255)])
    paid_at_desk = money(_l("Paid at the desk (Rp), if so"),
                         description=_l("Leave empty to send an invoice. For example 1.750.000"))

    def validate_email(self, field):
        if field.data:
            email_address()(self, field)


class ContinuationForm(FlaskForm):
    student_id = choice(_l("Student"), [])
    name = StringField(_l("Name of the private class"), filters=[strip], validators=[required(), max_length(255)])
    instructor_id = choice(_l("Instructor"), [])
    total_meetings = whole_number(_l("Meetings"), minimum=1, maximum=200, is_required=True)
    start_date = optional_date(_l("First day"))
