"""The weighing screen of a large lot: pages of reports numbered across pages, three buttons
per report, never more buttons than Telegram allows, the running total on every page, and
Complete only once every report is recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import REPO_ROOT
from bot.i18n import make_i18n
from bot.models import CollectionStatus
from bot.services.collections import CollectionView, Contribution
from handlers import collection_texts as t
from handlers.collection import screen_markup

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def i18n() -> Any:
    return make_i18n(REPO_ROOT / "locales", "zh")


def view(recorded: int, count: int = 20) -> CollectionView:
    contributions = tuple(
        Contribution(
            report_id=100 + i,
            farmer_id=i,
            farmer=f"Farmer {i}",
            farmer_seq=1,
            village="Conggang",
            grams=53_000,
            weighed_grams=52_000 if i < recorded else None,
            delivered=True if i < recorded else None,
        )
        for i in range(count)
    )
    return CollectionView(
        lot_id=7,
        product="parchment",
        process="washed",
        grade="AA",
        village="Conggang",
        merchant="Buyer",
        merchant_company="Tea & Co",
        price_fen=2_350,
        place="Station",
        collect_at=datetime(2026, 12, 1, 1, 30, tzinfo=UTC),
        status=CollectionStatus.SCHEDULED,
        invoice_fen=None,
        contributions=contributions,
    )


def buttons(markup: Any) -> list[str]:
    return [b.text for row in markup.inline_keyboard for b in row]


def test_a_large_lot_is_paged(i18n: Any) -> None:
    with i18n.context(), i18n.use_locale("en"):
        partly = view(recorded=5)
        assert t.pages(partly) == 3
        last = t.screen(partly, 2, TZ)
        assert "17. Farmer 16 · report #1: reported 53 kg → —" in last
        assert "Page 3 of 3" in last
        assert "Recorded 5 of 20 reports · weighed 260 kg of 1,060 kg" in last
        labels = buttons(screen_markup(partly, 2))
        assert labels[:3] == ["✓ 17", "✏️ 17", "✗ 17"] and "◀ Previous" in labels
        assert "Next ▶" not in labels and "✅ Complete collection" not in labels
        assert len(buttons(screen_markup(view(5, count=500), 10))) <= 100
        done = view(recorded=20)
        assert "✅ Complete collection" in buttons(screen_markup(done, 0))
        assert "Every report is recorded" in t.screen(done, 0, TZ)
