"""What /prices reads and changes besides the board (bot/services/prices.board): the history a
chart draws, and a user's daily price digest switched on or off."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import PriceSource, User
from bot.services import prices
from bot.services.errors import DomainError
from bot.services.prices import REFERENCE_SOURCES, Key


@dataclass(frozen=True)
class History:
    """A product and grade over a window: the reference prices (the one in force when the
    window opened first, then each change, oldest first) and the auction prices in it, as
    (observed at, fen per kg)."""

    key: Key
    reference: list[tuple[datetime, int]]
    auctions: list[tuple[datetime, int]]


async def histories(
    session: AsyncSession, keys: Sequence[Key], *, now: datetime, days: int
) -> list[History]:
    """Each key's prices over the last `days` days, for the chart."""
    since = now - timedelta(days=days)
    found = []
    for key in keys:
        before = await prices.reference_before(session, key, since)
        seen = await prices.history(
            session, key, since, sources=(*REFERENCE_SOURCES, PriceSource.AUCTION)
        )
        reference = [(since, before)] if before is not None else []
        reference += [
            (p.observed_at, p.fen_per_kg)
            for p in seen
            if p.source in REFERENCE_SOURCES and p.observed_at <= now
        ]
        auctions = [
            (p.observed_at, p.fen_per_kg)
            for p in seen
            if p.source == PriceSource.AUCTION and p.observed_at <= now
        ]
        found.append(History(key, reference, auctions))
    return found


def set_digest(user: User, on: bool) -> bool:
    """Switch `user`'s daily price digest on or off (pressing the button twice is harmless);
    only registered users have one. Returns the new setting."""
    if not user.registered:
        raise DomainError("prices_not_registered")
    user.price_digest = on
    return on
