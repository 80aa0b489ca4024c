"""The scheduler's auction job over a real database (SQLite and PostgreSQL), in real time.

Closes are a second or two away and every wait is a condition with a timeout: a close missed
while the bot was down is done at start; a soft-close extension moves the job; an auction opened
after start closes once the handler wakes the scheduler; closing-soon warnings, closes and ended
acceptances happen once even with two schedulers (two bot processes) on one database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Literal

import pytest
from apscheduler.schedulers.base import STATE_RUNNING
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.auction import Bid, replay
from bot.db import make_engine, make_sessionmaker
from bot.models import AuditAction, AuditEntry, LotBid, LotStatus, utcnow
from bot.scheduler import Market as Deadlines
from bot.scheduler import Scheduler
from bot.services import broadcasts, lots
from bot.services.bids import NotPlaced, Placed, rules_of
from bot.services.errors import DomainError
from tests.conditions import eventually
from tests.test_bid_concurrency import RESERVE, Market, build_market

SOON = timedelta(milliseconds=300)
NO_EXTENSION = timedelta(0)  # bids a second before the close do not move it


@pytest.fixture
async def market(database_url: str) -> AsyncIterator[Market]:
    m = await build_market(database_url, merchants=3, coordinators=2)
    try:
        yield m
    finally:
        await m.engine.dispose()


@asynccontextmanager
async def scheduler(
    market: Market, acceptance: timedelta = timedelta(hours=1), started: bool = True
) -> AsyncIterator[Scheduler]:
    """A scheduler of its own process: its own engine on the test's database."""
    url = market.engine.url.render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=5)
    s = Scheduler(make_sessionmaker(engine), market=Deadlines(acceptance, SOON))
    if started:
        await s.start()
    try:
        yield s
    finally:
        await s.stop()
        await engine.dispose()


def after(moment: datetime) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return utcnow() > moment

    return check


def lot_is(market: Market, lot_id: int, *statuses: LotStatus) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await market.lot(lot_id)).status in statuses

    return check


async def audits(market: Market, action: AuditAction) -> int:
    async with market.maker() as s:
        n = await s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        )
        await s.commit()
        return int(n or 0)


async def test_a_close_missed_while_down_is_done_at_start(market: Market) -> None:
    lot_id = await market.open_lot(closes_in=timedelta(seconds=1), extension=NO_EXTENSION)
    winner = market.merchant_ids[0]
    assert isinstance(await market.bid(winner, lot_id, price=RESERVE), Placed)
    closes_at = (await market.lot(lot_id)).closes_at
    await eventually(after(closes_at), "the close passed while no scheduler ran", 5)

    async with scheduler(market):
        await eventually(lot_is(market, lot_id, LotStatus.SOLD), "the missed close done", 5)
    assert [n.recipient_id for n in await market.notices("lot_won")] == [winner]
    assert len(await market.notices("lot_sold")) == 3


async def test_a_soft_close_extension_moves_the_job(market: Market) -> None:
    lot_id = await market.open_lot(closes_in=timedelta(seconds=2), extension=timedelta(seconds=2))
    first, second = market.merchant_ids[:2]
    assert isinstance(await market.bid(first, lot_id, price=RESERVE), Placed)
    old_close = (await market.lot(lot_id)).closes_at
    async with scheduler(market) as s:
        await eventually(after(old_close - timedelta(seconds=1)), "the last second", 5)
        late = await market.bid(second, lot_id, price=RESERVE + 10)
        assert isinstance(late, Placed) and late.extended and late.closes_at > old_close
        await eventually(after(old_close), "the old close passed", 5)

        # The run at the old close does nothing; the job is set for the new close (its
        # closing-soon warning first).
        assert (await s.run_auctions())["closed"] == 0
        assert (await market.lot(lot_id)).status == LotStatus.OPEN
        async with market.maker() as session:
            assert await lots.next_due(session, SOON) == late.closes_at - SOON
            await session.commit()
        job = s.aps.get_job("auctions")
        assert job is not None and job.next_run_time >= late.closes_at - SOON

        await eventually(lot_is(market, lot_id, LotStatus.SOLD), "closed at the new close", 5)
    lot = await market.lot(lot_id)
    assert lot.leader_id == second and lot.closed_at is not None
    assert lot.closed_at >= late.closes_at
    assert [n.recipient_id for n in await market.notices("lot_won")] == [second]


