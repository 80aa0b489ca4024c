"""Bids through the whole bot: ``python bench/bids.py [--quick]``.

Two figures, both through the real bot (update -> handler -> database -> reply -> outbox)
long-polling the Bot API emulator in its own process (bench/updates.py's harness):

1. Bids per second. Many approved merchants press a quick-bid button at the same moment, each
   on a lot of their own opened for the round (so every bid is accepted and answered with one
   message and nobody is outbid: the figure counts bids, not refusals or notices), on SQLite
   and on PostgreSQL. Each round follows a round of a bare aiogram echo bot answering the
   same number of updates on an emulator of its own; the ratios are bids ÷ echo, the median
   of the rounds' ratios (the machine's load drifts between rounds).
2. Outbid notices while a broadcast drains. A 10,000-recipient announcement is sending at
   the default 30 messages a second (PostgreSQL); two merchants outbid each other on one lot,
   one bid at a time; the figure is how long each outbid notice takes from the press to its
   arrival, p95. Personal notices go before broadcast ones (bot/outbox.py priorities) within
   the same global and per-chat limits.

`--rtt-ms` adds a round trip to every Bot API call (Telegram is 50-150 ms away; the emulator
about 1 ms). The PostgreSQL server is FARMGATE_TEST_POSTGRES_URL (default the local one
.ci/run uses); a scratch database is created and dropped. Human-readable lines first; the last
line is one JSON object: bids_per_s_sqlite, bids_per_s_postgres, echo_per_s, ratio_sqlite,
ratio_postgres, outbid_p95_s_during_broadcast, and more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, func, insert, select

from bench.updates import Echo, Harness, Paired, farmgate, median, paired, scratch_postgres
from bench.updates import echo_bot as bare_echo_bot
from bot import migrate
from bot.db import make_engine, make_sessionmaker
from bot.models import (
    CoordinatorVia,
    Grade,
    HarvestReport,
    MerchantStatus,
    Notice,
    NoticeStatus,
    Process,
    Product,
    ReportStatus,
    Role,
    User,
    Variety,
    Village,
    utcnow,
)
from bot.services import broadcasts, lots
from bot.services.pools import PoolKey
from handlers.callbacks import QuickBidCb

RESERVE = 2_000  # fen per kg
INCREMENT = 10
MERCHANTS = 100_000  # their telegram ids start here
FARMERS = 500_000
COORDINATOR = 42

Update = dict[str, Any]


class Market:
    """The database side, written directly (not measured): people, reports, lots, a broadcast."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.village_id = 0

    async def close(self) -> None:
        await self.engine.dispose()

    async def people(self, merchants: int, farmers: int) -> None:
        now = utcnow()
        common = {"language": "en", "registered_at": now}
        async with self.sessionmaker() as session, session.begin():
            village = Village(name="Conggang", code="conggang")
            session.add(village)
            await session.flush()
            self.village_id = village.id
            rows: list[dict[str, Any]] = [
                common
                | {
                    "telegram_id": MERCHANTS + i,
                    "role": Role.MERCHANT,
                    "merchant_status": MerchantStatus.APPROVED,
                    "company": f"Merchant {i}",
                    "contact": "13900000000",
                }
                for i in range(merchants)
            ]
            rows += [
                common
                | {
                    "telegram_id": FARMERS + i,
                    "role": Role.FARMER,
                    "name": f"Farmer {i}",
                    "phone": "+8613800000000",
                    "village_id": village.id,
                }
                for i in range(farmers)
            ]
            rows.append(
                common
                | {
                    "telegram_id": COORDINATOR,
                    "role": Role.COORDINATOR,
                    "coordinator_via": CoordinatorVia.CHAT,
                    "name": "Coordinator",
                }
            )
            await session.execute(insert(User), rows)

    async def open_lots(self, count: int) -> list[int]:
        """`count` lots of one 60 kg report each (the first farmer's), closing tomorrow."""
        async with self.sessionmaker() as session, session.begin():
            coordinator = await session.scalar(select(User).where(User.telegram_id == COORDINATOR))
            farmer = await session.scalar(select(User.id).where(User.telegram_id == FARMERS))
            assert coordinator is not None and farmer is not None
            seq = await session.scalar(
                select(func.coalesce(func.max(HarvestReport.farmer_seq), 0)).where(
                    HarvestReport.farmer_id == farmer
                )
            )
            await session.execute(
                insert(HarvestReport),
                [
                    {
                        "farmer_id": farmer,
                        "farmer_seq": int(seq or 0) + n + 1,
                        "village_id": self.village_id,
                        "product": Product.PARCHMENT,
                        "process": Process.WASHED,
                        "variety": Variety.CATIMOR,
                        "grade": Grade.AA,
                        "quantity_g": 60_000,
                        "status": ReportStatus.SUBMITTED,
                    }
                    for n in range(count)
                ],
            )
            opened = await lots.open_lots(
                session,
                coordinator,
                PoolKey(self.village_id, Product.PARCHMENT, Process.WASHED, Grade.AA),
                1,  # every report a lot of its own
                lots.Terms(RESERVE, INCREMENT, utcnow() + timedelta(days=1)),
            )
            # Not measured here: the notices the opening wrote (farmers told, merchants told).
            await session.execute(delete(Notice).where(Notice.status == NoticeStatus.PENDING))
            return [lot.id for lot in opened]

    async def broadcast(self) -> int:
        async with self.sessionmaker() as session, session.begin():
            coordinator = await session.scalar(select(User).where(User.telegram_id == COORDINATOR))
            assert coordinator is not None
            created = await broadcasts.create_broadcast(
                session, coordinator, broadcasts.Audience("farmers"), {"": "Market day tomorrow."}
            )
            return created.id

    async def sent(self, broadcast_id: int) -> int:
        async with self.sessionmaker() as session:
            count = await session.scalar(
                select(func.count(Notice.id)).where(
                    Notice.broadcast_id == broadcast_id, Notice.status == NoticeStatus.SENT
                )
            )
            return int(count or 0)


