"""Language, time zone and number formatting for English and Bahasa Indonesia."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel import Locale, numbers
from flask import current_app, g, has_request_context, request
from flask_babel import format_date, format_datetime, format_decimal, get_locale, get_translations
from jinja2 import pass_eval_context
from markupsafe import Markup

LANGUAGE_COOKIE = "babyowl_lang"
LANGUAGE_NAMES = {"id": "Bahasa Indonesia", "en": "English"}


def select_locale() -> Locale:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and jobs
        return _locale(current_app.config["BABEL_DEFAULT_LOCALE"])
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in languages:
        return _locale(chosen)
    return _locale(request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"])


_LOCALES: dict[str, Locale] = {}


def _locale(code: str) -> Locale:
    # Flask-Babel parses the selector's answer into a new Locale on every request (and the first date or number
    # formatted builds its data view again); a Locale never changes, so one per language serves the process.
    found = _LOCALES.get(code)
    if found is None:
        found = _LOCALES[code] = Locale.parse(code)
    return found


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


def _page_translations():
    """This request's translations, looked up once per request and language.

    Flask-Babel looks them up again for every `_()` a template calls (~10 µs
    each: the request globals, the locale's identifier, its cache); a page
    calls it dozens of times. The entry is keyed on the locale object Flask-Babel
    holds for this request, so `force_locale` (an email in its reader's
    language) gets its own; if Flask-Babel's internals change, every call
    simply takes the slow path again.
    """
    try:
        state = g._get_current_object().__dict__
    except RuntimeError:  # no app context: Flask-Babel's own answer (no translation)
        return get_translations()
    locale = getattr(state.get("_flask_babel"), "babel_locale", None)
    cached = state.get("babyowl_translations")
    if cached is None or locale is None or cached[0] is not locale:
        translations = get_translations()
        cached = state["babyowl_translations"] = (getattr(state.get("_flask_babel"), "babel_locale", None),
                                                  translations)
    return cached[1]


def _formatted(eval_ctx, text: str, variables: dict):
    # What Jinja's "newstyle" gettext does with a translation: escaped in an HTML template, always formatted.
    return (Markup(text) if eval_ctx.autoescape else text) % variables


@pass_eval_context
def _template_gettext(eval_ctx, message: str, **variables):
    return _formatted(eval_ctx, _page_translations().ugettext(message), variables)


@pass_eval_context
def _template_ngettext(eval_ctx, singular: str, plural: str, num: int, **variables):
    variables.setdefault("num", num)
    return _formatted(eval_ctx, _page_translations().ungettext(singular, plural, num), variables)


@pass_eval_context
def _template_pgettext(eval_ctx, context: str, message: str, **variables):
    variables.setdefault("context", context)
    return _formatted(eval_ctx, _page_translations().upgettext(context, message), variables)


@pass_eval_context
def _template_npgettext(eval_ctx, context: str, singular: str, plural: str, num: int, **variables):
    variables.setdefault("context", context)
    variables.setdefault("num", num)
    return _formatted(eval_ctx, _page_translations().unpgettext(context, singular, plural, num), variables)


def install_template_gettext(app) -> None:
    """`_()`, `ngettext()` and friends in templates, through `_page_translations` (after Babel's init_app).

    The same "newstyle" behaviour as Jinja's own callables, in one call instead of three: Jinja's `_` is an
    alias that resolves `gettext` from the context, which wraps the translation function, each a
    `Context.call`. A page calls `_()` dozens of times (issue 22: a third of the student home's render).
    """
    env = app.jinja_env
    env.install_gettext_callables(gettext=_template_gettext, ngettext=_template_ngettext, newstyle=True,
                                  pgettext=_template_pgettext, npgettext=_template_npgettext)
    env.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext,
                       pgettext=_template_pgettext, npgettext=_template_npgettext)


def register_filters(app) -> None:
    app.jinja_env.filters["percent"] = percent
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["datetime"] = datetime_local
    app.jinja_env.filters["date"] = date_local
