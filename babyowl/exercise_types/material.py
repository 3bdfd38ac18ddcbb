"""Reading material: Markdown or HTML, always stored sanitised."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField

from babyowl.exercise_types.base import (
    ExerciseForm, ExerciseType, InvalidInput, Problems, choice, clean_text, normalise_newlines,
)
from babyowl.exercise_types.richtext import render_markdown, sanitize_html
from babyowl.validators import max_length

MAX_SOURCE_LENGTH = 100_000
FORMATS = ("markdown", "html")


class MaterialForm(ExerciseForm):
    format = choice(_l("Written in"), [("markdown", _l("Markdown")), ("html", _l("HTML"))], default="markdown",
                    description=_l("HTML is cleaned when saved: scripts, styles and embedded frames are removed."))
    body = TextAreaField(_l("Material"), filters=[normalise_newlines], validators=[max_length(MAX_SOURCE_LENGTH)])


class MaterialType(ExerciseType):
    name = "material"
    label = _l("Material")
    form_class = MaterialForm
    fields_template = "exercise_types/material_fields.html"
    preview_template = "exercise_types/material_preview.html"
    player_template = "exercise_types/material_player.html"

    def _validate(self, content: dict, problems: Problems) -> dict:
        fmt = content.get("format")
        source = content.get("source")
        if fmt not in FORMATS:
            problems.add(_("Choose Markdown or HTML."))
            fmt = None
        source = clean_text(source) if isinstance(source, str) else ""
        if not source.strip():
            problems.add(_("Write the material."))
            return {"format": fmt, "source": "", "html": ""}
        if len(source) > MAX_SOURCE_LENGTH:
            problems.add(_("The material is too long: use at most %(max)d characters.", max=MAX_SOURCE_LENGTH))
            return {"format": fmt, "source": "", "html": ""}
        if fmt == "html":
            # Only the cleaned HTML is kept, so nothing unsafe waits in the source for a later edit.
            source = html = sanitize_html(source)
        else:
            html = render_markdown(source)
        if fmt and not html.strip():
            problems.add(_("Write the material."))
        return {"format": fmt, "source": source, "html": html}

    def content_from_form(self, form) -> dict:
        return self.validate({"format": form.format.data, "source": form.body.data or ""})

    def form_data(self, content: dict) -> dict:
        return {"format": content.get("format") or "markdown", "body": content.get("source") or ""}

    def manual_completion_allowed(self, content: dict) -> bool:
        return True

    def apply_report(self, content: dict, progress, *, seconds: int | None, scroll_depth: int | None,
                     now) -> None:
        if scroll_depth is None or not 0 <= scroll_depth <= 100:
            raise InvalidInput(_("Send how far you read as a whole number from 0 to 100."))
        progress.scroll_depth = max(progress.scroll_depth, scroll_depth)

    def completed_by_progress(self, content: dict, *, watched_seconds: int, scroll_depth: int) -> bool:
        # The player reports 100 when the marker after the last paragraph comes into view.
        return scroll_depth >= 100
