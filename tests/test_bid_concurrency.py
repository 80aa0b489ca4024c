"""The auction under concurrency, on SQLite and PostgreSQL (issue 8, section 5).

Hundreds of bids on one lot, each in its own transaction as a real update is, must come out
exactly as applying the stored bids one at a time in commit order (bot/auction.replay); two
closers, a closer and a late bid, two coordinators' answers, a cancel and a close, settle a lot
once; two coordinators opening lots on one pool never put a report in two lots. Engines are
built as the app builds them (bot/db.make_engine with a fixed pool), so SQLite's BEGIN
IMMEDIATE and busy timeout are what is tested.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.auction import MAX_FEN_PER_KG, Bid, Refusal, replay
from bot.db import make_engine, make_sessionmaker
from bot.models import (
    Grade,
    HarvestReport,
    Lot,
    LotBid,
    LotReport,
    LotStatus,
    Notice,
    Price,
    PriceSource,
    Process,
    Product,
    ReportStatus,
    User,
    Village,
    utcnow,
)
from bot.services import bids, harvests, lots
from bot.services.bids import BidResult, ConfirmFirst, NotPlaced, Placed, rules_of
from bot.services.errors import DomainError
from bot.services.pools import PoolKey
from tests.conditions import LockRequests, eventually
from tests.test_auctions import coordinator, farmer, merchant

POOL_SIZE = 10  # the app's default DATABASE_POOL_SIZE
ACCEPT = timedelta(hours=24)
RESERVE = 2000
INCREMENT = 10


@dataclass
class Market:
    """Ids only: every test session loads its own rows, as every update does."""

    engine: AsyncEngine
    maker: async_sessionmaker[AsyncSession]
    village_id: int
    farmer_ids: list[int]
    coordinator_ids: list[int]
    merchant_ids: list[int]

    @property
    def key(self) -> PoolKey:
        return PoolKey(self.village_id, Product.PARCHMENT, Process.WASHED, Grade.AA)

    async def user(self, session: AsyncSession, user_id: int) -> User:
        user = await session.get(User, user_id)
        assert user is not None
        return user

    async def open_lot(
        self,
        closes_in: timedelta,
        extension: timedelta = timedelta(minutes=3),
        **terms: Any,
    ) -> int:
        """One lot of the whole pool, closing `closes_in` from now (negative: in the past, as
        if the bot had been down)."""
        now = utcnow()
        async with self.maker() as s, s.begin():
            coord = await self.user(s, self.coordinator_ids[0])
            (lot,) = await lots.open_lots(
                s,
                coord,
                self.key,
                None,
                lots.Terms(
                    reserve_fen=RESERVE,
                    increment_fen=INCREMENT,
                    closes_at=now + closes_in,
                    extension=extension,
                    **terms,
                ),
                now=min(now, now + closes_in - timedelta(hours=1)),
            )
            return lot.id

    async def lot(self, lot_id: int) -> Lot:
        async with self.maker() as s:
            lot = await s.get(Lot, lot_id)
            assert lot is not None
            await s.commit()
            return lot

    async def notices(self, kind: str) -> list[Notice]:
        async with self.maker() as s:
            rows = list(
                await s.scalars(select(Notice).where(Notice.kind == kind).order_by(Notice.id))
            )
            await s.commit()
            return rows

    async def auction_prices(self, lot_id: int) -> list[int]:
        """The observed market prices a lot's sale stored (docs/prices.md): one per sold lot."""
        async with self.maker() as s:
            rows = list(
                await s.scalars(
                    select(Price.fen_per_kg).where(
                        Price.lot_id == lot_id, Price.source == PriceSource.AUCTION
                    )
                )
            )
            await s.commit()
            return rows

    async def bid(
        self,
        merchant_id: int,
        lot_id: int,
        price: int | None = None,
        maximum: int | None = None,
        confirmed: bool = True,
    ) -> BidResult | str:
        """One bid in its own transaction, as one update: the result, or the DomainError's
        reason. Committed whatever the result (a handler's transaction always is)."""
        async with self.maker() as s:
            user = await self.user(s, merchant_id)
            try:
                result: BidResult | str = await bids.place_bid(
                    s, user, lot_id, price_fen=price, maximum_fen=maximum, confirmed=confirmed
                )
            except DomainError as exc:
                result = exc.reason
            await s.commit()
            return result


