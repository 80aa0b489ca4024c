"""Collecting sold lots over a real database (SQLite and PostgreSQL): setting and changing the
place and time (everyone concerned told each time), recording weights (as reported, typed, not
delivered, changed), refusals, completion reconciling to the fen (the farmers' gross shares
add up to the invoice, net + fees to each gross), the notices it writes, two coordinators
completing at once completing once, and that only coordinators may do any of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auction import lot_value_fen
from bot.models import (
    AuditAction,
    AuditEntry,
    Collection,
    CollectionStatus,
    HarvestReport,
    Lot,
    LotReport,
    LotStatus,
    Notice,
    Payout,
    PayoutStatus,
    ReportStatus,
    Village,
)
from bot.quantity import MAX_GRAMS
from bot.services import bids, collections, lots
from bot.services.bids import Placed
from bot.services.errors import DomainError
from tests.conditions import LockRequests
from tests.test_auctions import ACCEPT, T0, Market, notices, open_one
from tests.test_auctions import market as market  # the fixture
from tests.test_bid_concurrency import Market as RaceMarket
from tests.test_bid_concurrency import build_market, lot_row_lock

FEES = {"cooperative": Decimal("2"), "platform": Decimal("1.5")}
TZ = ZoneInfo("Asia/Shanghai")
PRICE = 2350
WHEN = T0 + timedelta(days=5)


async def sold(session: AsyncSession, market: Market) -> Lot:
    """The market's whole pool sold to the first merchant at PRICE."""
    lot = await open_one(session, market)
    placed = await bids.place_bid(
        session, market.merchants[0], lot.id, price_fen=PRICE, confirmed=True, now=T0
    )
    assert isinstance(placed, Placed)
    assert await lots.close_lot(session, lot.id, lot.closes_at, ACCEPT) == LotStatus.SOLD
    await session.commit()
    return lot


async def reports(session: AsyncSession, lot_id: int) -> list[LotReport]:
    return list(
        await session.scalars(
            select(LotReport).where(LotReport.lot_id == lot_id).order_by(LotReport.report_id)
        )
    )


async def test_setting_and_changing_the_place_and_time_tells_everyone(
    session: AsyncSession, market: Market
) -> None:
    lot = await sold(session, market)
    coord = market.coord
    view = await collections.set_collection(
        session, coord, lot.id, "  Conggang  station ", WHEN, T0
    )
    await session.commit()
    assert (view.place, view.collect_at, view.status) == (
        "Conggang station",
        WHEN,
        CollectionStatus.SCHEDULED,
    )
    assert view.reported_grams == 1_100_000 and view.recorded == 0
    told = await notices(session, "collection_set")
    assert {n.recipient_id: n.payload.get("farmer_grams") for n in told} == {
        market.merchants[0].id: None,
        market.farmers[0].id: 500_000,
        market.farmers[1].id: 600_000,
    }
    assert not any(n.payload["changed"] for n in told)
    assert {n.payload["place"] for n in told} == {"Conggang station"}

    later = WHEN + timedelta(hours=3)
    await collections.set_collection(session, coord, lot.id, "Nankang hall", later, T0)
    await session.commit()
    told = await notices(session, "collection_set")
    assert len(told) == 6 and all(n.payload["changed"] for n in told[3:])
    assert told[3].payload["collect_at"] == later.isoformat()
    collection = await session.get(Collection, lot.id)
    assert collection is not None and collection.place == "Nankang hall"
    audits = await session.scalar(
        select(func.count()).where(AuditEntry.action == AuditAction.COLLECTION_SET)
    )
    assert audits == 2

    for place, when, reason in [
        ("", WHEN, "place_empty"),
        ("x" * 201, WHEN, "place_too_long"),
        ("Station", T0 - timedelta(minutes=1), "schedule_in_past"),
    ]:
        with pytest.raises(DomainError, match=reason):
            await collections.set_collection(session, coord, lot.id, place, when, T0)


async def test_a_lot_not_sold_has_no_collection(session: AsyncSession, market: Market) -> None:
    lot = await open_one(session, market)
    with pytest.raises(DomainError, match="lot_not_sold"):
        await collections.set_collection(session, market.coord, lot.id, "Station", WHEN, T0)
    with pytest.raises(DomainError, match="lot_not_sold"):
        await collections.collection_view(session, market.coord, lot.id)
    with pytest.raises(DomainError, match="no_such_lot"):
        await collections.collection_view(session, market.coord, 2**40)


