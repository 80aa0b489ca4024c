"""Every market notice renders in every shipped language from the payload its service writes,
with prices, weights and times formatted for the reader and its buttons attached."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram.types import ReplyKeyboardMarkup

import handlers.market_notices  # noqa: F401  (registers the renderers)
from bot.config import REPO_ROOT, SHIPPED_LOCALES
from bot.i18n import make_i18n
from bot.notice_texts import render

LOT = {"lot_id": 7, "product": "parchment", "process": "washed", "grade": "AA", "grams": 5_250_000}
SALE = LOT | {"price_fen": 2_310, "total_fen": 12_127_500}
PAYLOADS: dict[str, dict[str, Any]] = {
    "lot_opened": LOT | {"closes_at": "2026-12-01T10:00:00+00:00", "farmer_grams": 53_500},
    "new_lot": LOT | {"closes_at": "2026-12-01T10:00:00+00:00"},
    "outbid": LOT
    | {"price_fen": 2_310, "minimum_fen": 2_320, "closes_at": "2026-12-01T10:00:00+00:00"},
    "closing_soon": LOT | {"price_fen": None, "closes_at": "2026-12-01T10:00:00+00:00"},
    "lot_won": SALE,
    "lot_lost": SALE,
    "lot_sold": SALE | {"farmer_grams": 53_500, "farmer_fen": 123_585},
    "lot_unsold": LOT | {"farmer_grams": 53_500},
    "lot_cancelled": LOT | {"farmer_grams": 53_500},
    "bids_void": LOT,
    "acceptance_needed": SALE | {"due_at": "2026-12-02T10:00:00+00:00"},
    "sale_awaiting": SALE | {"due_at": "2026-12-02T10:00:00+00:00"},
    "sale_rejected": SALE | {"timeout": True},
    "acceptance_expired": SALE | {"timeout": True},
}
BUTTONS = {"new_lot": 1, "outbid": 1, "closing_soon": 1, "acceptance_needed": 2}


@pytest.fixture(scope="module")
def i18n() -> Any:
    return make_i18n(REPO_ROOT / "locales", "zh")


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
@pytest.mark.parametrize("locale", SHIPPED_LOCALES)
def test_each_market_notice_renders(i18n: Any, kind: str, locale: str) -> None:
    rendered = render(kind, PAYLOADS[kind], locale, i18n, tz=ZoneInfo("Asia/Shanghai"))
    assert "{" not in rendered.text and "7" in rendered.text
    markup = rendered.markup
    assert not isinstance(markup, ReplyKeyboardMarkup)  # market notices bring no menu
    buttons = [b for row in markup.inline_keyboard for b in row] if markup else []
    assert len(buttons) == BUTTONS.get(kind, 0)


def test_prices_weights_and_times_are_the_readers() -> None:
    i18n = make_i18n(REPO_ROOT / "locales", "zh")
    payload = PAYLOADS["outbid"]
    zh = render("outbid", payload, "zh", i18n, tz=ZoneInfo("Asia/Shanghai")).text
    en = render("outbid", payload, "en", i18n, tz=ZoneInfo("Asia/Shanghai")).text
    assert "¥23.10/公斤" in zh and "5,250 公斤" in zh and "批次 #7" in zh and "18:00" in zh
    assert "CN¥23.10/kg" in en and "5,250 kg" in en and "Lot #7" in en and "6:00" in en
    won = render("lot_won", PAYLOADS["lot_won"], "en", i18n).text
    assert "CN¥121,275.00" in won