async def build_market(database_url: str, merchants: int = 30, coordinators: int = 1) -> Market:
    engine = make_engine(database_url, pool_size=POOL_SIZE)
    maker = make_sessionmaker(engine)
    async with maker() as s, s.begin():
        village = Village(name="Conggang", code="conggang")
        s.add(village)
        await s.flush()
        farmers = [await farmer(s, village, tid, [300, 200]) for tid in (1, 2, 3)]
        coords = [await coordinator(s, 900 + i) for i in range(coordinators)]
        ms = [await merchant(s, 100 + i) for i in range(merchants)]
        return Market(
            engine,
            maker,
            village.id,
            [f.id for f in farmers],
            [c.id for c in coords],
            [m.id for m in ms],
        )


@pytest.fixture
async def market(database_url: str) -> AsyncIterator[Market]:
    m = await build_market(database_url)
    try:
        yield m
    finally:
        await m.engine.dispose()


def lot_row_lock(statement: str, _params: Any) -> bool:
    """PostgreSQL: a statement that reads a lot by its id (locked_lot takes its row lock)."""
    return (
        statement.startswith("SELECT")
        and "FROM lots" in statement
        and "WHERE lots.id =" in statement
    )


# --- Hundreds of bids on one lot -------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    merchant: int
    price: int | None
    maximum: int | None
    confirmed: bool


def bid_plans(merchant_ids: list[int], count: int, seed: int) -> list[Plan]:
    """Typed prices, proxy maxima and both, mostly confirmed and climbing roughly with their
    order; many end below the increment or come from the merchant who leads, a few late ones
    are far above (confirmed or not)."""
    rnd = random.Random(seed)
    plans = []
    for i in range(count):
        m = rnd.choice(merchant_ids)
        base = RESERVE - 50 + 8 * i + rnd.randrange(0, 300)
        kind = rnd.random()
        confirmed = rnd.random() < 0.9
        if i > count * 0.9 and kind < 0.1:  # far above: a typo unless confirmed
            plans.append(Plan(m, None, base * 2 + rnd.randrange(0, 100), confirmed))
        elif kind < 0.4:
            plans.append(Plan(m, base + rnd.randrange(0, INCREMENT), None, confirmed))
        elif kind < 0.75:
            plans.append(Plan(m, None, base + INCREMENT * rnd.randrange(0, 40), confirmed))
        else:
            plans.append(Plan(m, base, base + INCREMENT * rnd.randrange(0, 40), confirmed))
    return plans


