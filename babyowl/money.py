"""Amounts of money as people in Indonesia type them, read into `Decimal` rupiah.

One parser for every place money is typed (forms and services alike):
`1.750.000`, `Rp 1.500.000,00`, `Rp. 250.000`, `1750000`, `1750000,50` and
the English `1,750,000.00`. A dot followed by exactly three digits groups
thousands (the Indonesian way); a comma followed by one or two digits is the
decimal separator. Anything else is refused with a message, never guessed.
"""
from __future__ import annotations

import re
from decimal import Decimal

from flask_babel import lazy_gettext as _l

LARGEST = Decimal("1e13")  # the columns are NUMERIC(15, 2)

_PREFIX = re.compile(r"^(rp\.?|idr)\s*", re.IGNORECASE)
_FORMS = (
    # Indonesian: dots group thousands, an optional decimal comma.
    (re.compile(r"^\d{1,3}(\.\d{3})+(,\d{1,2})?$"), ".", ","),
    # English: commas group thousands, an optional decimal point.
    (re.compile(r"^\d{1,3}(,\d{3})+(\.\d{1,2})?$"), ",", "."),
    # Plain digits, with an optional decimal comma or point of one or two digits.
    (re.compile(r"^\d+(,\d{1,2})?$"), "", ","),
    (re.compile(r"^\d+\.\d{1,2}$"), "", "."),
)
# A trailing ",-" or ",00-" is how prices are often written on receipts.
_TRAILING_DASH = re.compile(r",-$|,--$|\.-$")


class InvalidAmount(ValueError):
    """The text is not an amount of rupiah; `message` says what to type."""

    def __init__(self):
        super().__init__(str(MESSAGE))
        self.message = MESSAGE


MESSAGE = _l("Enter an amount in rupiah, such as 1.750.000 or Rp 1.500.000,00.")


def parse_rupiah(text: str | Decimal | int | None) -> Decimal | None:
    """The amount as Decimal rupiah with two decimals, None when nothing was typed; InvalidAmount otherwise."""
    if text is None:
        return None
    if isinstance(text, (Decimal, int)):
        value = Decimal(text)
    else:
        if not text.strip():
            return None
        cleaned = re.sub(r"[\s\u00a0]+", "", _PREFIX.sub("", text.strip()))
        cleaned = _TRAILING_DASH.sub("", cleaned)
        for pattern, grouping, decimal_mark in _FORMS:
            if pattern.match(cleaned):
                if grouping:
                    cleaned = cleaned.replace(grouping, "")
                value = Decimal(cleaned.replace(decimal_mark, "."))
                break
        else:
            raise InvalidAmount()
    if not value.is_finite() or value < 0 or value >= LARGEST:
        raise InvalidAmount()
    return value.quantize(Decimal("0.01"))


def format_rupiah(amount: Decimal | int | None) -> str:
    """`Rp 1.750.000` (no cents, dots grouping thousands) the same in every language: for receipts and emails."""
    if amount is None:
        return ""
    whole = int(Decimal(amount).quantize(Decimal("1")))
    return "Rp " + f"{whole:,}".replace(",", ".")