def press(user: int, lot_id: int, price: int) -> Update:
    data = QuickBidCb(lot_id=lot_id, price=price).pack()
    return {"user": user, "press": data, "message": 0, "force": True}


async def bid_rounds(harness: Harness, echo: Echo, url: str, merchants: int, rounds: int) -> Paired:
    """Rounds of `merchants` quick bids at once, each on a lot of its own."""
    await asyncio.to_thread(migrate.upgrade, url)
    market = Market(url)
    try:
        await market.people(merchants, 1)
        users = [MERCHANTS + i for i in range(merchants)]
        async with farmgate(harness.api_url, url, notice_rate=1000):
            warm = await market.open_lots(50)
            await harness.feed(
                [press(u, lot, RESERVE) for u, lot in zip(users, warm, strict=False)]
            )
            plans = [await market.open_lots(merchants) for _ in range(rounds)]
            return await paired(
                harness,
                echo,
                rounds,
                lambda index: [
                    press(u, lot, RESERVE) for u, lot in zip(users, plans[index], strict=True)
                ],
            )
    finally:
        await market.close()


async def outbid_latencies(harness: Harness, url: str, audience: int, bids: int) -> list[float]:
    """Seconds from a bid's press to the outbid notice's arrival at the merchant it outbid,
    while a broadcast to `audience` farmers drains at 30 a second."""
    await asyncio.to_thread(migrate.upgrade, url)
    market = Market(url)
    assert harness.http is not None
    try:
        await market.people(2, audience)
        (lot_id,) = await market.open_lots(1)
        pair = [MERCHANTS, MERCHANTS + 1]
        async with farmgate(harness.api_url, url):  # NOTICE_RATE 30, the default
            broadcast_id = await market.broadcast()
            deadline = time.monotonic() + 60
            while await market.sent(broadcast_id) < 60:  # draining, not starting
                if time.monotonic() > deadline:
                    raise RuntimeError("the broadcast did not start sending")
                await asyncio.sleep(0.2)
            latencies = []
            price = RESERVE
            for n in range(bids + 1):
                bidder, outbid = pair[n % 2], pair[(n + 1) % 2]
                async with harness.http.get(f"{harness.control_url}/_bench/count") as response:
                    since = int(await response.json())
                started = (await harness.feed([press(bidder, lot_id, price)], expect=0))["started"]
                price += INCREMENT
                if n == 0:  # the first bid outbids nobody: wait for its reply only
                    await _arrival(harness, since, bidder)
                    continue
                latencies.append(await _arrival(harness, since, outbid) - started)
            remaining = audience - await market.sent(broadcast_id)
            print(f"  (the broadcast still had {remaining:,} to send)", flush=True)
            return latencies
    finally:
        await market.close()


