"""Donation amounts as integers in a currency's smallest unit (ISO 4217 minor units)."""

from __future__ import annotations

import re

__all__ = ["MINOR_DIGITS", "micros_to_minor", "parse_display_amount"]

MINOR_DIGITS: dict[str, int] = {
    "KRW": 0,
    "JPY": 0,
    "VND": 0,
    "CLP": 0,
    "ISK": 0,
    "HUF": 2,
    "TWD": 2,
    "IDR": 2,
    "BHD": 3,
    "KWD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
}
"""Minor-unit digits where they differ from 2 (ISO 4217)."""

_SYMBOLS: dict[str, str] = {
    "₩": "KRW",
    "$": "USD",
    "US$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "￥": "JPY",
    "CA$": "CAD",
    "A$": "AUD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "NT$": "TWD",
    "MX$": "MXN",
    "R$": "BRL",
    "₹": "INR",
    "₱": "PHP",
    "₫": "VND",
    "₽": "RUB",
    "₺": "TRY",
    "₪": "ILS",
    "CHF": "CHF",
    "SEK": "SEK",
    "NOK": "NOK",
    "DKK": "DKK",
    "PLN": "PLN",
    "SGD": "SGD",
}
_AMOUNT = re.compile(r"(?P<num>\d[\d,.\s\u00a0]*)")


def _digits(currency: str) -> int:
    return MINOR_DIGITS.get(currency, 2)


def micros_to_minor(micros: int, currency: str) -> int:
    """``amountMicros`` (millionths of the major unit) in minor units, rounded down."""
    return int(micros * 10 ** _digits(currency) // 1_000_000)


def parse_display_amount(text: str) -> tuple[int, str] | None:
    """``"₩10,000"`` -> ``(10000, "KRW")``, ``"$4.99"`` -> ``(499, "USD")``; None if no
    number is in ``text``. An unknown symbol is kept as the currency text."""
    match = _AMOUNT.search(text)
    if match is None:
        return None
    symbol = (text[: match.start()] + text[match.end() :]).strip()
    currency = _SYMBOLS.get(symbol, symbol.upper() or "XXX")
    number = re.sub(r"[\s\u00a0]", "", match.group("num")).rstrip(",.")
    whole, fraction = number, ""
    tail = re.search(r"[.,](\d{1,3})$", number)
    digits = _digits(currency)
    if (tail is not None and len(tail.group(1)) != 3) or (
        tail is not None and digits == 3 and number.count(",") + number.count(".") == 1
    ):
        whole, fraction = number[: tail.start()], tail.group(1)
    whole_value = int(re.sub(r"[.,]", "", whole) or "0")
    fraction = (fraction + "0" * digits)[:digits]
    return whole_value * 10**digits + int(fraction or "0"), currency
