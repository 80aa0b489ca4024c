"""How /pools renders pools: cherry without a process, ungraded, one moisture figure, and
many pools split over messages within Telegram's limit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.i18n import make_i18n
from bot.models import Grade, Process, Product
from bot.services.pools import Pool, PoolKey
from handlers.texts import pool_block, pool_pages

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS = Settings(_env_file=None, bot_token="123456:TEST-token-abcdefghijklmno")  # type: ignore[call-arg]
OLDEST = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def i18n() -> Any:
    return make_i18n(REPO_ROOT / "locales", "zh")


def _pool(village: str, grams: int, grade: Grade | None, moisture: tuple[int, int] | None) -> Pool:
    low, high = moisture or (None, None)
    return Pool(
        key=PoolKey(1, Product.CHERRY, None, grade),
        village_name=village,
        grams=grams,
        farmers=1,
        reports=1,
        moisture_min_tenths=low,
        moisture_max_tenths=high,
        oldest_at=OLDEST,
    )


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "en",
            "Conggang · Fresh cherry, grade AA — 1,250.5 kg from 1 farmer (1 report), "
            "moisture 11%, oldest Nov 20, 2026",
        ),
        (
            "zh",
            "Conggang · 鲜果，AA级 — 1,250.5 公斤，1 户农户（1 份上报），含水率 11%，"
            "最早 2026年11月20日",
        ),
    ],
)
def test_a_cherry_pool_has_no_process_and_one_moisture_figure(
    i18n: Any, lang: str, expected: str
) -> None:
    with i18n.context(), i18n.use_locale(lang):
        assert pool_block(_pool("Conggang", 1_250_500, Grade.AA, (110, 110)), SETTINGS) == expected


def test_many_pools_are_split_within_telegrams_limit(i18n: Any) -> None:
    pools = [_pool(f"Village {n:03}", 1000 * n, None, None) for n in range(1, 201)]
    with i18n.context(), i18n.use_locale("en"):
        pages = pool_pages(pools, SETTINGS)
        blocks = [pool_block(pool, SETTINGS) for pool in pools]
    assert len(pages) > 1 and all(len(page) <= 4096 for page in pages)
    assert pages[0].startswith("Harvest waiting to be sold, by pool (200):")
    shown = [b for page in pages for b in page.split("\n\n") if b.startswith("Village")]
    assert shown == blocks


def test_process_is_shown_for_beans(i18n: Any) -> None:
    pool = _pool("Nankang", 100_000, None, None)
    pool = Pool(**{**pool.__dict__, "key": PoolKey(1, Product.PARCHMENT, Process.HONEY, None)})
    with i18n.context(), i18n.use_locale("en"):
        assert pool_block(pool, SETTINGS).startswith("Nankang · Parchment, Honey, ungraded — ")
