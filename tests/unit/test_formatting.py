"""Quantities as farmers read them (what they typed beside kilograms, 公斤 in Chinese), and the
time left in an auction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.config import REPO_ROOT
from bot.formatting import format_quantity, format_time_left
from bot.i18n import make_i18n


def translator(locale: str) -> Callable[[str], str]:
    i18n = make_i18n(REPO_ROOT / "locales", "zh")
    return lambda msgid: i18n.gettext(msgid, locale=locale)


@pytest.mark.parametrize(
    ("grams", "unit", "locale", "shown"),
    [
        (250_000, "jin", "zh", "500 斤（250 公斤）"),
        (250_000, "jin", "en", "500 jin (250 kg)"),
        (1_200_000, "kg", "zh", "1,200 公斤"),
        (1_200_000, "kg", "en", "1,200 kg"),
        (1_500_000, "t", "zh", "1.5 吨（1,500 公斤）"),
        (1_500_000, "t", "en", "1.5 t (1,500 kg)"),
        (12_000_000, None, "zh", "12,000 公斤"),  # a report from before the unit was kept
        (12_345, "kg", "en", "12.345 kg"),
        (500, "jin", "zh", "1 斤（0.5 公斤）"),
    ],
)
def test_the_unit_typed_beside_kilograms(
    grams: int, unit: str | None, locale: str, shown: str
) -> None:
    assert format_quantity(grams, locale, translator(locale), unit) == shown


def test_chinese_never_says_qianke() -> None:
    for unit in (None, "kg", "jin", "t"):
        assert "千克" not in format_quantity(3_000_000, "zh", translator("zh"), unit)


@pytest.mark.parametrize(
    ("seconds", "en", "zh"),
    [
        (0, "0 seconds", "0秒"),
        (100, "1 minute 40 seconds", "1分钟40秒"),
        (59 * 60, "59 minutes", "59分钟"),
        (3 * 3600 - 60, "2 hours 59 minutes", "2小时59分钟"),
        (23 * 3600, "23 hours", "23小时"),
        (47 * 3600, "1 day 23 hours", "1天23小时"),
        (2 * 86400 + 61, "2 days", "2天"),
        (-5, "0 seconds", "0秒"),
    ],
)
def test_time_left_is_never_rounded_up(seconds: int, en: str, zh: str) -> None:
    """47 hours left is not "2 days": a merchant must not think there is more time."""
    left = timedelta(seconds=seconds)
    assert (format_time_left(left, "en"), format_time_left(left, "zh")) == (en, zh)
