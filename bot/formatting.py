"""Locale-aware formatting of quantities, moisture and dates (Babel)."""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

import segno
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.dates import get_timezone_name
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


SCHEDULE_FORMAT = "%Y-%m-%d %H:%M"  # what a coordinator types (bot.services.broadcasts)


def schedule_example(now: datetime, tz: ZoneInfo) -> str:
    """Tomorrow at 09:00 in the programme's zone, written as a coordinator should type it."""
    tomorrow = now.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(9, 0)).strftime(SCHEDULE_FORMAT)


def format_schedule(moment: datetime, locale: str, tz: ZoneInfo) -> str:
    """A scheduled time in the format it was typed in, with the weekday in the reader's
    language: "2026-12-01 09:00 (周二)", "2026-12-01 09:00 (Tue)"."""
    local = moment.astimezone(tz)
    weekday = _babel_date(local, "EEE", locale=locale)
    return f"{local.strftime(SCHEDULE_FORMAT)} ({weekday})"


def zone_name(tz: ZoneInfo, locale: str) -> str:
    """The zone's everyday name and its identifier: "China Time (Asia/Shanghai)"."""
    name = get_timezone_name(tz, "long", locale=locale)
    if tz.key in {"UTC", "Etc/UTC"} or tz.key.startswith("Etc/"):
        return tz.key
    return f"{name}（{tz.key}）" if locale.startswith("zh") else f"{name} ({tz.key})"


def format_date(moment: datetime, locale: str, tz: ZoneInfo) -> str:
    return _babel_date(moment.astimezone(tz), "medium", locale=locale)


def qr_png(text: str) -> bytes:
    """A QR code (never a Micro QR, which phone cameras do not read) as PNG bytes."""
    buffer = io.BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="png", scale=10, border=4)
    return buffer.getvalue()