async def test_recording_weights_and_completing_reconciles(
    session: AsyncSession, market: Market
) -> None:
    lot = await sold(session, market)
    coord = market.coord
    first, second, third = [r.report_id for r in await reports(session, lot.id)]
    with pytest.raises(DomainError, match="collection_not_set"):
        await collections.record_weight(session, coord, lot.id, first)
    await collections.set_collection(session, coord, lot.id, "Station", WHEN, T0)

    as_reported = await collections.record_weight(session, coord, lot.id, first, now=T0)
    assert as_reported.weighed_grams == 300_000 and as_reported.delivered
    typed = await collections.record_weight(session, coord, lot.id, second, 198_765, now=T0)
    assert typed.weighed_grams == 198_765
    for bad in (0, -5, MAX_GRAMS + 1):
        with pytest.raises(DomainError, match="bad_weight"):
            await collections.record_weight(session, coord, lot.id, third, bad)
    with pytest.raises(DomainError, match="no_such_contribution"):
        await collections.record_weight(session, coord, lot.id, 2**40)
    with pytest.raises(DomainError, match="collection_incomplete"):
        await collections.complete(session, coord, lot.id, FEES, 7, TZ)
    absent = await collections.record_weight(session, coord, lot.id, third, delivered=False)
    assert (absent.weighed_grams, absent.delivered) == (0, False)
    # Changed before completion: the last recording counts.
    await collections.record_weight(session, coord, lot.id, first, 301_250)
    view = await collections.collection_view(session, coord, lot.id)
    assert view.complete_ready and view.weighed_grams == 301_250 + 198_765
    await session.commit()

    # 16:30 UTC is the next day in Shanghai: the pay date counts from the local date.
    done_at = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)
    done = await collections.complete(session, coord, lot.id, FEES, 7, TZ, now=done_at)
    await session.commit()
    assert done.due_on == date(2026, 12, 3)
    assert done.invoice_fen == lot_value_fen(PRICE, 301_250 + 198_765)
    assert done.not_delivered == 1
    payouts = list(await session.scalars(select(Payout).order_by(Payout.id)))
    assert [(p.report_id, p.grams) for p in payouts] == [(first, 301_250), (second, 198_765)]
    assert sum(p.gross_fen for p in payouts) == done.invoice_fen
    for p in payouts:
        assert list(p.fees) == ["cooperative", "platform"]
        assert p.net_fen + sum(p.fees.values()) == p.gross_fen
        assert (p.status, p.due_on, p.price_fen) == (PayoutStatus.SCHEDULED, done.due_on, PRICE)
    collection = await session.get(Collection, lot.id, populate_existing=True)
    assert collection is not None
    assert (collection.status, collection.invoice_fen, collection.weighed_grams) == (
        CollectionStatus.COMPLETED,
        done.invoice_fen,
        500_015,
    )
    statuses = dict((await session.execute(select(HarvestReport.id, HarvestReport.status))).all())
    assert statuses == {
        first: ReportStatus.COLLECTED,
        second: ReportStatus.COLLECTED,
        third: ReportStatus.NOT_DELIVERED,
    }

    (invoice,) = await notices(session, "invoice")
    assert (
        invoice.recipient_id == market.merchants[0].id and invoice.dedup_key == f"invoice:{lot.id}"
    )
    assert invoice.payload["invoice_fen"] == done.invoice_fen
    assert invoice.payload["villages"] == [
        {"village": market.village.name, "grams": 500_015, "fen": done.invoice_fen}
    ]
    weighed = await notices(session, "weighed")
    assert [(n.payload["weighed_grams"], n.payload["delivered"]) for n in weighed] == [
        (301_250, True),
        (198_765, True),
        (0, False),
    ]
    scheduled = await notices(session, "payout_scheduled")
    assert [n.dedup_key for n in scheduled] == [f"payout-scheduled:{p.id}" for p in payouts]
    for n, p in zip(scheduled, payouts, strict=True):
        assert n.recipient_id == p.farmer_id
        assert n.payload["payout_id"] == p.id and n.payload["due_on"] == "2026-12-03"
        assert n.payload["gross_fen"] == p.gross_fen and n.payload["net_fen"] == p.net_fen
        assert n.payload["fees"] == p.fees
    assert (
        await session.scalar(
            select(func.count()).where(AuditEntry.action == AuditAction.COLLECTION_COMPLETE)
        )
        == 1
    )

    # Completed: nothing more changes.
    with pytest.raises(DomainError, match="collection_completed"):
        await collections.complete(session, coord, lot.id, FEES, 7, TZ)
    with pytest.raises(DomainError, match="collection_completed"):
        await collections.record_weight(session, coord, lot.id, third)
    with pytest.raises(DomainError, match="collection_completed"):
        await collections.set_collection(session, coord, lot.id, "Elsewhere", WHEN, T0)
    assert await collections.awaiting_collection(session, coord) == []


