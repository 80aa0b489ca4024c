"""Locale-aware formatting of quantities, moisture and dates (Babel)."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import segno
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.dates import format_timedelta, get_timezone_name
from babel.numbers import format_currency, format_decimal, format_percent

from bot.i18n import N_
from bot.quantity import GRAMS_PER_UNIT

Translate = Callable[[str], str]

# The unit words are the translator's (公斤 for Chinese, the word farmers say; CLDR has
# 千克 and no 斤); the numbers are Babel's.
UNIT_TEMPLATES = {
    "kg": N_("{amount} kg"),
    "jin": N_("{amount} jin"),
    "t": N_("{amount} t"),
}
TYPED_AND_KG = N_("{typed} ({kg})")
PER_KG = N_("{price}/kg")


def format_amount(amount: Decimal, unit: str, locale: str, translate: Translate) -> str:
    """An amount in one unit: "1,200 公斤", "500 jin"."""
    number = format_decimal(amount, format="#,##0.###", locale=locale)
    return translate(UNIT_TEMPLATES[unit]).format(amount=number)


def format_quantity(grams: int, locale: str, translate: Translate, unit: str | None = None) -> str:
    """Kilograms, after what the farmer typed when it was another unit: "500 斤（250 公斤）".

    `translate` is the gettext of `locale`; `unit` the unit typed (None: not known)."""
    kg = format_amount(Decimal(grams) / GRAMS_PER_UNIT["kg"], "kg", locale, translate)
    if unit is None or unit == "kg" or unit not in GRAMS_PER_UNIT:
        return kg
    typed = format_amount(Decimal(grams) / GRAMS_PER_UNIT[unit], unit, locale, translate)
    return translate(TYPED_AND_KG).format(typed=typed, kg=kg)


def format_moisture(tenths: int, locale: str) -> str:
    return format_decimal(Decimal(tenths) / 10, format="#,##0.#", locale=locale) + "%"


def format_moisture_range(low_tenths: int, high_tenths: int, locale: str) -> str:
    """A moisture range, "10.5–12%", or one figure when every report said the same."""
    if low_tenths == high_tenths:
        return format_moisture(low_tenths, locale)
    low = format_decimal(Decimal(low_tenths) / 10, format="#,##0.#", locale=locale)
    return f"{low}–{format_moisture(high_tenths, locale)}"


def format_count(number: int, locale: str) -> str:
    """A whole number with the locale's grouping: "1,234"."""
    return format_decimal(number, locale=locale)


@functools.lru_cache(maxsize=4096)
def format_money(fen: int, locale: str) -> str:
    """An amount in yuan with the locale's currency sign: "¥1,234.50", "CN¥1,234.50".

    Cached: Babel reads the locale's pattern and symbols on every call (0.15 ms, a tenth of
    a bid's handling), and prices repeat."""
    return format_currency(Decimal(fen) / 100, "CNY", locale=locale)


def format_change(percent: Decimal, locale: str) -> str:
    """A change in percent with its direction: "+5.0%", "-3.2%", "0.0%"."""
    pattern = "#,##0.0%" if not percent else "+#,##0.0%;-#,##0.0%"
    return format_percent(percent / 100, format=pattern, locale=locale)


def format_price(fen_per_kg: int, locale: str, translate: Translate) -> str:
    """A price per kilogram: "¥9.60/公斤", "CN¥9.60/kg"."""
    return translate(PER_KG).format(price=format_money(fen_per_kg, locale))


def format_datetime(moment: datetime, locale: str, tz: ZoneInfo) -> str:
    return _babel_datetime(moment, "short", tzinfo=tz, locale=locale)


def format_time_left(left: timedelta, locale: str) -> str:
    """Time until a close in the reader's words, in its two largest units, never rounded up
    ("1 day 23 hours", "1天23小时", "40秒"): a merchant must not think there is more time
    than there is."""
    seconds = max(int(left.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    units = [
        timedelta(days=days),
        timedelta(hours=hours),
        timedelta(minutes=minutes),
        timedelta(seconds=seconds),
    ]
    first = next((i for i, unit in enumerate(units) if unit), len(units) - 1)
    chinese = locale.startswith("zh")
    # CLDR's long Chinese form says "40秒钟" (40 seconds' duration); "40秒" is how a time
    # left is said, and the short form differs from the long one only there.
    parts = [
        format_timedelta(unit, threshold=1, locale=locale, format="short" if chinese else "long")
        for unit in units[first : first + 2]
        if unit or unit is units[first]
    ]
    return ("" if chinese else " ").join(parts)


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


def format_day(day: date, locale: str) -> str:
    """A calendar date (a pay date, already in the programme's zone): "2026年12月1日",
    "Dec 1, 2026"."""
    return _babel_date(day, "medium", locale=locale)
