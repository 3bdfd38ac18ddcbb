"""Language, time zone and number formatting for English and Bahasa Indonesia."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel import numbers
from flask import current_app, has_request_context, request
from flask_babel import format_date, format_datetime, format_decimal, get_locale

LANGUAGE_COOKIE = "babyowl_lang"
LANGUAGE_NAMES = {"id": "Bahasa Indonesia", "en": "English"}


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and jobs
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    # One school, one clock: lessons happen in the school's time zone.
    return current_app.config["SCHOOL_TIMEZONE"]


def money(amount: Decimal | int | float | None) -> str:
    """Rupiah without cents, grouped the way the reader's locale groups."""
    if amount is None:
        return ""
    return numbers.format_currency(Decimal(amount), current_app.config["CURRENCY"], format="¤ #,##0",
                                   locale=str(get_locale()), currency_digits=False)


def datetime_local(value: datetime | None, fmt: str = "medium") -> str:
    return format_datetime(value, fmt) if value else ""


def date_local(value: date | None, fmt: str = "medium") -> str:
    return format_date(value, fmt) if value else ""


def percent(value: Decimal | None) -> str:
    return f"{format_decimal(value, '0.#')}%" if value is not None else "—"


def register_filters(app) -> None:
    app.jinja_env.filters["percent"] = percent
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["datetime"] = datetime_local
    app.jinja_env.filters["date"] = date_local
