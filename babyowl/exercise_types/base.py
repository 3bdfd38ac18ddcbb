"""What every exercise type shares: the base form, the strategy interface, content checks.

An exercise type validates and normalises its own `content` (the JSON stored in
`exercises.content`), builds it from its own form, and names the templates that
render its form fields and its student preview. None of it sees `request`: a
view hands over a form that WTForms has already filled.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField

from babyowl.services.errors import InvalidInput
from babyowl.validators import choice, max_length, normalise_newlines, required, strip, whole_number  # noqa: F401


class InvalidContent(InvalidInput):
    """Exercise content that cannot be stored, with one message per problem."""

    def __init__(self, messages: list[str] | str):
        if isinstance(messages, str):
            messages = [messages]
        self.messages = [str(m) for m in messages]
        super().__init__(" ".join(self.messages))


# ---------------------------------------------------------------------------
# Form helpers: every message is one of ours (WTForms ships no Indonesian).

class ExerciseForm(FlaskForm):
    """The fields every exercise has; each type's form adds its own."""

    title = StringField(_l("Title"), filters=[strip], validators=[required(), max_length(255)])
    estimated_duration = whole_number(_l("Estimated duration (minutes)"), minimum=0, maximum=600,
                                      description=_l("How long a student needs, in minutes (optional)."))


class RowsMixin:
    """Buttons of a form with a growing list of rows (questions, test cases).

    The buttons are submit buttons named `add_row` and `remove_row` (value: the
    row's index), so adding and removing rows works without JavaScript.
    """

    add_row = SubmitField("")
    remove_row = StringField("")


# ---------------------------------------------------------------------------
# Content checks: plain functions over JSON-like values, never raising.

_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")  # PostgreSQL's jsonb refuses NUL; lone surrogates don't encode


