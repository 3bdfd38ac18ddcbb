"""Forms of the community pages; the rules themselves live in the services."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, MultipleFileField, StringField, TextAreaField, TimeField
from wtforms.validators import Optional

from babyowl.services.community import MAX_COMMENT, MAX_POST, MAX_REASON
from babyowl.validators import choice, email_address, max_length, normalise_newlines, required, strip, whole_number


class PostForm(FlaskForm):
    content = TextAreaField(_l("Share something"), filters=[strip, normalise_newlines],
                            validators=[required(), max_length(MAX_POST)],
                            description=_l("Markdown: **bold**, *italic*, lists, [links](https://…)."))
    # "school", "class:<id>" or "group:<id>"; the choices are filled per person by the view.
    where = choice(_l("Who sees it"), [("school", _l("The whole school"))], default="school")
    images = MultipleFileField(_l("Pictures"), description=_l("Up to 4 pictures: JPEG, PNG, GIF or WebP, 5 MB each."))
    submission = choice(_l("Share one of your programs"), [("", _l("No program"))], default="")
    # The turtle's record, filled in by the coding page's "Share this drawing" form.
    drawing = HiddenField()


class EditPostForm(FlaskForm):
    content = TextAreaField(_l("Your post"), filters=[strip, normalise_newlines],
                            validators=[required(), max_length(MAX_POST)],
                            description=_l("Markdown: **bold**, *italic*, lists, [links](https://…)."))


class CommentForm(FlaskForm):
    content = TextAreaField(_l("Your comment"), filters=[strip, normalise_newlines],
                            validators=[required(), max_length(MAX_COMMENT)])


class ReportForm(FlaskForm):
    reason = StringField(_l("What is wrong?"), filters=[strip], validators=[required(), max_length(MAX_REASON)])


class ModerationForm(FlaskForm):
    action = HiddenField(validators=[required()])
    reason = StringField(_l("Reason"), filters=[strip], validators=[Optional(), max_length(MAX_REASON)])


class SettingsForm(FlaskForm):
    posts_need_approval = BooleanField(_l("Students' posts need approval before others see them"))
    muted_words = TextAreaField(
        _l("Muted words"), filters=[strip], validators=[Optional(), max_length(20000)],
        description=_l("One word or phrase per line; posts and comments with them are refused."))


class GroupForm(FlaskForm):
    name = StringField(_l("Name"), filters=[strip], validators=[required(), max_length(255)])
    description = TextAreaField(_l("What the group is for"), filters=[strip, normalise_newlines],
                                validators=[Optional(), max_length(2000)])
    join_policy = choice(_l("Who can join"), [("open", _l("Anyone in the school")),
                                               ("invitation", _l("Only people invited"))], default="open")


class InviteForm(FlaskForm):
    email = StringField(_l("Email of the person to invite"), filters=[strip], validators=[required(), email_address()])


class EventForm(FlaskForm):
    title = StringField(_l("Title"), filters=[strip], validators=[required(), max_length(255)])
    description = TextAreaField(_l("Description"), filters=[strip, normalise_newlines],
                                validators=[Optional(), max_length(5000)])
    event_date = DateField(_l("Date"), validators=[required()], format="%Y-%m-%d")
    start_time = TimeField(_l("Starts"), validators=[required()])
    end_time = TimeField(_l("Ends"), validators=[required()])
    online = BooleanField(_l("Online"))
    location = StringField(_l("Place or link"), filters=[strip], validators=[Optional(), max_length(255)])
    capacity = whole_number(_l("Capacity"), minimum=1, maximum=10000,
                            description=_l("Leave empty for no limit."))


class RSVPForm(FlaskForm):
    status = choice(_l("Your answer"), [("attending", _l("Going")), ("maybe", _l("Maybe")),
                                        ("declined", _l("Not going"))])