async def test_an_auction_opened_after_start_closes_once_woken(market: Market) -> None:
    async with scheduler(market) as s:
        await eventually(_resynced(s), "the scheduler read the database", 5)
        assert s.aps.get_job("auctions") is None  # nothing to do yet
        lot_id = await market.open_lot(closes_in=timedelta(seconds=1))
        await s.wake_auctions()  # what the handler does after its commit
        await eventually(lot_is(market, lot_id, LotStatus.UNSOLD), "the new lot closed", 5)
    lot = await market.lot(lot_id)
    assert lot.closed_at is not None and lot.closed_at >= lot.closes_at
    assert len(await market.notices("lot_unsold")) == 3


def _resynced(s: Scheduler) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        job = s.aps.get_job("resync")
        return job is not None and job.next_run_time > utcnow() + timedelta(seconds=1)

    return check


async def test_a_wake_during_a_run_is_not_lost(market: Market) -> None:
    """A run's own rescheduling reads the database before a handler's new auction commits and
    sets the job after the handler's wake: the handler's wake must not be undone (the lot
    would close only at the next resync, half a minute late)."""
    read = asyncio.Event()
    release = asyncio.Event()
    gate = {"on": False}

    class Gated(AsyncSession):
        """The run's rescheduling pauses once it has read the next due moment (and ended its
        transaction: on SQLite the handler's commit must not wait for it)."""

        async def commit(self) -> None:
            await super().commit()
            if gate["on"]:
                gate["on"] = False
                read.set()
                await release.wait()

    async with scheduler(market, started=False) as s:
        s.sessionmaker = async_sessionmaker(s.sessionmaker.kw["bind"], class_=Gated)
        s.aps.start()  # running, without the periodic resync that would hide a lost wake
        tries = _CountingLock()
        s._wake_lock = tries  # type: ignore[attr-defined]  # absent before the fix
        gate["on"] = True
        run = asyncio.create_task(s.run_auctions())
        await read.wait()  # the run has read "nothing due"
        lot_id = await market.open_lot(closes_in=timedelta(seconds=1))
        handler = asyncio.create_task(s.wake_auctions())
        await eventually(_done_or_waiting(handler, tries), "the handler woke the scheduler", 5)
        release.set()
        await run
        await handler
        await eventually(lot_is(market, lot_id, LotStatus.UNSOLD), "the new lot closed", 5)


class _CountingLock(asyncio.Lock):
    def __init__(self) -> None:
        super().__init__()
        self.tries = 0

    async def acquire(self) -> Literal[True]:
        self.tries += 1
        return await super().acquire()


def _done_or_waiting(task: asyncio.Task[Any], lock: _CountingLock) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return task.done() or lock.tries >= 2

    return check


async def test_closing_soon_once_per_merchant_with_two_schedulers(market: Market) -> None:
    lot_id = await market.open_lot(closes_in=timedelta(hours=1))
    for m in market.merchant_ids[:2]:
        assert isinstance(await market.bid(m, lot_id, maximum=RESERVE + 100), Placed)
    async with (
        scheduler(market, started=False) as one,
        scheduler(market, started=False) as two,
    ):
        one.market = two.market = Deadlines(closing_soon=timedelta(hours=2))
        runs = await asyncio.gather(one.run_auctions(), two.run_auctions(), one.run_auctions())
    assert sum(r["warned"] for r in runs) == 2
    told = await market.notices("closing_soon")
    assert sorted(n.recipient_id for n in told) == sorted(market.merchant_ids[:2])
    assert (await market.lot(lot_id)).closing_soon_sent


async def test_acceptance_timeout_rejects_once(market: Market) -> None:
    lot_id = await market.open_lot(
        closes_in=timedelta(seconds=1), extension=NO_EXTENSION, confirm_before_sale=True
    )
    bidder = market.merchant_ids[0]
    assert isinstance(await market.bid(bidder, lot_id, price=RESERVE), Placed)
    async with (
        scheduler(market, acceptance=timedelta(seconds=1)),
        scheduler(market, acceptance=timedelta(seconds=1)),
    ):
        await eventually(lot_is(market, lot_id, LotStatus.REJECTED), "the wait ended", 8)
    assert await audits(market, AuditAction.SALE_REJECT) == 1
    assert len(await market.notices("acceptance_needed")) == 2  # one per coordinator
    assert sorted(n.recipient_id for n in await market.notices("acceptance_expired")) == sorted(
        market.coordinator_ids
    )
    assert [n.recipient_id for n in await market.notices("sale_rejected")] == [bidder]
    assert len(await market.notices("lot_unsold")) == 3
    assert all(n.payload["timeout"] for n in await market.notices("sale_rejected"))


