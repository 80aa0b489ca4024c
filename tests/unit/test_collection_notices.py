"""Every collection notice renders in every shipped language from the payload the collection
service writes: times in the programme's zone, money and weights for the reader, fees by
their translated label (an unknown fee name as configured), villages itemised on an invoice
that spans several."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

import handlers.collection_notices  # noqa: F401  (registers the renderers)
from bot.config import REPO_ROOT, SHIPPED_LOCALES
from bot.i18n import make_i18n
from bot.notice_texts import render

LOT = {"lot_id": 7, "product": "parchment", "process": "washed", "grade": "AA", "grams": 1_100_000}
SET = LOT | {"place": "Conggang station", "collect_at": "2026-12-01T01:30:00+00:00"}
PAYOUT = LOT | {
    "payout_id": 41,
    "report_id": 3,
    "farmer_seq": 2,
    "grams": 198_765,
    "price_fen": 2_350,
    "gross_fen": 467_098,
    "fees": {"cooperative": 9_342, "platform": 4_671, "transport": 1_000},
    "net_fen": 452_085,
    "correction_fen": 0,
    "amount_fen": 452_085,
    "due_on": "2026-12-08",
}
PAYLOADS: dict[str, dict[str, Any]] = {
    "collection_set/merchant": SET | {"merchant": True, "price_fen": 2_350, "changed": False},
    "collection_set/farmer": SET | {"merchant": False, "farmer_grams": 500_000, "changed": True},
    "weighed/delivered": LOT
    | {"farmer_seq": 2, "reported_grams": 200_000, "weighed_grams": 198_765, "delivered": True},
    "weighed/absent": LOT
    | {"farmer_seq": 1, "reported_grams": 400_000, "weighed_grams": 0, "delivered": False},
    "invoice": LOT
    | {
        "price_fen": 2_350,
        "weighed_grams": 1_098_765,
        "invoice_fen": 2_582_098,
        "villages": [
            {"village": "Conggang", "grams": 500_000, "fen": 1_175_000},
            {"village": "Nankang", "grams": 598_765, "fen": 1_407_098},
        ],
    },
    "payout_scheduled": PAYOUT,
}


@pytest.fixture(scope="module")
def i18n() -> Any:
    return make_i18n(REPO_ROOT / "locales", "zh")


@pytest.mark.parametrize("name", sorted(PAYLOADS))
@pytest.mark.parametrize("locale", SHIPPED_LOCALES)
def test_each_collection_notice_renders(i18n: Any, name: str, locale: str) -> None:
    kind = name.split("/")[0]
    text = render(kind, PAYLOADS[name], locale, i18n, tz=ZoneInfo("Asia/Shanghai")).text
    assert "{" not in text and "7" in text


def test_times_are_local_and_amounts_itemised(i18n: Any) -> None:
    tz = ZoneInfo("Asia/Shanghai")
    told = render("collection_set", PAYLOADS["collection_set/merchant"], "en", i18n, tz=tz).text
    assert "Conggang station" in told and "2026-12-01 09:30 (Tue)" in told
    paid = render("payout_scheduled", PAYOUT, "en", i18n, tz=tz).text
    assert paid.split("\n") == [
        "💴 Your payout for report #2 in Lot #7 is scheduled for Dec 8, 2026.",
        "",
        "Weighed: 198.765 kg at CN¥23.50/kg",
        "Gross: CN¥4,670.98",
        "Cooperative fee: −CN¥93.42",
        "Platform fee: −CN¥46.71",
        "transport: −CN¥10.00",
        "To be paid: CN¥4,520.85",
    ]
    zh = render("payout_scheduled", PAYOUT, "zh", i18n, tz=tz).text
    assert "合作社服务费：−¥93.42" in zh and "2026年12月8日" in zh
    invoice = render("invoice", PAYLOADS["invoice"], "zh", i18n, tz=tz).text
    assert "Nankang：598.765 公斤 · ¥14,070.98" in invoice
    absent = render("weighed", PAYLOADS["weighed/absent"], "en", i18n, tz=tz).text
    assert "not delivered" in absent and "no payout" in absent