async def test_the_invoice_is_itemised_by_village(
    session: AsyncSession, market: Market, villages: list[Village]
) -> None:
    lot = await sold(session, market)
    rows = await reports(session, lot.id)
    # A lot spanning two villages: the second farmer's coffee came from Nankang.
    moved = await session.get(HarvestReport, rows[2].report_id)
    assert moved is not None
    moved.village_id = villages[1].id
    await collections.set_collection(session, market.coord, lot.id, "Station", WHEN, T0)
    for row in rows:
        await collections.record_weight(session, market.coord, lot.id, row.report_id)
    done = await collections.complete(session, market.coord, lot.id, FEES, 7, TZ)
    await session.commit()
    (invoice,) = await notices(session, "invoice")
    lines = invoice.payload["villages"]
    assert [(line["village"], line["grams"]) for line in lines] == [
        ("Conggang", 500_000),
        ("Nankang", 600_000),
    ]
    assert sum(line["fen"] for line in lines) == done.invoice_fen


async def test_only_coordinators_collect(session: AsyncSession, market: Market) -> None:
    lot = await sold(session, market)
    await collections.set_collection(session, market.coord, lot.id, "Station", WHEN, T0)
    await session.commit()
    (report, *_) = await reports(session, lot.id)
    for someone in (market.farmers[0], market.merchants[0]):
        with pytest.raises(DomainError, match="not_allowed"):
            await collections.set_collection(session, someone, lot.id, "Mine", WHEN, T0)
        with pytest.raises(DomainError, match="not_allowed"):
            await collections.record_weight(session, someone, lot.id, report.report_id)
        with pytest.raises(DomainError, match="not_allowed"):
            await collections.complete(session, someone, lot.id, FEES, 7, TZ)
        with pytest.raises(DomainError, match="not_allowed"):
            await collections.awaiting_collection(session, someone)
    lot_id = lot.id
    await session.rollback()
    assert (await reports(session, lot_id))[0].weighed_grams is None


# --- Two coordinators completing at once -------------------------------------------------------


@pytest.fixture
async def race(database_url: str) -> AsyncIterator[RaceMarket]:
    m = await build_market(database_url, merchants=2, coordinators=2)
    try:
        yield m
    finally:
        await m.engine.dispose()


async def test_two_coordinators_completing_at_once_complete_once(race: RaceMarket) -> None:
    lot_id = await race.open_lot(closes_in=timedelta(hours=1))
    assert isinstance(await race.bid(race.merchant_ids[0], lot_id, price=2000), Placed)
    async with race.maker() as s, s.begin():
        coord = await race.user(s, race.coordinator_ids[0])
        await lots.close_early(s, coord, lot_id, ACCEPT)
        later = datetime.now(UTC) + timedelta(days=1)
        await collections.set_collection(s, coord, lot_id, "Station", later)
        for row in await reports(s, lot_id):
            await collections.record_weight(s, coord, lot_id, row.report_id)
    requests = LockRequests(race.engine, expected=2, on_postgres=lot_row_lock)

    async def complete(coordinator_id: int) -> str:
        async with race.maker() as s:
            me = await race.user(s, coordinator_id)
            try:
                await collections.complete(s, me, lot_id, FEES, 7, TZ)
                await requests.all_asked()
            except DomainError as exc:
                await s.rollback()
                return exc.reason
            await s.commit()
            return "completed"

    results = await asyncio.gather(*(complete(c) for c in race.coordinator_ids))
    assert sorted(results) == ["collection_completed", "completed"]
    async with race.maker() as s:
        assert await s.scalar(select(func.count()).select_from(Payout)) == 6
        assert len(list(await s.scalars(select(Notice).where(Notice.kind == "invoice")))) == 1
        assert (
            await s.scalar(
                select(func.count()).where(AuditEntry.action == AuditAction.COLLECTION_COMPLETE)
            )
            == 1
        )
        await s.commit()
