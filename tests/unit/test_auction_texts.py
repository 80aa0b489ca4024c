"""The summary a coordinator confirms stays within Telegram's limits: every farmer listed
while it fits in a few messages, fewer names per lot (with how many more) when it does not;
a long bid list is split over messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.i18n import make_i18n
from bot.models import Grade, Process, Product
from bot.services.lots import BidRow, PlannedFarmer, PlannedLot
from bot.services.pools import Pool, PoolKey
from handlers.auction_texts import SUMMARY_PAGES, bid_pages, summary_pages

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS = Settings(_env_file=None, bot_token="123456:TEST-token-abcdefghijklmno")  # type: ignore[call-arg]
AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
POOL = Pool(
    key=PoolKey(1, Product.PARCHMENT, Process.WASHED, Grade.AA),
    village_name="Conggang",
    grams=42_000_000,
    farmers=792,
    reports=792,
    moisture_min_tenths=None,
    moisture_max_tenths=None,
    oldest_at=AT,
)


@pytest.fixture(scope="module")
def i18n() -> Any:
    return make_i18n(REPO_ROOT / "locales", "zh")


def _plan(lots: int, farmers: int) -> list[PlannedLot]:
    return [
        PlannedLot(
            grams=farmers * 53_000,
            report_ids=tuple(range(farmers)),
            farmers=tuple(PlannedFarmer(n, f"Farmer {lot}-{n}", 53_000, 1) for n in range(farmers)),
        )
        for lot in range(lots)
    ]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_small_plan_names_every_farmer_in_one_message(i18n: Any, lang: str) -> None:
    with i18n.context(), i18n.use_locale(lang):
        pages = summary_pages(POOL, _plan(2, 3), ["terms"], "size", SETTINGS)
    assert len(pages) == 1
    assert all(f"Farmer {lot}-{n}" in pages[0] for lot in range(2) for n in range(3))


@pytest.mark.parametrize(("lots", "farmers"), [(1, 792), (8, 99), (200, 4)])
def test_a_large_plan_is_cut_to_a_few_messages(i18n: Any, lots: int, farmers: int) -> None:
    with i18n.context(), i18n.use_locale("en"):
        pages = summary_pages(POOL, _plan(lots, farmers), ["terms"], "size", SETTINGS)
    assert all(len(page) <= 4096 for page in pages)
    text = "\n\n".join(pages)
    assert pages[-1].endswith("Open the auction?")
    if lots <= 8:
        assert len(pages) <= SUMMARY_PAGES
        assert "more farmers" in text or all(
            f"Farmer {lot}-{farmers - 1}" in text for lot in range(lots)
        )
        assert text.count("New lot ") == lots


def test_many_bids_are_split_over_messages(i18n: Any) -> None:
    rows = [
        BidRow(n, 7, "Buyer", "Tea & Co", 2000 + n, None, 2000 + n, 7, AT + timedelta(minutes=n))
        for n in range(300)
    ]
    with i18n.context(), i18n.use_locale("en"):
        pages = bid_pages(5, rows, SETTINGS.tz)
    assert len(pages) > 1 and all(len(page) <= 4096 for page in pages)
    assert pages[0].startswith("Bids on Lot #5 (300), oldest first:")
    assert sum(page.count("Buyer (Tea & Co)") for page in pages) == 600
