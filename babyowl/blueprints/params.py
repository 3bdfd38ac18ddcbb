"""Reading what a request sends, shared by the views: bad values become None or page 1, never a 500."""
from __future__ import annotations

import uuid

from flask import request
from werkzeug.datastructures import FileStorage


def page_number() -> int:
    try:
        return int(request.args.get("page", 1))
    except ValueError:
        return 1


def parse_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def uploaded_file(data):
    """The uploaded file, or None when the file input was left empty."""
    return data if isinstance(data, FileStorage) and data.filename else None


def form_status() -> int:
    """A form shown again after a post failed validation answers 422 (htmx swaps it in place)."""
    return 422 if request.method == "POST" else 200
