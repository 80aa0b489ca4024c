"""Quantities as farmers read them: what they typed beside kilograms, 公斤 in Chinese."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.config import REPO_ROOT
from bot.formatting import format_quantity
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
