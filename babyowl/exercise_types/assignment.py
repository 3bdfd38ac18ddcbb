"""Assignments: instructions, how students hand in the work, and how it is graded."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, StringField, TextAreaField

from babyowl.exercise_types.base import (
    ExerciseForm, ExerciseType, Problems, StudentWork, clean_text, is_int, normalise_newlines, unique, whole_number,
)
from babyowl.exercise_types.richtext import render_markdown
from babyowl.validators import max_length, strip

SUBMISSION_TYPES = ("file", "text", "link")
EXTENSION = re.compile(r"\.[a-z0-9]{1,10}")
MAX_INSTRUCTIONS_LENGTH = 50_000
MAX_FILE_TYPES = 30


@dataclass
class AssignmentPanel:
    """The assignment in the lesson player: every version the student handed in."""
    submissions: list  # AssignmentSubmission rows, newest first

    @property
    def latest(self) -> Any:
        return self.submissions[0] if self.submissions else None

    @property
    def can_submit(self) -> bool:
        return self.latest is None or self.latest.status != "graded"


@dataclass
class AssignmentLine:
    """An assignment on the student's progress page: the latest version handed in, if any."""
    exercise: Any
    latest: Any


def parse_extensions(text: str | None) -> list[str]:
    """".py, PDF txt" → [".py", ".pdf", ".txt"] (commas, spaces or semicolons between them)."""
    names = [part.strip().lower() for part in re.split(r"[,;\s]+", text or "") if part.strip()]
    return unique(name if name.startswith(".") else "." + name for name in names)


def instructions_html(content: dict, problems: Problems, limit: int) -> tuple[str, str]:
    """(source, html) of Markdown instructions written in `instructionsSource`."""
    source = content.get("instructionsSource")
    source = clean_text(source) if isinstance(source, str) else ""
    if not source.strip():
        problems.add(_("Write the instructions."))
        return "", ""
    if len(source) > limit:
        problems.add(_("The instructions are too long: use at most %(max)d characters.", max=limit))
        return "", ""
    return source, render_markdown(source)


class AssignmentForm(ExerciseForm):
    instructions = TextAreaField(_l("Instructions"), filters=[normalise_newlines],
                                 validators=[max_length(MAX_INSTRUCTIONS_LENGTH)],
                                 description=_l("Written in Markdown."))
    allow_file = BooleanField(_l("Students upload a file"))
    allow_text = BooleanField(_l("Students write text"))
    allow_link = BooleanField(_l("Students give a link"))
    allowed_file_types = StringField(_l("Allowed file types"), filters=[strip], validators=[max_length(400)],
                                     description=_l("Extensions separated by commas, such as .py, .pdf, .zip."))
    max_file_size_mb = whole_number(_l("Largest file (MB)"), minimum=1, maximum=100, is_required=True, default=10)
    max_grade = whole_number(_l("Maximum grade"), minimum=1, maximum=1000, is_required=True, default=100)
    due_offset_days = whole_number(_l("Due after (days)"), minimum=0, maximum=365,
                                   description=_l("Days after the lesson is unlocked; empty for no due date."))


class AssignmentType(ExerciseType):
    name = "assignment"
    work_needed = ("submissions",)
    label = _l("Assignment")
    form_class = AssignmentForm
    fields_template = "exercise_types/assignment_fields.html"
    preview_template = "exercise_types/assignment_preview.html"
    player_template = "exercise_types/assignment_player.html"
    progress_section = "assignments"

    def _validate(self, content: dict, problems: Problems) -> dict:
        source, html = instructions_html(content, problems, MAX_INSTRUCTIONS_LENGTH)

        types = content.get("submissionTypes")
        if not isinstance(types, list) or not all(isinstance(t, str) and t in SUBMISSION_TYPES for t in types):
            problems.add(_("Students can hand in a file, text or a link: choose among these."))
            types = []
        elif not types:
            problems.add(_("Choose at least one way to hand in the work."))
        types = [t for t in SUBMISSION_TYPES if t in types]

        extensions = content.get("allowedFileTypes", [])
        if not isinstance(extensions, list) or not all(isinstance(e, str) for e in extensions):
            problems.add(_("The allowed file types must be a list of extensions such as .py or .pdf."))
            extensions = []
        extensions = unique(clean_text(e).strip().lower() for e in extensions)
        for extension in extensions:
            if not EXTENSION.fullmatch(extension):
                problems.add(_("“%(ext)s” is not a file extension such as .py or .pdf.", ext=extension[:20]))
        if len(extensions) > MAX_FILE_TYPES:
            problems.add(_("List at most %(max)d file types.", max=MAX_FILE_TYPES))
        if "file" in types and not extensions:
            problems.add(_("List the file types students may upload, such as .py or .pdf."))
        if "file" not in types:
            extensions = []

        size = content.get("maxFileSizeMb", 10)
        if not is_int(size) or not 1 <= size <= 100:
            problems.add(_("The largest file must be a whole number of MB from 1 to 100."))
        grade = content.get("maxGrade", 100)
        if not is_int(grade) or not 1 <= grade <= 1000:
            problems.add(_("The maximum grade must be a whole number from 1 to 1000."))
        due = content.get("dueOffsetDays")
        if due is not None and (not is_int(due) or not 0 <= due <= 365):
            problems.add(_("The due date must be a whole number of days from 0 to 365, or empty."))
        return {"instructions": html, "instructionsSource": source, "submissionTypes": types,
                "allowedFileTypes": extensions, "maxFileSizeMb": size, "maxGrade": grade, "dueOffsetDays": due}

    def content_from_form(self, form) -> dict:
        types = [t for t in SUBMISSION_TYPES if getattr(form, f"allow_{t}").data]
        return self.validate({
            "instructionsSource": form.instructions.data or "",
            "submissionTypes": types,
            "allowedFileTypes": parse_extensions(form.allowed_file_types.data),
            "maxFileSizeMb": form.max_file_size_mb.data,
            "maxGrade": form.max_grade.data,
            "dueOffsetDays": form.due_offset_days.data,
        })

    def form_data(self, content: dict) -> dict:
        types = content.get("submissionTypes") if isinstance(content.get("submissionTypes"), list) else []
        extensions = content.get("allowedFileTypes") if isinstance(content.get("allowedFileTypes"), list) else []
        return {
            "instructions": content.get("instructionsSource") or "",
            "allow_file": "file" in types,
            "allow_text": "text" in types,
            "allow_link": "link" in types,
            "allowed_file_types": ", ".join(e for e in extensions if isinstance(e, str)),
            "max_file_size_mb": content.get("maxFileSizeMb", 10),
            "max_grade": content.get("maxGrade", 100),
            "due_offset_days": content.get("dueOffsetDays"),
        }

    def player_panel(self, exercise, work: StudentWork, review_attempt: uuid.UUID | None = None) -> AssignmentPanel:
        return AssignmentPanel(work.submissions.get(exercise.id, []))

    def progress_line(self, exercise, work: StudentWork) -> AssignmentLine:
        versions = work.submissions.get(exercise.id, [])
        return AssignmentLine(exercise, versions[0] if versions else None)

    @staticmethod
    def completed_by_submission(status: str | None) -> bool:
        """Handed in counts as done; work returned for another try is open again until handed in anew."""
        return status in ("pending", "graded")
