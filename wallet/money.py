"""Amounts as operators read and type them (SPEC §5): the ledger keeps integers in the
currency's minor unit; people see and enter the major unit ("50.00" for 5000 fen)."""

from __future__ import annotations

import re
from decimal import Decimal, Inexact, InvalidOperation, localcontext
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms import Field, TextInput
from django.utils.translation import gettext_lazy as _

# ISO 4217 minor-unit digits where they are not two.
MINOR_DIGITS = {
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "XAF": 0, "XOF": 0,
    "BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip
SYMBOLS = {"CNY": "¥", "JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$"}


def currency() -> str:
    return settings.CODEXPANEL_CURRENCY


def digits(code: str | None = None) -> int:
    return MINOR_DIGITS.get(code or currency(), 2)


def format_money(minor: int, code: str | None = None) -> str:
    """5000 → "¥50.00"; -500 → "-¥5.00"; a currency without a symbol here by its code."""
    code = code or currency()
    places = digits(code)
    major = Decimal(abs(minor)).scaleb(-places)
    number = f"{major:,.{places}f}"
    symbol = SYMBOLS.get(code)
    shown = f"{symbol}{number}" if symbol else f"{code} {number}"
    return f"-{shown}" if minor < 0 else shown


def major_text(minor: int, code: str | None = None) -> str:
    """5000 → "50.00": what a form shows for an amount it will read back with to_minor."""
    return f"{Decimal(minor).scaleb(-digits(code)):.{digits(code)}f}"


# Digits with an optional sign, thousands grouped by commas or not at all, and a point.
AMOUNT = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def to_minor(text: str, code: str | None = None) -> int:
    """ "50", "50.5" or "1,050.25" in the major unit → minor units. Raises ValueError for
    anything else: commas out of their groups of three ("1,05"), exponents, and anything
    finer than the minor unit."""
    places = digits(code)
    cleaned = text.strip()
    if not AMOUNT.fullmatch(cleaned):
        raise ValueError(text)
    with localcontext() as exact:
        # Wide enough for any typed amount; a rounding anywhere is an error, not a result.
        exact.prec = 80
        exact.traps[Inexact] = True
        try:
            minor = Decimal(cleaned.replace(",", "")).scaleb(places)
        except (InvalidOperation, Inexact):
            raise ValueError(text) from None
    if minor != minor.to_integral_value():
        raise ValueError(text)
    return int(minor)


MAX_TYPED = 32


class MoneyField(Field):
    """An amount typed in the major unit, cleaned to an integer in the minor unit."""

    widget = TextInput

    def __init__(self, *, maximum: int, allow_negative: bool = True, **kwargs: Any) -> None:
        self.maximum = maximum
        self.allow_negative = allow_negative
        super().__init__(**kwargs)
        self.widget.attrs.update(
            {"inputmode": "decimal", "autocomplete": "off", "maxlength": str(MAX_TYPED)}
        )

    def prepare_value(self, value: Any) -> Any:
        # A stored amount (an int) is shown in the major unit; typed text stays as typed.
        if isinstance(value, int) and not isinstance(value, bool):
            return major_text(value)
        return value

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = major_text(value)
        text = "" if value is None else str(value).strip()
        if text in self.empty_values:
            return None
        try:
            if len(text) > MAX_TYPED:
                raise ValueError(text)
            minor = to_minor(text)
        except ValueError:
            raise ValidationError(
                _("Enter an amount such as %(example)s, in %(currency)s.")
                % {"example": format_money(5000).lstrip("-"), "currency": currency()},
                code="invalid",
            ) from None
        if minor < 0 and not self.allow_negative:
            raise ValidationError(_("Enter the amount without a minus sign."), code="negative")
        if abs(minor) > self.maximum:
            raise ValidationError(
                _("At most %(most)s.") % {"most": format_money(self.maximum)}, code="max_value"
            )
        return minor
