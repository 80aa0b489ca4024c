"""Reference prices and their history over a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auction import MAX_FEN_PER_KG
from bot.models import (
    AuditAction,
    AuditEntry,
    Grade,
    LotStatus,
    Price,
    PriceSource,
    PriceStatus,
    Process,
    Product,
    Village,
)
from bot.services import bids, lots, prices
from bot.services.errors import DomainError
from bot.services.pools import PoolKey
from bot.services.prices import Key
from tests.test_auctions import ACCEPT, coordinator, farmer, merchant, terms

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
GREEN_AA = Key(Product.GREEN, Grade.AA)
CHERRY = Key(Product.CHERRY)
PARCHMENT_AA = Key(Product.PARCHMENT, Grade.AA)


async def test_the_reference_is_the_newest_live_price_and_remembers_the_last(
    session: AsyncSession,
) -> None:
    await prices.record(session, GREEN_AA, 3200, PriceSource.COORDINATOR, at=T0)
    second = await prices.record(
        session, GREEN_AA, 3300, PriceSource.FEED, at=T0 + timedelta(hours=1)
    )
    await prices.record(session, CHERRY, 550, PriceSource.COORDINATOR, at=T0)
    # A winning auction price is observed, never the reference.
    await prices.record(session, GREEN_AA, 4000, PriceSource.AUCTION, at=T0 + timedelta(hours=2))
    await session.commit()

    current = await prices.reference(session, GREEN_AA)
    assert current is not None and current.id == second.id
    assert (current.fen_per_kg, current.previous_fen) == (3300, 3200)
    table = await prices.references(session)
    assert {k: p.fen_per_kg for k, p in table.items()} == {GREEN_AA: 3300, CHERRY: 550}
    assert await prices.reference(session, Key(Product.GREEN)) is None  # ungraded is its own
    seen = await prices.history(session, GREEN_AA, T0)
    assert [p.fen_per_kg for p in seen] == [3200, 3300, 4000]
    auctions = await prices.history(session, GREEN_AA, T0, sources=(PriceSource.AUCTION,))
    assert [p.fen_per_kg for p in auctions] == [4000]


async def test_a_big_move_is_held_and_the_reference_stays(session: AsyncSession) -> None:
    await prices.record(session, GREEN_AA, 3200, PriceSource.FEED, at=T0)
    small = await prices.record(session, GREEN_AA, 3500, PriceSource.FEED, hold_percent=Decimal(15))
    big = await prices.record(session, GREEN_AA, 5000, PriceSource.FEED, hold_percent=Decimal(15))
    await session.commit()
    assert small.status == PriceStatus.LIVE
    assert big.status == PriceStatus.HELD and big.previous_fen == 3500
    current = await prices.reference(session, GREEN_AA)
    assert current is not None and current.fen_per_kg == 3500


def test_change_and_keys() -> None:
    assert prices.change_percent(None, 100) is None
    assert prices.change_percent(3200, 3360) == Decimal("5.0")
    assert prices.change_percent(3200, 3040) == Decimal("-5.0")
    assert prices.moved_beyond(100, 116, Decimal(15)) and not prices.moved_beyond(
        100, 115, Decimal(15)
    )
    assert Key.from_code(GREEN_AA.code) == GREEN_AA and Key.from_code("cherry/-") == CHERRY


async def test_a_farmer_sees_the_prices_of_what_they_grow(session: AsyncSession) -> None:
    from zoneinfo import ZoneInfo

    from bot.models import User, Village
    from bot.services import harvests, users
    from bot.services.harvests import HarvestDraft

    tz = ZoneInfo("Asia/Shanghai")
    village = Village(name="Conggang", code="CG")
    session.add(village)
    await session.flush()
    farmer: User = await users.register_farmer(
        session,
        await users.ensure_user(session, 501),
        name="Li Wei",
        phone="138 0000 0000",
        village_id=village.id,
    )
    newcomer = await users.ensure_user(session, 502)
    yesterday = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    now = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)  # 14:00 in Yunnan
    await prices.record(session, GREEN_AA, 3200, PriceSource.FEED, at=yesterday)
    await prices.record(session, GREEN_AA, 3360, PriceSource.FEED, at=now - timedelta(hours=1))
    await prices.record(session, CHERRY, 550, PriceSource.COORDINATOR, at=yesterday)
    await prices.record(session, GREEN_AA, 3500, PriceSource.AUCTION, at=yesterday)
    draft = HarvestDraft(
        product="green", process="washed", variety="catimor", quantity_g=50_000, grade="AA"
    )
    await harvests.submit_report(session, farmer, draft)
    await session.commit()

    (line,) = await prices.board(session, farmer, now=now, tz=tz)
    assert (line.key, line.fen, line.yesterday_fen, line.change) == (
        GREEN_AA,
        3360,
        3200,
        Decimal("5.0"),
    )
    assert line.auction_fen == 3500
    # Someone who deals in nothing yet sees every priced product and grade.
    everything = await prices.board(session, newcomer, now=now, tz=tz)
    assert [x.key for x in everything] == [CHERRY, GREEN_AA]


# --- /setprice -----------------------------------------------------------------------------------


async def test_a_coordinator_sets_the_reference_audited_and_never_held(
    session: AsyncSession, villages: list[Village]
) -> None:
    coord = await coordinator(session)
    assert await prices.current_reference(session, coord, GREEN_AA) is None
    first = await prices.set_reference(session, coord, GREEN_AA, 3200, at=T0)
    # Far from the last (+200 %): the coordinator's confirmation was the check, not held.
    second = await prices.set_reference(session, coord, GREEN_AA, 9600, at=T0 + timedelta(hours=1))
    await session.commit()
    assert (first.source, first.status, first.set_by, first.previous_fen) == (
        PriceSource.COORDINATOR,
        PriceStatus.LIVE,
        coord.id,
        None,
    )
    assert (second.status, second.previous_fen) == (PriceStatus.LIVE, 3200)
    current = await prices.current_reference(session, coord, GREEN_AA)
    assert current is not None and current.id == second.id
    entries = list(
        await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == AuditAction.PRICE_SET)
            .order_by(AuditEntry.id)
        )
    )
    assert [(e.actor_id, e.details) for e in entries] == [
        (
            coord.id,
            {"price_id": first.id, "key": "green/AA", "fen_per_kg": 3200, "previous_fen": None},
        ),
        (
            coord.id,
            {"price_id": second.id, "key": "green/AA", "fen_per_kg": 9600, "previous_fen": 3200},
        ),
    ]


async def test_only_coordinators_set_prices_and_only_sane_ones(
    session: AsyncSession, villages: list[Village]
) -> None:
    grower = await farmer(session, villages[0], 1, [])
    buyer = await merchant(session, 100)
    coord = await coordinator(session)
    for who in (grower, buyer):
        with pytest.raises(DomainError, match="not_allowed"):
            await prices.set_reference(session, who, CHERRY, 550)
        with pytest.raises(DomainError, match="not_allowed"):
            await prices.current_reference(session, who, CHERRY)
    for fen in (0, -1, MAX_FEN_PER_KG + 1):
        with pytest.raises(DomainError, match="bad_price"):
            await prices.set_reference(session, coord, CHERRY, fen)
    await session.commit()
    assert await session.scalar(select(func.count()).select_from(Price)) == 0
    price_set = select(func.count()).where(AuditEntry.action == AuditAction.PRICE_SET)
    assert await session.scalar(price_set) == 0


# --- Auction prices ------------------------------------------------------------------------------


async def test_a_sold_lot_stores_its_price_once_beside_the_reference(
    session: AsyncSession, villages: list[Village]
) -> None:
    """Each way a lot is sold (its close, closed early, accepted after waiting) stores the
    winning price as an observed market price of its product and grade, at the sale's moment;
    unsold and rejected lots store none, and the reference never moves."""
    village = villages[0]
    await farmer(session, village, 1, [300, 200, 100, 400])
    coord = await coordinator(session)
    a = await merchant(session, 100)
    await prices.set_reference(session, coord, PARCHMENT_AA, 1800, at=T0)
    await session.commit()
    key = PoolKey(village.id, Product.PARCHMENT, Process.WASHED, Grade.AA)
    closes = T0 + timedelta(days=2)
    # Four lots of one report each, oldest first (the lot planner takes whole reports).
    opened = await lots.open_lots(session, coord, key, 100_000, terms(closes_at=closes), now=T0)
    lot_closed, lot_early, lot_accepted, lot_unsold = opened[:4]
    lot_accepted.confirm_before_sale = True
    await session.commit()
    for lot, fen in ((lot_closed, 2100), (lot_early, 2200), (lot_accepted, 2300)):
        await bids.place_bid(session, a, lot.id, price_fen=fen, now=T0 + timedelta(hours=1))
    await session.commit()

    assert await lots.close_lot(session, lot_closed.id, closes, ACCEPT) == LotStatus.SOLD
    early = T0 + timedelta(hours=5)
    assert await lots.close_early(session, coord, lot_early.id, ACCEPT, now=early) == (
        LotStatus.SOLD
    )
    assert await lots.close_lot(session, lot_accepted.id, closes, ACCEPT) == LotStatus.AWAITING
    assert await lots.close_lot(session, lot_unsold.id, closes, ACCEPT) == LotStatus.UNSOLD
    await session.commit()
    assert await _auction_prices(session) == {
        lot_closed.id: (2100, closes),
        lot_early.id: (2200, early),
    }
    accepted = closes + timedelta(hours=2)
    await lots.decide_sale(session, coord, lot_accepted.id, accept=True, now=accepted)
    await session.commit()
    assert await lots.close_lot(session, lot_closed.id, closes, ACCEPT) is None  # once
    stored = await _auction_prices(session)
    assert stored[lot_accepted.id] == (2300, accepted) and len(stored) == 3
    every = list(await session.scalars(select(Price).where(Price.lot_id.is_not(None))))
    assert {(p.product, p.grade, p.status) for p in every} == {
        (Product.PARCHMENT, Grade.AA, PriceStatus.LIVE)
    }
    reference = await prices.reference(session, PARCHMENT_AA)
    assert reference is not None and reference.fen_per_kg == 1800


async def _auction_prices(session: AsyncSession) -> dict[int, tuple[int, datetime]]:
    rows = await session.scalars(select(Price).where(Price.source == PriceSource.AUCTION))
    return {
        p.lot_id: (p.fen_per_kg, p.observed_at.replace(tzinfo=UTC))
        for p in rows
        if p.lot_id is not None
    }
