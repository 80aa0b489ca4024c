"""The market's services over a real database (SQLite and PostgreSQL): opening lots on pools,
bids and proxy bids, closing sold / unsold / awaiting acceptance, acceptance, cancelling, the
notices each writes, and the times the scheduler reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auction import Refusal, lot_value_fen
from bot.models import (
    CoordinatorVia,
    Grade,
    HarvestReport,
    Lot,
    LotStatus,
    Notice,
    Process,
    Product,
    ReportStatus,
    User,
    Village,
)
from bot.services import bids, harvests, lots, users
from bot.services.access import OPERATOR
from bot.services.bids import ConfirmFirst, NotPlaced, Placed
from bot.services.coordination import approve_merchant, make_coordinator
from bot.services.errors import DomainError
from bot.services.harvests import HarvestDraft
from bot.services.pools import PoolKey

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ACCEPT = timedelta(hours=24)


async def farmer(session: AsyncSession, village: Village, tid: int, kg: list[int]) -> User:
    user = await users.ensure_user(session, tid)
    await users.register_farmer(
        session, user, name=f"F{tid}", phone="13800000000", village_id=village.id
    )
    for day, amount in enumerate(kg):
        draft = HarvestDraft(
            product="parchment",
            process="washed",
            variety="catimor",
            quantity_g=amount * 1000,
            grade="AA",
            moisture_tenths=110 + day,
        )
        report = await harvests.submit_report(session, user, draft)
        report.created_at = T0 + timedelta(hours=tid * 10 + day)
    await session.flush()
    return user


async def merchant(session: AsyncSession, tid: int, approve: bool = True) -> User:
    user = await users.ensure_user(session, tid)
    await users.register_merchant(session, user, company=f"Co{tid}", contact="13900000000")
    if approve:
        await approve_merchant(session, OPERATOR, user.id)
    return user


async def coordinator(session: AsyncSession, tid: int = 900) -> User:
    user = await users.ensure_user(session, tid)
    await make_coordinator(session, user, OPERATOR, CoordinatorVia.CHAT)
    return user


def terms(**kw: object) -> lots.Terms:
    base: dict[str, object] = dict(
        reserve_fen=2000, increment_fen=10, closes_at=T0 + timedelta(days=2)
    )
    base.update(kw)
    return lots.Terms(**base)  # type: ignore[arg-type]


async def notices(session: AsyncSession, kind: str) -> list[Notice]:
    return list(
        await session.scalars(select(Notice).where(Notice.kind == kind).order_by(Notice.id))
    )


@dataclass
class Market:
    village: Village
    farmers: list[User]
    coord: User
    merchants: list[User]
    key: PoolKey

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


@pytest.fixture
async def market(session: AsyncSession, villages: list[Village]) -> Market:
    village = villages[0]
    f1 = await farmer(session, village, 1, [300, 200])
    f2 = await farmer(session, village, 2, [600])
    coord = await coordinator(session)
    m = [await merchant(session, 100 + i) for i in range(3)]
    await session.commit()
    return Market(
        village,
        [f1, f2],
        coord,
        m,
        PoolKey(village.id, Product.PARCHMENT, Process.WASHED, Grade.AA),
    )


async def open_one(session: AsyncSession, market: Market, **kw: object) -> Lot:
    (lot,) = await lots.open_lots(
        session,
        market["coord"],
        market["key"],
        None,
        terms(**kw),
        now=T0,  # type: ignore[arg-type]
    )
    await session.commit()
    return lot


async def test_slices_and_farmers_told(session: AsyncSession, market: Market) -> None:
    planned = await lots.plan(session, market["coord"], market["key"], 450_000)
    assert [p.grams for p in planned] == [500_000, 600_000]
    assert [[f.name for f in p.farmers] for p in planned] == [["F1"], ["F2"]]
    opened = await lots.open_lots(
        session,
        market["coord"],
        market["key"],
        450_000,
        terms(),
        expected=[p.report_ids for p in planned],
        now=T0,
    )
    await session.commit()
    assert [lot.grams for lot in opened] == [500_000, 600_000]
    statuses = set(await session.scalars(select(HarvestReport.status)))
    assert statuses == {ReportStatus.POOLED}
    told = await notices(session, "lot_opened")
    assert {(n.recipient_id, n.payload["farmer_grams"]) for n in told} == {
        (market["farmers"][0].id, 500_000),
        (market["farmers"][1].id, 600_000),
    }
    assert len(await notices(session, "new_lot")) == 2 * 3
    with pytest.raises(DomainError, match="pool_empty"):
        await lots.open_lots(session, market["coord"], market["key"], None, terms(), now=T0)


async def test_pool_changed_since_summary(session: AsyncSession, market: Market) -> None:
    planned = await lots.plan(session, market["coord"], market["key"], None)
    report = (await session.scalars(select(HarvestReport).order_by(HarvestReport.id))).first()
    assert report is not None
    await harvests.withdraw_report(session, market["farmers"][0], report.id)
    with pytest.raises(DomainError, match="pool_changed"):
        await lots.open_lots(
            session,
            market["coord"],
            market["key"],
            None,
            terms(),
            expected=[p.report_ids for p in planned],
            now=T0,
        )


async def test_bids_outbid_proxy_and_sale(session: AsyncSession, market: Market) -> None:
    lot = await open_one(session, market)
    a, b, c = market["merchants"]
    at = T0 + timedelta(hours=1)
    low = await bids.place_bid(session, a, lot.id, price_fen=1990, now=at)
    assert (
        isinstance(low, NotPlaced)
        and low.reason == Refusal.BELOW_RESERVE
        and low.minimum_fen == 2000
    )
    assert isinstance(await bids.place_bid(session, a, lot.id, price_fen=2000, now=at), Placed)
    mine = await bids.place_bid(session, a, lot.id, price_fen=2100, now=at)
    assert isinstance(mine, NotPlaced) and mine.reason == Refusal.ALREADY_LEADING
    typo = await bids.place_bid(session, b, lot.id, price_fen=20100, now=at)
    assert isinstance(typo, ConfirmFirst)
    proxy = await bids.place_bid(session, b, lot.id, maximum_fen=2350, now=at)
    assert isinstance(proxy, Placed) and proxy.leads and proxy.leading_fen == 2010
    (outbid,) = await notices(session, "outbid")
    assert outbid.recipient_id == a.id and outbid.payload["price_fen"] == 2010
    answered = await bids.place_bid(session, c, lot.id, price_fen=2300, now=at)
    assert isinstance(answered, Placed) and not answered.leads and answered.leading_fen == 2310
    await session.commit()
    # Soft close: a bid in the last 3 minutes moves the close.
    late = lot.closes_at - timedelta(minutes=1)
    extended = await bids.place_bid(session, c, lot.id, price_fen=2600, now=late)
    assert isinstance(extended, Placed) and extended.extended
    assert extended.closes_at == late + timedelta(minutes=3)
    await session.commit()
    assert await lots.close_lot(session, lot.id, late, ACCEPT) is None  # not due any more
    assert await lots.close_lot(session, lot.id, extended.closes_at, ACCEPT) == LotStatus.SOLD
    await session.commit()
    assert await lots.close_lot(session, lot.id, extended.closes_at, ACCEPT) is None
    (won,) = await notices(session, "lot_won")
    assert won.recipient_id == c.id and won.payload["total_fen"] == lot_value_fen(2600, 1_100_000)
    assert {n.recipient_id for n in await notices(session, "lot_lost")} == {a.id, b.id}
    sold = await notices(session, "lot_sold")
    assert sorted(n.payload["farmer_grams"] for n in sold) == [500_000, 600_000]
    assert set(await session.scalars(select(HarvestReport.status))) == {ReportStatus.SOLD}
    mine_c = await bids.my_bids(session, c)
    assert mine_c[0].owed_fen == lot_value_fen(2600, 1_100_000) and mine_c[0].leading


async def test_unsold_goes_back_to_pool(session: AsyncSession, market: Market) -> None:
    lot = await open_one(session, market)
    assert await lots.close_lot(session, lot.id, lot.closes_at, ACCEPT) == LotStatus.UNSOLD
    await session.commit()
    assert set(await session.scalars(select(HarvestReport.status))) == {ReportStatus.SUBMITTED}
    assert len(await notices(session, "lot_unsold")) == 2


async def test_acceptance_accept_reject_and_timeout(session: AsyncSession, market: Market) -> None:
    a = market["merchants"][0]
    lot = await open_one(session, market, confirm_before_sale=True)
    await bids.place_bid(session, a, lot.id, price_fen=2000, now=T0)
    assert await lots.close_lot(session, lot.id, lot.closes_at, ACCEPT) == LotStatus.AWAITING
    await session.commit()
    assert len(await notices(session, "acceptance_needed")) == 1
    assert await lots.due_acceptances(session, lot.closes_at + ACCEPT) == [lot.id]
    await lots.decide_sale(session, OPERATOR, lot.id, accept=False, now=lot.closes_at + ACCEPT)
    await session.commit()
    assert lot.status == LotStatus.REJECTED
    assert len(await notices(session, "acceptance_expired")) == 1
    assert set(await session.scalars(select(HarvestReport.status))) == {ReportStatus.SUBMITTED}
    with pytest.raises(DomainError, match="sale_decided"):
        await lots.decide_sale(session, market["coord"], lot.id, accept=True)
    # Below the acceptance threshold: waits; accepted, it is sold.
    lot2 = await open_one(session, market, accept_below_fen=2500)
    await bids.place_bid(session, a, lot2.id, price_fen=2000, now=T0)
    assert await lots.close_lot(session, lot2.id, lot2.closes_at, ACCEPT) == LotStatus.AWAITING
    await lots.decide_sale(session, market["coord"], lot2.id, accept=True, now=lot2.closes_at)
    await session.commit()
    assert lot2.status == LotStatus.SOLD


async def test_cancel_and_who_may_bid(session: AsyncSession, market: Market) -> None:
    lot = await open_one(session, market)
    a = market["merchants"][0]
    await bids.place_bid(session, a, lot.id, price_fen=2000, now=T0)
    pending = await merchant(session, 200, approve=False)
    for user, reason in [
        (market["farmers"][0], "bid_farmer"),
        (pending, "bid_pending"),
        (market["coord"], "bid_coordinator"),
        (None, "bid_not_registered"),
    ]:
        with pytest.raises(DomainError, match=reason):
            await bids.place_bid(session, user, lot.id, price_fen=3000, now=T0)
    with pytest.raises(DomainError, match="not_allowed"):
        await lots.cancel(session, a, lot.id)
    await lots.cancel(session, market["coord"], lot.id, now=T0)
    await session.commit()
    with pytest.raises(DomainError, match="lot_cancelled"):
        await bids.place_bid(session, a, lot.id, price_fen=3000, now=T0)
    assert len(await notices(session, "bids_void")) == 1
    assert len(await notices(session, "lot_cancelled")) == 2
    with pytest.raises(DomainError, match="no_such_lot"):
        await bids.place_bid(session, a, 9999, price_fen=3000, now=T0)


async def test_closing_soon_once_and_next_due(session: AsyncSession, market: Market) -> None:
    lot = await open_one(session, market)
    soon = timedelta(minutes=30)
    assert await lots.next_due(session, soon) == lot.closes_at - soon
    for m in market["merchants"][:2]:
        await bids.place_bid(session, m, lot.id, maximum_fen=3000, confirmed=True, now=T0)
    await session.commit()
    at = lot.closes_at - timedelta(minutes=10)
    assert await lots.warn_closing_soon(session, at, soon) == 2
    await session.commit()
    assert await lots.warn_closing_soon(session, at, soon) == 0
    assert await lots.next_due(session, soon) == lot.closes_at


async def test_coordinators_see_who_leads_and_until_when_a_sale_waits(
    session: AsyncSession, market: Market
) -> None:
    lot = await open_one(session, market, confirm_before_sale=True)
    a, b, _c = market["merchants"]
    await bids.place_bid(session, a, lot.id, price_fen=2000, now=T0)
    await bids.place_bid(session, b, lot.id, price_fen=2100, now=T0)
    await session.commit()
    (shown,) = await lots.lots_of_coordinators(session, market["coord"])
    assert (shown.id, shown.leader, shown.leader_company, shown.leading_fen) == (
        lot.id,
        None,  # registered merchants here have a company, no name
        "Co101",
        2100,
    )
    assert shown.acceptance_due_at is None and shown.bids == 2
    await lots.close_early(session, market["coord"], lot.id, ACCEPT, now=T0)
    await session.commit()
    waiting = await lots.coordinator_lot(session, market["coord"], lot.id)
    assert waiting.status == LotStatus.AWAITING and waiting.acceptance_due_at == T0 + ACCEPT
    with pytest.raises(DomainError, match="not_allowed"):
        await lots.lots_of_coordinators(session, a)
    with pytest.raises(DomainError, match="no_such_lot"):
        await lots.coordinator_lot(session, market["coord"], 9999)


def test_reserve_and_increment_are_checked_as_typed() -> None:
    lots.check_reserve(1)
    lots.check_reserve(100_000)
    for bad in (0, -1, 100_001):
        with pytest.raises(DomainError, match="bad_reserve"):
            lots.check_reserve(bad)
    lots.check_increment(10, 2000)
    lots.check_increment(2000, 2000)
    for step in (0, -10, 2001):
        with pytest.raises(DomainError, match="bad_increment"):
            lots.check_increment(step, 2000)


async def test_a_bids_reply_reads_the_lot_it_holds_and_a_later_transaction_reads_afresh(
    session: AsyncSession, market: Market
) -> None:
    """The lot's view after a bid is the locked lot with the bid applied, read by no further
    statement (it once read the lot a second time); after the commit it is read again."""
    lot = await open_one(session, market)
    a, b, _ = market["merchants"]
    await session.commit()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        placed = await bids.place_bid(session, a, lot.id, price_fen=2000, now=T0)
        assert isinstance(placed, Placed)
        before = len(statements)
        view = await lots.lot_view(session, lot.id)
        assert statements[before:] == []
        assert (view.leading_fen, view.bids, view.village) == (2000, 1, "Conggang")
        await session.commit()
        await bids.place_bid(session, b, lot.id, price_fen=2100, now=T0)  # another transaction
        await session.commit()
        before = len(statements)
        view = await lots.lot_view(session, lot.id)
        assert len(statements) > before and (view.leading_fen, view.bids) == (2100, 2)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
