"""The school's clock: dates such as an enrollment deadline are days in the school's time zone."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def school_today() -> date:
    return datetime.now(ZoneInfo(current_app.config["SCHOOL_TIMEZONE"])).date()
