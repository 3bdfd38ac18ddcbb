from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField

from babyowl.validators import choice, normalise_newlines, strip, whole_number


class SubmissionForm(FlaskForm):
    """Handing in an assignment; the service checks the values against the assignment's own rules."""

    kind = choice(_l("How do you hand it in?"), [("file", _l("A file")), ("text", _l("Text")), ("link", _l("A link"))])
    file = FileField(_l("File"))
    text = TextAreaField(_l("Your answer"), filters=[normalise_newlines])
    link = StringField(_l("Link to your work"), filters=[strip])
    comment = TextAreaField(_l("Comment for the instructor (optional)"), filters=[normalise_newlines])


class GradeForm(FlaskForm):
    status = choice(_l("Decision"), [("graded", _l("Graded")),
                                      ("returned", _l("Returned: the student should change it and hand it in again"))],
                    default="graded")
    grade = whole_number(_l("Grade"), minimum=0, maximum=1000)
    feedback = TextAreaField(_l("Feedback"), filters=[strip, normalise_newlines])