def clean_text(value: str) -> str:
    return normalise_newlines(_BAD_CHARACTERS.sub("", value))


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Problems:
    """Collects one message per problem, then raises them all at once."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(str(message))

    def __bool__(self) -> bool:
        return bool(self.messages)

    def raise_if_any(self) -> None:
        if self.messages:
            raise InvalidContent(self.messages)


def text_value(value: Any, *, limit: int, strip_it: bool = True) -> str | None:
    """A cleaned string, or None when `value` is not a string or is longer than `limit`."""
    if not isinstance(value, str):
        return None
    value = clean_text(value)
    if strip_it:
        value = value.strip()
    if len(value) > limit:
        return None
    return value


def string_list(value: Any) -> list | None:
    return value if isinstance(value, list) else None


def non_empty_lines(text: str | None) -> list[str]:
    return [line.strip() for line in normalise_newlines(text or "").split("\n") if line.strip()]


def unique(values):
    seen, result = set(), []
    for value in values:
        if value not in seen:
            seen.add(value)
            result.append(value)
    return result


# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class StudentWork:
    """One student's recorded work on the exercises of a page, loaded once by the lesson player.

    Each type takes its own part of it (`ExerciseType.player_panel`), so the
    player never asks which type an exercise is.
    """
    student_id: uuid.UUID
    quiz_attempts: dict[uuid.UUID, list] = field(default_factory=dict)   # oldest first
    submissions: dict[uuid.UUID, list] = field(default_factory=dict)     # newest first


class ExerciseType:
    """One kind of exercise: its content schema, form and templates.

    `fields_template` renders the type's own fields given `form` (the view
    renders `title` and `estimated_duration`); `preview_template` renders the
    exercise as a student sees it given `exercise` and `content`, read-only;
    `player_template` renders it in the lesson player, where the student's
    work is recorded (it defaults to the preview), given `item` (the exercise,
    the student's progress and the type's `player_panel`), `exercise` and
    `content`. The player page renders every type through one block,
    `exercise_panel`, and never asks for a type's name.
    """

    name: ClassVar[str]
    label: ClassVar[Any]
    form_class: ClassVar[type[ExerciseForm]]
    fields_template: ClassVar[str]
    preview_template: ClassVar[str]
    player_template: ClassVar[str | None] = None
    # Which list of a student's progress page shows this type's graded work ("quizzes", "assignments"), if any.
    progress_section: ClassVar[str | None] = None
    # The parts of `StudentWork` this type's player panel reads ("quiz_attempts", "submissions"): the player
    # loads only those (a quiz answered after a submit needs no hand-ins read).
    work_needed: ClassVar[tuple[str, ...]] = ()

    def validate(self, content: dict) -> dict:
        """The normalised content, or InvalidContent with one message per problem.

        Safe on any JSON-like value, and idempotent: validate(validate(c)) == validate(c).
        """
        if not isinstance(content, dict):
            raise InvalidContent([_("The exercise content must be a JSON object.")])
        problems = Problems()
        result = self._validate(content, problems)
        problems.raise_if_any()
        return result

    def _validate(self, content: dict, problems: Problems) -> dict:
        raise NotImplementedError

    def content_from_form(self, form) -> dict:
        """Content from a form that passed validate(); may store uploads. Raises InvalidContent."""
        raise NotImplementedError

    def form_data(self, content: dict) -> dict:
        """`form_class(data=...)` for editing `content` (the type's own fields, not title or duration)."""
        raise NotImplementedError

    def handle_row_action(self, form) -> bool:
        """Apply an "add a row" / "remove row N" button; True when the POST was one (re-render, don't save)."""
        return False

    def stored_keys(self, content: dict) -> list[str]:
        """Storage keys of the files this content owns."""
        return []

    def estimated_minutes(self, content: dict, form_value: int | None) -> int | None:
        """The exercise's duration in minutes: what the author typed, unless the type knows better."""
        return form_value

    # -- the lesson player ----------------------------------------------------

    @property
    def player(self) -> str:
        """The template of the exercise in the lesson player."""
        return self.player_template or self.preview_template

    def player_panel(self, exercise, work: StudentWork, review_attempt: uuid.UUID | None = None) -> Any:
        """What the player shows of the student's own work on `exercise` (None when the type shows nothing).

        `review_attempt` asks for the feedback on that attempt, for the types that have attempts.
        """
        return None

    def progress_line(self, exercise, work: StudentWork) -> Any:
        """The student's result on `exercise` for their progress page (types with a `progress_section`)."""
        return None

    # -- completion rules (the lesson player) ---------------------------------

    def manual_completion_allowed(self, content: dict) -> bool:
        """Whether a "Mark as done" button completes it."""
        return False

    def completed_by_progress(self, content: dict, *, watched_seconds: int, scroll_depth: int) -> bool:
        """Whether the reported watching or reading completes it."""
        return False

    def why_not_marked_done(self, content: dict) -> str:
        """What a student is told when "Mark as done" does not complete this exercise."""
        return _("This exercise is completed by doing it, not by marking it as done.")

    def apply_report(self, content: dict, progress, *, seconds: int | None, scroll_depth: int | None,
                     now) -> None:
        """Apply what the player reported (seconds watched, how far read) to the student's progress row.

        InvalidInput for a report this type does not take or a value out of range.
        """
        raise InvalidInput(_("Only videos and materials report progress."))

    def __repr__(self) -> str:
        return f"<ExerciseType {self.name}>"


def apply_row_action(form, rows_field, make_row) -> bool:
    """Apply an `add_row` / `remove_row` button to `rows_field`; True when one was pressed.

    `make_row(form)` gives the data of a new, empty row.
    """
    add = getattr(form, "add_row", None)
    remove = getattr(form, "remove_row", None)
    if add is not None and add.data:
        if not rows_field.max_entries or len(rows_field.entries) < rows_field.max_entries:
            rows_field.append_entry(make_row(form))
        return True
    if remove is not None and remove.data not in (None, ""):
        try:
            index = int(remove.data)
        except (TypeError, ValueError):
            return True
        if 0 <= index < len(rows_field.entries):
            rows_field.pop_entry(index)
            while len(rows_field.entries) < max(rows_field.min_entries, 0):
                rows_field.append_entry(make_row(form))
        return True
    return False


def next_id(prefix: str, taken) -> str:
    taken = set(taken)
    number = 1
    while f"{prefix}{number}" in taken:
        number += 1
    return f"{prefix}{number}"
