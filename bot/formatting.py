"""Locale-aware formatting of quantities, moisture and dates (Babel)."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

import segno
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.numbers import format_decimal
from babel.units import format_unit

# Chinese readers expect 公斤/吨 spelled out; English readers expect kg/t.
_UNIT_LENGTH: dict[str, Literal["short", "long", "narrow"]] = {"zh": "long"}


def format_quantity(grams: int, locale: str) -> str:
    """1,200 kg below a tonne's worth of kilograms shown as kg, from 10 t on as tonnes."""
    length = _UNIT_LENGTH.get(locale, "short")
    if grams >= 10_000_000:
        value = Decimal(grams) / Decimal(1_000_000)
        return format_unit(value, "mass-tonne", length=length, locale=locale, format="#,##0.###")
    value = Decimal(grams) / Decimal(1000)
    return format_unit(value, "mass-kilogram", length=length, locale=locale, format="#,##0.###")


def format_moisture(tenths: int, locale: str) -> str:
    return format_decimal(Decimal(tenths) / 10, format="#,##0.#", locale=locale) + "%"


def format_datetime(moment: datetime, locale: str, tz: ZoneInfo) -> str:
    return _babel_datetime(moment, "short", tzinfo=tz, locale=locale)


def format_date(moment: datetime, locale: str, tz: ZoneInfo) -> str:
    return _babel_date(moment.astimezone(tz), "medium", locale=locale)


def qr_png(text: str) -> bytes:
    """A QR code (never a Micro QR, which phone cameras do not read) as PNG bytes."""
    buffer = io.BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="png", scale=10, border=4)
    return buffer.getvalue()