async def test_hundreds_of_concurrent_bids_equal_their_replay(market: Market) -> None:
    """300 bids from 30 merchants at once: nothing fails (no "database is locked"), and the
    stored bids replayed one at a time in id order give the lot's standing, each bid's leading
    price, leader and soft close; every answer a merchant got agrees with that history."""
    # Every bid falls in the last minute: each accepted one moves the close (soft close).
    lot_id = await market.open_lot(closes_in=timedelta(seconds=50), extension=timedelta(minutes=1))
    opened = await market.lot(lot_id)
    plans = bid_plans(market.merchant_ids, 300, seed=8)

    results = await asyncio.gather(
        *(market.bid(p.merchant, lot_id, p.price, p.maximum, p.confirmed) for p in plans)
    )

    assert not [r for r in results if isinstance(r, str)], "a bid failed with a DomainError"
    lot = await market.lot(lot_id)
    async with market.maker() as s:
        rows = list(
            await s.scalars(select(LotBid).where(LotBid.lot_id == lot_id).order_by(LotBid.id))
        )
        outbid = list(
            await s.scalars(select(Notice).where(Notice.kind == "outbid").order_by(Notice.id))
        )
        await s.commit()
    placed = [r for r in results if isinstance(r, Placed)]
    refused = [(p, r) for p, r in zip(plans, results, strict=True) if isinstance(r, NotPlaced)]
    assert len(rows) == len(placed) == lot.bids
    assert len(placed) >= 30 and len(refused) >= 30, Counter(type(r).__name__ for r in results)
    assert any(r.reason == Refusal.ALREADY_LEADING for _, r in refused)
    assert any(r.reason == Refusal.BELOW_INCREMENT for _, r in refused)

    # The reference: the stored bids applied one at a time in commit (id) order.
    rules = rules_of(lot)
    final, outcomes = replay(
        rules,
        [Bid(b.merchant_id, b.placed_at, b.price_fen, b.maximum_fen) for b in rows],
        close=opened.closes_at,
    )
    assert (final.leader, final.price, final.ceiling, final.close, final.runner_up) == (
        lot.leader_id,
        lot.leading_fen,
        lot.leader_ceiling_fen,
        lot.closes_at,
        lot.runner_up_fen,
    )
    for row, outcome in zip(rows, outcomes, strict=True):
        assert outcome.refused is None, (row.id, outcome.refused)
        assert (outcome.standing.leader, outcome.standing.price) == (row.leader_id, row.leading_fen)
    # Bids were taken in commit order: their times too, so the soft close only moves later.
    assert [b.placed_at for b in rows] == sorted(b.placed_at for b in rows)
    assert lot.closes_at == rows[-1].placed_at + timedelta(minutes=1)
    prices = [b.leading_fen for b in rows]
    assert prices == sorted(prices), "the leading price went down"

    # Every answer agrees with the history.
    by_id = {b.id: (b, o) for b, o in zip(rows, outcomes, strict=True)}
    for ok in placed:
        row, outcome = by_id[ok.bid_id]
        assert ok.leading_fen == row.leading_fen
        assert ok.leads == (row.leader_id == row.merchant_id)
        assert ok.minimum_fen == row.leading_fen + INCREMENT
        assert ok.closes_at == outcome.standing.close
    history = {(b.leader_id, b.leading_fen) for b in rows}
    for plan, r in refused:
        ceiling = plan.maximum if plan.maximum is not None else plan.price
        assert ceiling is not None
        if r.reason == Refusal.BELOW_RESERVE:
            assert r.leading_fen is None and r.minimum_fen == RESERVE
            assert ceiling < RESERVE or (plan.price or RESERVE) < RESERVE
        elif r.reason == Refusal.BELOW_INCREMENT:
            assert r.leading_fen is not None and r.minimum_fen == r.leading_fen + INCREMENT
            assert ceiling < r.minimum_fen or (plan.price or r.minimum_fen) < r.minimum_fen
            assert any(p == r.leading_fen and m != plan.merchant for m, p in history)
        else:
            assert r.reason == Refusal.ALREADY_LEADING
            assert (plan.merchant, r.leading_fen) in history
    for plan, answer in zip(plans, results, strict=True):
        if isinstance(answer, ConfirmFirst):
            assert not plan.confirmed

    # One outbid notice per change of leader, to the merchant who lost the lead.
    expected = {
        (before.leader_id, f"outbid:{lot_id}:{after.id}")
        for before, after in itertools.pairwise(rows)
        if before.leader_id != after.leader_id
    }
    assert {(n.recipient_id, n.dedup_key) for n in outbid} == expected
    assert len(outbid) == len(expected)


async def test_a_bid_waiting_for_the_lock_past_the_close_is_refused(market: Market) -> None:
    """A bid is timed when it holds the lot, not when it arrived: one that waited behind a
    slow transaction until the close had passed is refused, never accepted after the close."""
    lot_id = await market.open_lot(closes_in=timedelta(seconds=1), extension=timedelta(0))
    closes_at = (await market.lot(lot_id)).closes_at
    requests = LockRequests(market.engine, expected=2, on_postgres=lot_row_lock)

    async def slow_holder() -> None:
        async with market.maker() as s, s.begin():
            await lots.locked_lot(s, lot_id)
            await requests.all_asked()
            await eventually(_after(closes_at), "the close passed", timeout=5)

    holder = asyncio.create_task(slow_holder())
    await eventually(_count_at_least(requests, 1), "the holder took the lock")
    late = await market.bid(market.merchant_ids[0], lot_id, price=RESERVE)
    await holder
    assert late == "lot_closed"
    assert (await market.lot(lot_id)).bids == 0


def _after(moment: datetime) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return utcnow() > moment

    return check


