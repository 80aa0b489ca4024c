"""Reference prices and their history over a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Grade, PriceSource, PriceStatus, Product
from bot.services import prices
from bot.services.prices import Key

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
GREEN_AA = Key(Product.GREEN, Grade.AA)
CHERRY = Key(Product.CHERRY)


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
