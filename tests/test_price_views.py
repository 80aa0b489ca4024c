"""What /prices reads besides the board, over a real database (SQLite and PostgreSQL): a
chart's 30 days of history, and the daily digest switched off and on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import PriceSource, Village
from bot.services import price_views, prices, users
from bot.services.errors import DomainError
from tests.test_prices_service import CHERRY, GREEN_AA

NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


async def test_a_chart_starts_with_the_price_in_force_and_keeps_auctions_apart(
    session: AsyncSession,
) -> None:
    old = NOW - timedelta(days=45)
    await prices.record(session, GREEN_AA, 3000, PriceSource.FEED, at=old)
    await prices.record(session, GREEN_AA, 3200, PriceSource.FEED, at=NOW - timedelta(days=40))
    changed = NOW - timedelta(days=10)
    await prices.record(session, GREEN_AA, 3360, PriceSource.COORDINATOR, at=changed)
    # Held (moved too far): not a price anyone is shown, so not drawn.
    await prices.record(
        session,
        GREEN_AA,
        9000,
        PriceSource.FEED,
        at=NOW - timedelta(days=1),
        hold_percent=Decimal(15),
    )
    sold = NOW - timedelta(days=3)
    await prices.record(session, GREEN_AA, 3500, PriceSource.AUCTION, at=sold)
    await prices.record(session, GREEN_AA, 3400, PriceSource.AUCTION, at=NOW - timedelta(days=31))
    await prices.record(session, CHERRY, 550, PriceSource.AUCTION, at=NOW - timedelta(days=2))
    await session.commit()

    green, cherry = await price_views.histories(session, [GREEN_AA, CHERRY], now=NOW, days=30)
    since = NOW - timedelta(days=30)
    assert green.key == GREEN_AA
    assert green.reference == [(since, 3200), (changed, 3360)]
    assert green.auctions == [(sold, 3500)]
    assert (cherry.reference, [fen for _at, fen in cherry.auctions]) == ([], [550])


async def test_the_daily_digest_is_switched_off_and_on(session: AsyncSession) -> None:
    farmer = await users.ensure_user(session, 901)
    with pytest.raises(DomainError) as refused:
        price_views.set_digest(farmer, False)  # not registered: nothing to switch
    assert refused.value.reason == "prices_not_registered"
    village = Village(name="Conggang", code="CG")
    session.add(village)
    await session.flush()
    await users.register_farmer(
        session, farmer, name="Li", phone="13800000000", village_id=village.id
    )
    await session.commit()
    assert farmer.price_digest  # the default

    assert price_views.set_digest(farmer, False) is False
    await session.commit()
    session.expire_all()
    assert (await users.get_user(session, 901)).price_digest is False  # type: ignore[union-attr]
    price_views.set_digest(farmer, True)
    price_views.set_digest(farmer, True)  # pressed twice: still on
    await session.commit()
    session.expire_all()
    assert (await users.get_user(session, 901)).price_digest is True  # type: ignore[union-attr]