async def _arrival(harness: Harness, since: int, chat_id: int, within: float = 60) -> float:
    """The emulator's clock when the first message to `chat_id` after entry `since` arrived."""
    assert harness.http is not None
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        url = f"{harness.control_url}/_bench/sent?since={since}"
        async with harness.http.get(url) as response:
            log: list[list[float]] = await response.json()
        for at, chat in log:
            if int(chat) == chat_id:
                return float(at)
        await asyncio.sleep(0.02)
    raise RuntimeError(f"no message reached {chat_id} within {within} s")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> dict[str, Any]:
    rounds = args.rounds or (2 if args.quick else 5)
    merchants = args.merchants or (200 if args.quick else 300)
    audience = 2_000 if args.quick else 10_000
    outbids = 10 if args.quick else 30
    harness = Harness(args.rtt_ms)
    echo = Echo(merchants)
    echo.harness.latency_ms = args.rtt_ms  # the same distance for the echo bot
    await harness.start()
    await echo.harness.start()
    figures: dict[str, Any] = {"merchants": merchants, "rounds": rounds, "rtt_ms": args.rtt_ms}
    echo_rates: list[float] = []
    try:
        async with bare_echo_bot(echo.harness.api_url):
            await echo.harness.feed([{"user": u, "text": "hi"} for u in echo.users[:50]])
            with tempfile.TemporaryDirectory() as directory:
                url = f"sqlite+aiosqlite:///{directory}/bench.db"
                sqlite = await bid_rounds(harness, echo, url, merchants, rounds)
            async with scratch_postgres("bench_bids") as url:
                postgres = await bid_rounds(harness, echo, url, merchants, rounds)
        for name, result in (("sqlite", sqlite), ("postgres", postgres)):
            figures[f"bids_per_s_{name}"] = median(result.rates)
            figures[f"ratio_{name}"] = result.ratio
            figures[f"cpu_ms_{name}"] = result.cpu_ms
            echo_rates += result.echo_rates
            print(
                f"{name:10} {median(result.rates):.0f} bids/s, {result.cpu_ms:.2f} ms CPU a bid "
                f"(echo {median(result.echo_rates):.0f}/s); ratio {result.ratio:.2f}",
                flush=True,
            )
        figures["echo_per_s"] = median(echo_rates)
        async with scratch_postgres("bench_outbid") as url:
            latencies = await outbid_latencies(harness, url, audience, outbids)
        figures["broadcast_recipients"] = audience
        figures["outbid_median_s_during_broadcast"] = round(statistics.median(latencies), 3)
        figures["outbid_p95_s_during_broadcast"] = round(p95(latencies), 3)
        print(
            f"outbid notices during a {audience:,}-recipient broadcast at 30/s: median "
            f"{figures['outbid_median_s_during_broadcast']:.2f} s, p95 "
            f"{figures['outbid_p95_s_during_broadcast']:.2f} s ({len(latencies)} notices)",
            flush=True,
        )
    finally:
        await echo.harness.stop()
        await harness.stop()
    return figures


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller and fewer (under a minute)")
    parser.add_argument("--merchants", type=int, help="bidding at once (300, quick 200)")
    parser.add_argument("--rounds", type=int, help="rounds per database (default 5, quick 2)")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="Bot API round trip")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = asyncio.run(main(args))
    print(json.dumps(figures))


if __name__ == "__main__":
    cli()