async def test_two_schedulers_close_each_lot_once(market: Market) -> None:
    """Two bot processes run the auctions job at the same moment: each lot is closed by one."""
    now = utcnow()
    async with market.maker() as s, s.begin():
        me = await market.user(s, market.coordinator_ids[0])
        terms = lots.Terms(RESERVE, 10, now + timedelta(seconds=1), NO_EXTENSION)
        opened = await lots.open_lots(s, me, market.key, 400_000, terms, now=now)
        lot_ids = [lot.id for lot in opened]
    assert len(lot_ids) == 3
    for lot_id, m in zip(lot_ids, market.merchant_ids, strict=True):
        assert isinstance(await market.bid(m, lot_id, price=RESERVE), Placed)
    await eventually(after(now + timedelta(seconds=1)), "the lots are due", 5)
    async with (
        scheduler(market, started=False) as one,
        scheduler(market, started=False) as two,
    ):
        runs = await asyncio.gather(one.run_auctions(), two.run_auctions())
    assert sum(r["closed"] for r in runs) == 3
    won = await market.notices("lot_won")
    assert sorted(n.recipient_id for n in won) == sorted(market.merchant_ids)
    assert len(await market.notices("lot_sold")) == 3
    for lot_id in lot_ids:
        assert (await market.lot(lot_id)).status == LotStatus.SOLD


async def test_an_accept_after_the_deadline_is_refused_before_the_scheduler_runs(
    market: Market,
) -> None:
    """The bot restarts after an acceptance deadline passed while it was down; Telegram hands it
    the coordinator's Accept pressed late before the scheduler has run: no answer in time means
    rejected, so the late Accept is refused and the scheduler rejects the sale."""
    lot_id = await market.open_lot(
        closes_in=timedelta(seconds=1), extension=NO_EXTENSION, confirm_before_sale=True
    )
    assert isinstance(await market.bid(market.merchant_ids[0], lot_id, price=RESERVE), Placed)
    closes_at = (await market.lot(lot_id)).closes_at
    await eventually(after(closes_at), "the lot is due", 5)
    async with market.maker() as s, s.begin():
        assert await lots.close_lot(s, lot_id, utcnow(), timedelta(0)) == LotStatus.AWAITING
    async with market.maker() as s:
        me = await market.user(s, market.coordinator_ids[0])
        with pytest.raises(DomainError, match="sale_decided") as refused:
            await lots.decide_sale(s, me, lot_id, accept=True)
        await s.commit()
    assert refused.value.details["status"] == LotStatus.REJECTED.value
    assert (await market.lot(lot_id)).status == LotStatus.AWAITING
    async with scheduler(market, started=False) as one:
        assert (await one.run_auctions())["expired"] == 1
    assert (await market.lot(lot_id)).status == LotStatus.REJECTED
    assert not await market.notices("lot_won")
    assert len(await market.notices("acceptance_expired")) == 2


async def test_a_cancel_after_the_close_does_not_void_the_sale(market: Market) -> None:
    """The close has passed but the scheduler has not run yet (a restart, a busy second): the
    lot was won at its close, so a coordinator's Cancel now is refused and the sale stands."""
    lot_id = await market.open_lot(closes_in=timedelta(seconds=1), extension=NO_EXTENSION)
    winner = market.merchant_ids[0]
    assert isinstance(await market.bid(winner, lot_id, price=RESERVE), Placed)
    await eventually(after((await market.lot(lot_id)).closes_at), "the lot is due", 5)
    async with market.maker() as s:
        me = await market.user(s, market.coordinator_ids[0])
        with pytest.raises(DomainError, match="lot_closed"):
            await lots.cancel(s, me, lot_id)
        await s.commit()
    async with scheduler(market, started=False) as one:
        assert (await one.run_auctions())["closed"] == 1
    assert (await market.lot(lot_id)).status == LotStatus.SOLD
    assert [n.recipient_id for n in await market.notices("lot_won")] == [winner]
    assert not await market.notices("bids_void")


