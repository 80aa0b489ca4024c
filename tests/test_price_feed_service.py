"""The price feed over HTTP and a real database (SQLite and PostgreSQL): a local aiohttp feed
server answers JSON or CSV, times out, fails or talks nonsense; the last good prices stay,
coordinators are told once per outage and once when it is back; a large move is held until a
coordinator confirms or rejects it; two processes fetching at once store and tell once; the
scheduler's job fetches at start and backs off."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from bot.models import (
    AuditAction,
    AuditEntry,
    Grade,
    Notice,
    Price,
    PriceFeedState,
    PriceSource,
    PriceStatus,
    Product,
    Role,
    User,
    utcnow,
)
from bot.price_feed import Conversion
from bot.scheduler import Scheduler
from bot.services import held_prices, price_feed, prices
from bot.services.errors import DomainError
from bot.services.price_feed import FeedConfig
from bot.services.prices import Key
from tests.conditions import eventually

GREEN_AA = Key(Product.GREEN, Grade.AA)
CHERRY = Key(Product.CHERRY)
ICE = {"ice_c_usc_per_lb": "185.35", "usd_cny": "7.12", "as_of": "2026-11-29T08:00:00Z"}


def local(green_aa: str, cherry: str = "6.00") -> bytes:
    rows = [
        {"product": "green", "grade": "AA", "cny_per_kg": green_aa},
        {"product": "cherry", "cny_per_kg": cherry},
    ]
    return json.dumps({"prices": rows}).encode()


class FeedServer:
    """A price feed on a free local port: answers `body` with `status`, or (`stall`) not
    before the test ends, which a client with a small timeout gives up on."""

    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.stall = False
        self.hits = 0
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.stall:
            async with asyncio.timeout(10):
                await self._release.wait()
        return web.Response(body=self.body, status=self.status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/feed", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/feed"

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def feed() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@dataclass
class Db:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    coordinators: list[User]
    farmer: User

    async def run(self, config: FeedConfig) -> price_feed.Outcome:
        return await price_feed.run(self.sessionmaker, config)

    async def read(self, query: object) -> list[object]:
        async with self.sessionmaker() as s:
            return list(await s.scalars(query))  # type: ignore[call-overload]

    async def notices(self, kind: str) -> list[Notice]:
        rows = await self.read(select(Notice).where(Notice.kind == kind).order_by(Notice.id))
        return [n for n in rows if isinstance(n, Notice)]

    async def reference(self, key: Key) -> int | None:
        async with self.sessionmaker() as s:
            price = await prices.reference(s, key)
            return price.fen_per_kg if price else None

    async def count_prices(self) -> int:
        async with self.sessionmaker() as s:
            return int(await s.scalar(select(func.count()).select_from(Price)) or 0)

    async def state(self) -> PriceFeedState:
        async with self.sessionmaker() as s:
            state = await price_feed.state(s)
            assert state is not None
            return state


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Db]:
    engine = make_engine(database_url)
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as s, s.begin():
        people = [
            User(telegram_id=9001, role=Role.COORDINATOR, name="Wang"),
            User(telegram_id=9002, role=Role.COORDINATOR, name="Zhao"),
            User(telegram_id=11, role=Role.FARMER, name="Li"),
        ]
        s.add_all(people)
    try:
        yield Db(engine, sessionmaker, people[:2], people[2])
    finally:
        await engine.dispose()


def config_for(server: FeedServer, timeout: float = 5.0) -> FeedConfig:
    return FeedConfig(
        url=server.url,
        every=timedelta(minutes=60),
        timeout=timeout,
        conversion=Conversion.from_settings(Settings(_env_file=None)),
        hold_percent=Decimal(15),
    )


async def test_the_ice_price_in_json_becomes_reference_prices_once(
    db: Db, feed: FeedServer
) -> None:
    feed.body = json.dumps(ICE).encode()
    outcome = await db.run(config_for(feed))
    assert outcome.failure is None and len(outcome.stored) == 13 and not outcome.held
    assert await db.reference(GREEN_AA) == 3309  # tests/test_price_feed.py computes it
    assert await db.reference(CHERRY) == 495
    stored = await db.read(
        select(Price).where(Price.product == Product.GREEN, Price.grade == Grade.AA)
    )
    assert [(p.source, p.details["ice_c_usc_per_lb"]) for p in stored] == [  # type: ignore[attr-defined]
        (PriceSource.FEED, "185.35")
    ]
    state = await db.state()
    assert state.last_ok_at is not None and state.failures == 0
    assert state.next_attempt_at == state.last_ok_at + timedelta(minutes=60)

    again = await db.run(config_for(feed))  # the same prices: no history spam
    assert (again.stored, again.skipped) == ([], 13)
    # The same quote in CSV is the same prices.
    feed.body = b"ice_c_usc_per_lb,usd_cny,as_of\n185.35,7.12,2026-11-29T08:00:00Z\n"
    in_csv = await db.run(config_for(feed))
    assert (in_csv.failure, in_csv.stored, in_csv.skipped) == (None, [], 13)
    assert await db.count_prices() == 13


async def test_local_prices_in_csv(db: Db, feed: FeedServer) -> None:
    # A big answer arrives in several chunks and is read whole (blank lines before the rows).
    feed.body = b"\n" * 300_000 + b"product,grade,cny_per_kg\ngreen,AA,38.50\ncherry,,6.20\n"
    outcome = await db.run(config_for(feed))
    assert len(outcome.stored) == 2
    assert (await db.reference(GREEN_AA), await db.reference(CHERRY)) == (3850, 620)
    feed.body = b"product,grade,cny_per_kg\ngreen,AA,39.00\ncherry,,6.20\n"
    outcome = await db.run(config_for(feed))
    assert [p.fen_per_kg for p in outcome.stored] == [3900] and outcome.skipped == 1
    history = await db.read(
        select(Price.fen_per_kg).where(Price.grade == Grade.AA).order_by(Price.id)
    )
    assert history == [3850, 3900]
    feed.body = b"product,grade,cny_per_kg\n" + b" " * price_feed.MAX_BODY
    too_long = await db.run(config_for(feed))
    assert too_long.failure is not None and too_long.failure.reason == "malformed"


@pytest.mark.parametrize("failure", ["timeout", "http", "malformed", "absurd"])
async def test_a_failing_feed_keeps_the_last_prices_and_tells_coordinators_once(
    db: Db, feed: FeedServer, failure: str
) -> None:
    feed.body = local("38.50")
    await db.run(config_for(feed))
    if failure == "timeout":
        feed.stall = True
    elif failure == "http":
        feed.status = 500
    elif failure == "malformed":
        feed.body = b'{"prices": [{"product": "green", "grade": "AA", "cny_per_kg": '
    else:
        feed.body = local("3850")
    config = config_for(feed, timeout=0.2)

    waits = []
    for _ in range(3):
        outcome = await db.run(config)
        assert outcome.failure is not None and outcome.failure.reason == failure
        assert outcome.next_attempt_at is not None
        state = await db.state()
        assert state.failing_since is not None and state.last_ok_at is not None
        waits.append(outcome.next_attempt_at - utcnow())
    assert state.failures == 3 and state.last_error and state.last_error.startswith(failure)
    # Backing off: about 1, 2 and 4 minutes.
    assert [round(w.total_seconds() / 60) for w in waits] == [1, 2, 4]
    assert (await db.reference(GREEN_AA), await db.reference(CHERRY)) == (3850, 600)
    assert await db.count_prices() == 2
    down = await db.notices("price_feed_down")
    assert sorted(n.recipient_id for n in down) == [c.id for c in db.coordinators]
    assert {n.payload["reason"] for n in down} == {failure}
    if failure == "http":
        assert down[0].payload["status"] == "500"
    if failure == "absurd":
        assert down[0].payload["field"] == "green/AA" and down[0].payload["high"] == "1000"

    feed.stall, feed.status, feed.body = False, 200, local("38.80")
    back = await db.run(config)
    assert back.failure is None and await db.reference(GREEN_AA) == 3880
    await db.run(config)
    up = await db.notices("price_feed_up")
    assert sorted(n.recipient_id for n in up) == [c.id for c in db.coordinators]
    assert up[0].payload["failures"] == 3
    state = await db.state()
    assert (state.failing_since, state.failures, state.outage_told) == (None, 0, False)

    # A second outage is another outage: told again, once.
    feed.status = 503
    await db.run(config)
    await db.run(config)
    assert len(await db.notices("price_feed_down")) == 4


async def test_a_large_move_is_held_for_a_coordinator_and_asked_about_once(
    db: Db, feed: FeedServer
) -> None:
    feed.body = local("38.50")
    await db.run(config_for(feed))
    feed.body = local("50.00")  # +29.9%, beyond PRICE_HOLD_PERCENT 15
    outcome = await db.run(config_for(feed))
    (held,) = outcome.held
    assert (held.fen_per_kg, held.previous_fen, held.status) == (5000, 3850, PriceStatus.HELD)
    assert await db.reference(GREEN_AA) == 3850  # not live: nobody is told yet
    asked = await db.notices("price_held")
    assert sorted(n.recipient_id for n in asked) == [c.id for c in db.coordinators]
    assert asked[0].payload | {"observed_at": ""} == {
        "price_id": held.id,
        "product": "green",
        "grade": "AA",
        "fen_per_kg": 5000,
        "previous_fen": 3850,
        "change": "29.9",
        "observed_at": "",
    }
    assert asked[0].dedup_key == f"price-held:{held.id}:{db.coordinators[0].id}"

    again = await db.run(config_for(feed))  # still 50.00: asked once
    assert again.stored == [] and len(await db.notices("price_held")) == 2

    feed.body = local("52.00")  # moved on: the old question is withdrawn, a new one asked
    newer = (await db.run(config_for(feed))).held[0]
    async with db.sessionmaker() as s:
        old = await s.get(Price, held.id)
        assert old is not None and old.status == PriceStatus.REJECTED
        assert old.details["superseded"] and old.decided_by is None
        with pytest.raises(DomainError) as refused:
            await held_prices.decide(s, db.coordinators[0], held.id, confirm=True)
        assert refused.value.details["superseded"]
    assert len(await db.notices("price_held")) == 4

    async with db.sessionmaker() as s, s.begin():
        decision = await held_prices.decide(s, db.coordinators[0], newer.id, confirm=True)
        assert decision.confirmed
    assert await db.reference(GREEN_AA) == 5200
    async with db.sessionmaker() as s:
        with pytest.raises(DomainError) as refused:
            await held_prices.decide(s, db.coordinators[1], newer.id, confirm=False)
        assert refused.value.details == {
            "status": "live",
            "by": "Wang",
            "superseded": False,
            "outdated": False,
        }
        entry = await s.scalar(
            select(AuditEntry).where(AuditEntry.action == AuditAction.PRICE_CONFIRM)
        )
        assert entry is not None and entry.details["price_id"] == newer.id


async def test_rejected_and_outdated_held_prices(db: Db, feed: FeedServer) -> None:
    feed.body = local("38.50", cherry="6.00")
    await db.run(config_for(feed))
    feed.body = local("20.00", cherry="9.00")
    cherry, green = sorted((await db.run(config_for(feed))).held, key=lambda p: p.product.value)
    async with db.sessionmaker() as s, s.begin():
        rejected = await held_prices.decide(s, db.coordinators[1], green.id, confirm=False)
        assert not rejected.confirmed and rejected.price.decided_by == db.coordinators[1].id
        # A coordinator sets cherry meanwhile: confirming the feed's older one is outdated.
        await prices.record(s, CHERRY, 650, PriceSource.COORDINATOR, by=db.coordinators[0].id)
    async with db.sessionmaker() as s, s.begin():
        late = await held_prices.decide(s, db.coordinators[0], cherry.id, confirm=True)
        assert late.outdated and not late.confirmed and late.price.status == PriceStatus.REJECTED
    assert (await db.reference(GREEN_AA), await db.reference(CHERRY)) == (3850, 650)
    async with db.sessionmaker() as s:
        with pytest.raises(DomainError) as refused:
            await held_prices.decide(s, db.coordinators[0], green.id, confirm=True)
        assert refused.value.details["by"] == "Zhao"
        with pytest.raises(DomainError, match="not_allowed"):
            await held_prices.decide(s, db.farmer, cherry.id, confirm=True)
        actions = await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))
        assert list(actions) == [AuditAction.PRICE_REJECT, AuditAction.PRICE_REJECT]

    # The feed saying the same again asks nothing again, and leaves the coordinator's cherry.
    again = await db.run(config_for(feed))
    assert again.stored == [] and again.skipped == 2
    assert len(await db.notices("price_held")) == 4
    assert await db.reference(CHERRY) == 650


async def test_two_processes_fetching_at_once_store_and_tell_once(
    db: Db, feed: FeedServer, database_url: str
) -> None:
    other = make_engine(database_url)
    try:
        second = make_sessionmaker(other)
        config = config_for(feed)
        feed.body = local("38.50")
        await asyncio.gather(db.run(config), price_feed.run(second, config))
        assert await db.count_prices() == 2
        feed.body = local("60.00")
        await asyncio.gather(db.run(config), price_feed.run(second, config))
        assert await db.count_prices() == 3
        assert len(await db.notices("price_held")) == 2
        feed.status = 500
        await asyncio.gather(db.run(config), price_feed.run(second, config))
        assert len(await db.notices("price_feed_down")) == 2
        assert (await db.state()).failures == 2
    finally:
        await other.dispose()


async def test_the_scheduler_fetches_at_start_and_retries_with_backoff(
    db: Db, feed: FeedServer
) -> None:
    feed.body = local("38.50")
    told: list[int] = []
    scheduler = Scheduler(db.sessionmaker, on_notices=lambda: told.append(1), feed=config_for(feed))
    await scheduler.start()
    try:

        async def fetched() -> bool:
            return await db.reference(GREEN_AA) == 3850

        await eventually(fetched, "the feed fetched at start")
        state = await db.state()
        assert state.next_attempt_at is not None

        async def set_to(when: object) -> bool:
            job = scheduler.aps.get_job("price-feed")
            return job is not None and job.next_run_time == when

        await eventually(lambda: set_to(state.next_attempt_at), "the job set an hour ahead")

        feed.status = 500
        outcome = await scheduler.run_feed()  # as if the hour had passed
        assert outcome is not None and outcome.failure is not None and told == [1]
        retry = (await db.state()).next_attempt_at
        assert retry is not None and retry - utcnow() < timedelta(minutes=1, seconds=1)
        await eventually(lambda: set_to(retry), "the job set to the retry")
    finally:
        await scheduler.stop()
    assert feed.hits == 2


async def test_no_feed_no_job(db: Db) -> None:
    assert FeedConfig.from_settings(Settings(_env_file=None, price_feed_url="")) is None
    scheduler = Scheduler(db.sessionmaker)  # not started: its jobs are only set
    await scheduler.resync()
    await scheduler.wake_feed()
    assert scheduler.aps.get_job("price-feed") is None
