"""The school's clock: dates such as an enrollment deadline are days in the school's time zone."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from flask import current_app


def school_today() -> date:
    return datetime.now(ZoneInfo(current_app.config["SCHOOL_TIMEZONE"])).date()


def school_moment(day: date, at: time) -> datetime:
    """A date and wall-clock time in the school's time zone, as the UTC instant it names."""
    local = datetime.combine(day, at).replace(tzinfo=ZoneInfo(current_app.config["SCHOOL_TIMEZONE"]))
    return local.astimezone(timezone.utc)


def in_school_time(moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(current_app.config["SCHOOL_TIMEZONE"]))