async def test_bids_at_the_close_with_two_schedulers_and_an_eager_closer(market: Market) -> None:
    """Waves of bids land just before and just after each close while two schedulers run and
    a closer tries to close at the very moment it falls: the lot is closed once, at or after
    its final close, and every stored bid came before that close; the stored bids replayed in
    commit order give the lot's standing and close."""
    lot_id = await market.open_lot(closes_in=timedelta(seconds=2), extension=timedelta(seconds=1))
    opened = await market.lot(lot_id)
    answers: list[object] = [await market.bid(market.merchant_ids[0], lot_id, price=RESERVE)]
    closes: list[LotStatus | None] = []

    async def eager_closer() -> None:
        while (lot := await market.lot(lot_id)).status == LotStatus.OPEN:
            await eventually(after(lot.closes_at), "the close", 5)
            async with market.maker() as s, s.begin():
                closes.append(await lots.close_lot(s, lot_id, utcnow(), timedelta(hours=1)))

    async def waves() -> None:
        for wave in range(4):
            lot = await market.lot(lot_id)
            if lot.status != LotStatus.OPEN:
                return
            await eventually(after(lot.closes_at - timedelta(milliseconds=60)), "the wave", 5)
            base = lot.leading_fen or RESERVE
            answers.extend(
                await asyncio.gather(
                    *(
                        market.bid(m, lot_id, maximum=base + 10 * (i + 1) + wave)
                        for i, m in enumerate(market.merchant_ids)
                    )
                )
            )

    async with scheduler(market), scheduler(market):
        await asyncio.gather(eager_closer(), waves())
        await eventually(lot_is(market, lot_id, LotStatus.SOLD), "the lot sold", 5)
    lot = await market.lot(lot_id)
    assert [c for c in closes if c is not None] in ([], [LotStatus.SOLD])
    assert len(await market.notices("lot_won")) == 1
    async with market.maker() as s:
        rows = list(
            await s.scalars(select(LotBid).where(LotBid.lot_id == lot_id).order_by(LotBid.id))
        )
        await s.commit()
    assert rows and lot.closed_at is not None
    assert max(b.placed_at for b in rows) < lot.closes_at <= lot.closed_at
    final, _ = replay(
        rules_of(lot),
        [Bid(b.merchant_id, b.placed_at, b.price_fen, b.maximum_fen) for b in rows],
        close=opened.closes_at,
    )
    assert (final.leader, final.price, final.close) == (
        lot.leader_id,
        lot.leading_fen,
        lot.closes_at,
    )
    placed = {a.bid_id for a in answers if isinstance(a, Placed)}
    assert placed == {b.id for b in rows}
    assert set(answers) - {a for a in answers if isinstance(a, Placed | NotPlaced)} <= {
        "lot_closed"
    }


async def test_stopping_during_a_run_lets_it_finish(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot stops while the scheduler is closing a lot: the close is finished and committed,
    not cancelled inside its transaction (which left SQLite's write lock or PostgreSQL's row
    lock held by a connection the engine was disposing of)."""
    lot_id = await market.open_lot(closes_in=timedelta(seconds=1), extension=NO_EXTENSION)
    assert isinstance(await market.bid(market.merchant_ids[0], lot_id, price=RESERVE), Placed)
    await eventually(after((await market.lot(lot_id)).closes_at), "the lot is due", 5)
    closing, release = asyncio.Event(), asyncio.Event()
    close_lot = lots.close_lot

    async def slow_close(*args: Any, **kwargs: Any) -> LotStatus | None:
        status = await close_lot(*args, **kwargs)
        closing.set()
        await release.wait()
        return status

    monkeypatch.setattr(lots, "close_lot", slow_close)
    async with scheduler(market) as s:
        await asyncio.wait_for(closing.wait(), 5)  # the scheduler is inside the close
        stopping = asyncio.create_task(s.stop())
        await eventually(_paused(s), "the scheduler stopped taking new runs", 5)
        release.set()
        await asyncio.wait_for(stopping, 5)
    assert (await market.lot(lot_id)).status == LotStatus.SOLD
    assert len(await market.notices("lot_won")) == 1


def _paused(s: Scheduler) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return s.aps.state != STATE_RUNNING

    return check


async def test_stopping_during_a_resync_lets_it_finish(
    market: Market, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The bot stops just after it started (Ctrl-C on `farmgate demo` or `farmgate run`), while
    the scheduler's first resync reads the database: the resync finishes instead of being
    cancelled, which APScheduler logged as a failed job with a traceback."""
    reading, release = asyncio.Event(), asyncio.Event()
    scheduled = broadcasts.scheduled

    async def slow_scheduled(session: AsyncSession) -> Any:
        rows = await scheduled(session)
        reading.set()
        await release.wait()
        return rows

    monkeypatch.setattr(broadcasts, "scheduled", slow_scheduled)
    async with scheduler(market) as s:
        await asyncio.wait_for(reading.wait(), 5)  # the first resync is inside its read
        stopping = asyncio.create_task(s.stop())
        await eventually(_paused(s), "the scheduler stopped taking new runs", 5)
        release.set()
        await asyncio.wait_for(stopping, 5)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
