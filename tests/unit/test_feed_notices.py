"""The price feed's notices render in every shipped language from the payloads
bot/services/price_feed.py writes: every failure reason, the move of a held price, its buttons."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram.types import InlineKeyboardMarkup

import handlers.feed_notices  # noqa: F401  (registers the renderers)
from bot.config import REPO_ROOT, SHIPPED_LOCALES
from bot.i18n import make_i18n
from bot.notice_texts import render
from handlers.callbacks import HeldPriceCb

SINCE = "2026-11-29T08:00:00+00:00"
LOCAL_TIME = r"\b(16|4):00"  # 08:00 UTC is 16:00 in Shanghai
HELD = {
    "price_id": 7,
    "product": "green",
    "grade": "AA",
    "fen_per_kg": 5000,
    "previous_fen": 3850,
    "change": "29.9",
    "observed_at": SINCE,
}
DOWN = {
    "timeout": {},
    "http": {"status": "503"},
    "network": {},
    "malformed": {},
    "absurd": {"field": "usd_cny", "value": "71.2", "low": "3", "high": "15"},
}


@pytest.fixture(scope="module")
def i18n() -> Any:
    return make_i18n(REPO_ROOT / "locales", "zh")


def text(i18n: Any, kind: str, payload: dict[str, Any], locale: str) -> Any:
    return render(kind, payload, locale, i18n, tz=ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize("locale", SHIPPED_LOCALES)
def test_a_held_price_shows_its_move_and_two_buttons(i18n: Any, locale: str) -> None:
    rendered = text(i18n, "price_held", HELD, locale)
    assert "¥50.00" in rendered.text and "¥38.50" in rendered.text and "+29.9%" in rendered.text
    assert "AA" in rendered.text
    assert isinstance(rendered.markup, InlineKeyboardMarkup)
    (row,) = rendered.markup.inline_keyboard
    assert [b.callback_data for b in row] == [
        HeldPriceCb(price_id=7, confirm=True).pack(),
        HeldPriceCb(price_id=7, confirm=False).pack(),
    ]
    first = text(i18n, "price_held", HELD | {"previous_fen": None, "change": None}, locale)
    assert "¥50.00" in first.text and "%" not in first.text


@pytest.mark.parametrize("reason", sorted(DOWN))
@pytest.mark.parametrize("locale", SHIPPED_LOCALES)
def test_the_feed_down_and_back(i18n: Any, locale: str, reason: str) -> None:
    down = text(i18n, "price_feed_down", {"since": SINCE, "reason": reason} | DOWN[reason], locale)
    assert "{" not in down.text and re.search(LOCAL_TIME, down.text)
    for fact in DOWN[reason].values():
        assert fact in down.text
    up = text(i18n, "price_feed_up", {"since": SINCE, "failures": 12}, locale)
    assert re.search(LOCAL_TIME, up.text) and "12" in up.text


def test_chinese_is_chinese(i18n: Any) -> None:
    assert "价格源" in text(i18n, "price_feed_down", {"since": SINCE, "reason": "http"}, "zh").text
    assert "生豆" in text(i18n, "price_held", HELD, "zh").text