def _count_at_least(requests: LockRequests, n: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return requests.count >= n

    return check


# --- Settling a lot once ----------------------------------------------------------------------


async def test_two_closers_at_once_close_once(market: Market) -> None:
    lot_id = await market.open_lot(closes_in=timedelta(seconds=1))
    assert isinstance(await market.bid(market.merchant_ids[0], lot_id, price=RESERVE), Placed)
    assert isinstance(await market.bid(market.merchant_ids[1], lot_id, price=RESERVE + 10), Placed)
    closes_at = (await market.lot(lot_id)).closes_at
    requests = LockRequests(market.engine, expected=2, on_postgres=lot_row_lock)

    async def close() -> LotStatus | None:
        async with market.maker() as s, s.begin():
            status = await lots.close_lot(s, lot_id, closes_at, ACCEPT)
            await requests.all_asked()
            return status

    results = await asyncio.gather(close(), close())
    assert sorted(results, key=str) == sorted([LotStatus.SOLD, None], key=str)
    assert [n.recipient_id for n in await market.notices("lot_won")] == [market.merchant_ids[1]]
    assert [n.recipient_id for n in await market.notices("lot_lost")] == [market.merchant_ids[0]]
    assert len(await market.notices("lot_sold")) == 3
    lot = await market.lot(lot_id)
    assert lot.status == LotStatus.SOLD and lot.closed_at == closes_at
    assert await market.auction_prices(lot_id) == [RESERVE + 10]


@pytest.mark.parametrize("bid_first", [True, False])
async def test_a_closer_racing_a_last_second_bid(market: Market, bid_first: bool) -> None:
    """Either the bid is refused as closed and the lot closes, or the bid stands and moves the
    close so the closer does nothing: never a bid accepted on a closed lot."""
    lot_id = await market.open_lot(closes_in=timedelta(seconds=3), extension=timedelta(seconds=2))
    first = market.merchant_ids[0]
    assert isinstance(await market.bid(first, lot_id, price=RESERVE), Placed)
    closes_at = (await market.lot(lot_id)).closes_at
    if bid_first:  # the bid comes in the last seconds, the closer at the close
        await eventually(_after(closes_at - timedelta(seconds=1.5)), "the last seconds", 5)
    else:
        await eventually(_after(closes_at), "the close passed", 5)
    requests = LockRequests(market.engine, expected=2, on_postgres=lot_row_lock)

    async def close() -> LotStatus | None:
        if bid_first:
            await eventually(_count_at_least(requests, 1), "the bid took the lock")
        async with market.maker() as s, s.begin():
            # The scheduler's time: it woke at the close it had read.
            status = await lots.close_lot(s, lot_id, closes_at, ACCEPT)
            await requests.all_asked()
            return status

    async def bid() -> BidResult | str:
        if not bid_first:
            await eventually(_count_at_least(requests, 1), "the closer took the lock")
        async with market.maker() as s:
            user = await market.user(s, market.merchant_ids[1])
            try:
                result: BidResult | str = await bids.place_bid(
                    s, user, lot_id, price_fen=RESERVE + 10
                )
                await requests.all_asked()
            except DomainError as exc:
                result = exc.reason
            await s.commit()
            return result

    closed, placed = await asyncio.gather(close(), bid())
    lot = await market.lot(lot_id)
    if bid_first:
        assert isinstance(placed, Placed) and placed.extended and closed is None
        assert lot.status == LotStatus.OPEN and lot.closes_at == placed.closes_at > closes_at
        assert lot.leader_id == market.merchant_ids[1]
    else:
        assert placed == "lot_closed" and closed == LotStatus.SOLD
        assert lot.leader_id == first and lot.bids == 1
        assert [n.recipient_id for n in await market.notices("lot_won")] == [first]


async def test_accept_and_reject_at_once_decide_once(database_url: str) -> None:
    market = await build_market(database_url, coordinators=2)
    try:
        lot_id = await market.open_lot(closes_in=timedelta(seconds=1), confirm_before_sale=True)
        assert isinstance(await market.bid(market.merchant_ids[0], lot_id, price=RESERVE), Placed)
        closes_at = (await market.lot(lot_id)).closes_at
        async with market.maker() as s, s.begin():
            assert await lots.close_lot(s, lot_id, closes_at, ACCEPT) == LotStatus.AWAITING
        requests = LockRequests(market.engine, expected=2, on_postgres=lot_row_lock)

        async def decide(coordinator_id: int, accept: bool) -> str:
            async with market.maker() as s:
                me = await market.user(s, coordinator_id)
                try:
                    lot = await lots.decide_sale(s, me, lot_id, accept)
                    await requests.all_asked()
                except DomainError as exc:
                    await s.rollback()
                    return exc.reason
                await s.commit()
                return lot.status.value

        a, b = market.coordinator_ids
        outcomes = await asyncio.gather(decide(a, True), decide(b, False))
        assert sorted(outcomes) in (["sale_decided", "sold"], ["rejected", "sale_decided"])
        lot = await market.lot(lot_id)
        sold = lot.status == LotStatus.SOLD
        assert len(await market.notices("lot_won")) == int(sold)
        assert len(await market.notices("sale_rejected")) == int(not sold)
        assert await market.auction_prices(lot_id) == ([RESERVE] if sold else [])
        async with market.maker() as s:
            statuses = set(await s.scalars(select(HarvestReport.status)))
            await s.commit()
        assert statuses == {ReportStatus.SOLD if sold else ReportStatus.SUBMITTED}
    finally:
        await market.engine.dispose()


async def test_cancel_and_close_at_once_end_the_lot_once(market: Market) -> None:
    lot_id = await market.open_lot(closes_in=timedelta(seconds=1))
    assert isinstance(await market.bid(market.merchant_ids[0], lot_id, price=RESERVE), Placed)
    closes_at = (await market.lot(lot_id)).closes_at
    requests = LockRequests(market.engine, expected=2, on_postgres=lot_row_lock)

    async def close() -> str:
        async with market.maker() as s, s.begin():
            status = await lots.close_lot(s, lot_id, closes_at, ACCEPT)
            await requests.all_asked()
            return str(status)

    async def cancel() -> str:
        async with market.maker() as s:
            me = await market.user(s, market.coordinator_ids[0])
            try:
                lot = await lots.cancel(s, me, lot_id)
                await requests.all_asked()
            except DomainError as exc:
                await s.rollback()
                return exc.reason
            await s.commit()
            return lot.status.value

    closed, cancelled = await asyncio.gather(close(), cancel())
    lot = await market.lot(lot_id)
    if lot.status == LotStatus.SOLD:
        assert (closed, cancelled) == (str(LotStatus.SOLD), "lot_not_open")
        assert not await market.notices("bids_void")
    else:
        assert lot.status == LotStatus.CANCELLED
        assert (closed, cancelled) == ("None", "cancelled")
        assert not await market.notices("lot_won")
        assert len(await market.notices("bids_void")) == 1


# --- Pools: a report in one lot at most -------------------------------------------------------


async def test_two_coordinators_open_lots_on_one_pool(database_url: str) -> None:
    """Both saw the same summary and confirm at once: one opens the lots, the other is told the
    pool changed; no report is in two lots."""
    market = await build_market(database_url, merchants=2, coordinators=2)
    try:
        async with market.maker() as s:
            coord = await market.user(s, market.coordinator_ids[0])
            planned = await lots.plan(s, coord, market.key, 400_000)
            await s.commit()
        expected = [p.report_ids for p in planned]
        requests = LockRequests(market.engine, expected=2, on_postgres=_reads_pool)

        async def open_(coordinator_id: int) -> str:
            async with market.maker() as s:
                me = await market.user(s, coordinator_id)
                terms = lots.Terms(RESERVE, INCREMENT, utcnow() + timedelta(hours=1))
                try:
                    opened = await lots.open_lots(s, me, market.key, 400_000, terms, expected)
                    await requests.all_asked()
                except DomainError as exc:
                    await s.rollback()
                    return exc.reason
                await s.commit()
                return f"opened {len(opened)}"

        outcomes = await asyncio.gather(*(open_(c) for c in market.coordinator_ids))
        assert sorted(outcomes)[0] == f"opened {len(planned)}"
        assert sorted(outcomes)[1] in ("pool_changed", "pool_empty")
        async with market.maker() as s:
            in_lots = list(await s.scalars(select(LotReport.report_id)))
            lot_count = await s.scalar(select(func.count()).select_from(Lot))
            await s.commit()
        assert sorted(in_lots) == sorted(i for p in expected for i in p)
        assert lot_count == len(planned)
    finally:
        await market.engine.dispose()


def _reads_pool(statement: str, _params: Any) -> bool:
    """PostgreSQL: a statement that reads a pool (locked or not)."""
    return (
        statement.startswith("SELECT")
        and "FROM harvest_reports" in statement
        and "harvest_reports.village_id =" in statement
    )


async def test_a_report_in_a_lot_cannot_be_withdrawn(market: Market) -> None:
    lot_id = await market.open_lot(closes_in=timedelta(hours=1))
    async with market.maker() as s:
        me = await market.user(s, market.farmer_ids[0])
        report_id = await s.scalar(
            select(LotReport.report_id).where(
                LotReport.lot_id == lot_id, LotReport.farmer_id == me.id
            )
        )
        assert report_id is not None
        with pytest.raises(DomainError, match="report_not_withdrawable"):
            await harvests.withdraw_report(s, me, report_id)
        await s.rollback()


async def test_a_withdrawal_racing_the_opening_of_a_lot(market: Market) -> None:
    """A farmer withdraws a report while a coordinator is putting it in a lot: the withdrawal
    waits for the lot and is refused; the report is in the lot, not withdrawn under it."""
    ready = asyncio.Event()
    requests: list[LockRequests] = []
    report_id: int | None = None

    async def open_lot() -> None:
        nonlocal report_id
        async with market.maker() as s, s.begin():
            me = await market.user(s, market.coordinator_ids[0])
            terms = lots.Terms(RESERVE, INCREMENT, utcnow() + timedelta(hours=1))
            (lot,) = await lots.open_lots(s, me, market.key, None, terms)
            report_id = await s.scalar(
                select(func.min(LotReport.report_id)).where(LotReport.lot_id == lot.id)
            )
            # Held until the farmer's withdrawal has asked for the report.
            requests.append(LockRequests(market.engine, expected=1, on_postgres=_writes_report))
            ready.set()
            await requests[0].all_asked()

    async def withdraw() -> str:
        await ready.wait()
        assert report_id is not None
        async with market.maker() as s:
            me = await market.user(s, market.farmer_ids[0])
            try:
                report = await harvests.withdraw_report(s, me, report_id)
            except DomainError as exc:
                await s.rollback()
                return exc.reason
            await s.commit()
            return report.status.value

    _, withdrawn = await asyncio.gather(open_lot(), withdraw())
    assert withdrawn == "report_not_withdrawable"
    async with market.maker() as s:
        status = await s.scalar(select(HarvestReport.status).where(HarvestReport.id == report_id))
        await s.commit()
    assert status == ReportStatus.POOLED


def _writes_report(statement: str, _params: Any) -> bool:
    """PostgreSQL: a statement that waits for a report's row lock."""
    return "harvest_reports" in statement and (
        statement.startswith("UPDATE") or "FOR UPDATE" in statement
    )


async def test_a_forged_price_out_of_range_is_refused(market: Market) -> None:
    """A quick-bid button carries its price: a forged one beyond any real price (past the
    database's integer, even) is refused as a rule, not failed as a database error."""
    lot_id = await market.open_lot(closes_in=timedelta(hours=1))
    for price, maximum in [(10**12, None), (None, 10**12), (RESERVE, MAX_FEN_PER_KG + 1)]:
        answer = await market.bid(market.merchant_ids[0], lot_id, price=price, maximum=maximum)
        assert answer == "bid_out_of_range"
    assert (await market.lot(lot_id)).bids == 0
    top = await market.bid(market.merchant_ids[0], lot_id, maximum=MAX_FEN_PER_KG)
    assert isinstance(top, Placed) and top.leading_fen == RESERVE


async def test_a_forged_lot_id_out_of_range_is_no_such_lot(market: Market) -> None:
    """A lot id in a button past the database's integer is an unknown lot, not an error."""
    huge = 2**40
    assert await market.bid(market.merchant_ids[0], huge, price=RESERVE) == "no_such_lot"
    async with market.maker() as s:
        me = await market.user(s, market.coordinator_ids[0])
        for call in (
            lots.lot_view(s, huge),
            lots.close_early(s, me, huge, ACCEPT),
            lots.cancel(s, me, huge),
            lots.decide_sale(s, me, huge, accept=True),
            lots.lot_bids(s, me, huge),
        ):
            with pytest.raises(DomainError, match="no_such_lot"):
                await call
        await s.rollback()
