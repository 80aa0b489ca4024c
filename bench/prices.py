"""What price pushes and charts cost: ``python bench/prices.py [--quick]``.

The daily digest is written in one transaction (its day's row and every notice, so a crash
sends it whole or not at all), and on SQLite a transaction holds the one write lock: every
update waits while a digest is written. This measures that transaction for the programme's
792 farmers and for 10,000 subscribers, on SQLite and on the PostgreSQL server at
FARMGATE_TEST_POSTGRES_URL (the local one .ci/run uses by default), against a baseline timed
in the same run: an announcement to the same people (bot/outbox.py enqueue_for, one
INSERT ... SELECT, what /broadcast writes). It also times the /prices chart (bot/price_chart.py):
the first one in a process (matplotlib's import and the font) and the next ones.

Subscribers are registered farmers with the digest on, half of them with a harvest report (a
product and grade of their own), six products and grades priced. Human-readable lines first;
the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select

from bench.updates import scratch_postgres
from bot import migrate
from bot.db import make_engine, make_sessionmaker
from bot.models import Grade, HarvestReport, PriceSource, Product, Role, User, Village
from bot.outbox import BULK, enqueue_for
from bot.services import price_pushes, prices
from bot.services.price_pushes import PushRules
from bot.services.prices import Key

NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)  # 09:00 in Yunnan: after the digest's time
KEYS = [
    Key(Product.CHERRY),
    Key(Product.PARCHMENT),
    Key(Product.PARCHMENT, Grade.AA),
    Key(Product.GREEN, Grade.AA),
    Key(Product.GREEN, Grade.A),
    Key(Product.GREEN, Grade.C),
]


async def _populate(url: str, people: int) -> None:
    """`people` subscribed farmers, every other one with a report, and six priced keys."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            village = Village(name="Conggang", code="CG")
            session.add(village)
            await session.flush()
            await session.execute(
                insert(User),
                [
                    {
                        "telegram_id": 10_000 + n,
                        "role": Role.FARMER,
                        "name": f"farmer {n}",
                        "phone": "13800000000",
                        "language": "zh" if n % 3 else "en",
                        "village_id": village.id,
                        "registered_at": NOW - timedelta(days=30),
                    }
                    for n in range(people)
                ],
            )
            ids = list(await session.scalars(select(User.id).order_by(User.id)))
            await session.execute(
                insert(HarvestReport),
                [
                    {
                        "farmer_id": user_id,
                        "farmer_seq": 1,
                        "village_id": village.id,
                        "product": KEYS[n % len(KEYS)].product,
                        "grade": KEYS[n % len(KEYS)].grade,
                        "variety": "catimor",
                        "quantity_g": 53_000,
                    }
                    for n, user_id in enumerate(ids)
                    if n % 2 == 0
                ],
            )
            for n, key in enumerate(KEYS):
                at = NOW - timedelta(days=1)
                await prices.record(session, key, 2000 + 100 * n, PriceSource.FEED, at=at)
                await prices.record(session, key, 2050 + 100 * n, PriceSource.FEED, at=NOW)
            await session.commit()
    finally:
        await engine.dispose()


async def _timed(url: str, work: Any) -> tuple[float, int]:
    """Seconds for one transaction of `work` (commit included) and what it returned."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            started = time.perf_counter()
            written = await work(session)
            await session.commit()
            return time.perf_counter() - started, int(written)
    finally:
        await engine.dispose()


async def measure(url: str, people: int) -> dict[str, Any]:
    await asyncio.to_thread(migrate.upgrade, url)
    await _populate(url, people)

    async def announcement(session: Any) -> int:
        return await enqueue_for(
            session, price_pushes.subscribers(), "broadcast", {}, "bench:", priority=BULK
        )

    async def digest(session: Any) -> int:
        return await price_pushes.digest(session, NOW, PushRules())

    baseline, announced = await _timed(url, announcement)
    took, sent = await _timed(url, digest)
    assert announced == people and sent == people, (announced, sent)
    return {"digest_s": round(took, 3), "announcement_s": round(baseline, 3), "notices": sent}


def chart_times(renders: int) -> dict[str, float]:
    from aiogram.utils.i18n import gettext as _

    from bot import price_chart
    from bot.config import REPO_ROOT
    from bot.i18n import make_i18n

    i18n = make_i18n(REPO_ROOT / "locales", "zh")
    series = [
        price_chart.Series(
            "生豆 · AA",
            [(NOW - timedelta(days=30), 3200), (NOW - timedelta(days=9), 3360)],
            [(NOW - timedelta(days=4), 3500)],
        )
    ]
    times = []
    with i18n.context(), i18n.use_locale("zh"):
        for _n in range(renders + 1):
            chart = price_chart.Chart(series, price_chart.words(_), NOW, PushRules().tz, "zh")
            started = time.perf_counter()
            price_chart.render_png(chart)
            times.append(time.perf_counter() - started)
    return {"chart_first_s": round(times[0], 3), "chart_s": round(statistics.median(times[1:]), 3)}


async def main(quick: bool) -> dict[str, Any]:
    sizes = [792] if quick else [792, 10_000]
    figures: dict[str, Any] = {}
    for people in sizes:
        with tempfile.TemporaryDirectory() as folder:
            sqlite = await measure(f"sqlite+aiosqlite:///{folder}/prices.db", people)
        async with scratch_postgres("bench_prices") as url:
            postgres = await measure(url, people)
        for name, got in (("sqlite", sqlite), ("postgres", postgres)):
            ratio = got["digest_s"] / got["announcement_s"]
            print(
                f"{name:8} {people:6} subscribers: digest {got['digest_s']:.3f} s in one "
                f"transaction, an announcement to them {got['announcement_s']:.3f} s "
                f"(x{ratio:.1f})",
                flush=True,
            )
            figures[f"digest_s_{name}_{people}"] = got["digest_s"]
            figures[f"digest_vs_announcement_{name}_{people}"] = round(ratio, 1)
    charts = chart_times(3 if quick else 10)
    print(
        f"chart: first in a process {charts['chart_first_s']:.3f} s, then "
        f"{charts['chart_s']:.3f} s (median)",
        flush=True,
    )
    figures.update(charts)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--quick", action="store_true", help="792 subscribers only")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.quick))))
