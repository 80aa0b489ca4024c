"""Bids: who may bid, placing a bid under the lot's lock, and a merchant's own bids.

The rules themselves are bot/auction.py (apply_bid); this file reads the lot's standing under
its row lock, applies one bid, writes the standing and the bid, and tells an outbid merchant
through the outbox, all in the update's transaction. Bids on one lot are therefore applied one
at a time in commit order, whatever arrives at once: the concurrency tests replay the stored
bids with bot/auction.replay and must find the same standing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot import outbox
from bot.auction import (
    DEFAULT_CONFIRM_ABOVE,
    MAX_FEN_PER_KG,
    Bid,
    Refusal,
    Refused,
    Rules,
    Standing,
    apply_bid,
    lot_value_fen,
    needs_confirmation,
)
from bot.direct import Direct
from bot.models import Lot, LotBid, LotStatus, MerchantStatus, Role, User, Village, utcnow
from bot.services.errors import DomainError
from bot.services.lots import LotView, locked_lot, lot_facts, view_of


def require_bidder(user: User | None) -> User:
    """Only approved merchants bid; everyone else is told why (DomainError reasons)."""
    if user is None or user.role is None:
        raise DomainError("bid_not_registered")
    if user.role == Role.FARMER:
        raise DomainError("bid_farmer")
    if user.role == Role.COORDINATOR:
        raise DomainError("bid_coordinator")
    if user.merchant_status == MerchantStatus.PENDING:
        raise DomainError("bid_pending")
    if user.merchant_status != MerchantStatus.APPROVED:
        raise DomainError("bid_rejected")
    return user


def rules_of(lot: Lot, confirm_above: Decimal = DEFAULT_CONFIRM_ABOVE) -> Rules:
    return Rules(
        reserve=lot.reserve_fen,
        increment=lot.increment_fen,
        confirm_above=confirm_above,
        extension=timedelta(seconds=lot.extension_s),
    )


@dataclass(frozen=True)
class Placed:
    """The bid stands. `leads` is False when another merchant's proxy maximum answered it at
    once; `extended` when it moved the close (soft close)."""

    bid_id: int
    leads: bool
    leading_fen: int
    minimum_fen: int
    closes_at: datetime
    extended: bool


@dataclass(frozen=True)
class ConfirmFirst:
    """Far above the leading price (a likely typo, 96 for 9.6): ask before placing it."""

    price_fen: int
    leading_fen: int | None
    reserve_fen: int


@dataclass(frozen=True)
class NotPlaced:
    """Refused by a rule; `minimum_fen` is the least that would have been accepted."""

    reason: Refusal
    minimum_fen: int | None
    leading_fen: int | None


BidResult = Placed | ConfirmFirst | NotPlaced


async def place_bid(
    session: AsyncSession,
    user: User | None,
    lot_id: int,
    *,
    price_fen: int | None = None,
    maximum_fen: int | None = None,
    confirmed: bool = False,
    confirm_above: Decimal = DEFAULT_CONFIRM_ABOVE,
    now: datetime | None = None,
) -> BidResult:
    """Apply one bid (a typed price, a proxy maximum, or both) to the lot, under its lock.

    Handlers leave `now` unset: the bid is timed once it holds the lot, so one that waited
    behind others is not placed after the close, and bid times follow commit order (the soft
    close and the replay depend on it)."""
    merchant = require_bidder(user)
    if price_fen is None and maximum_fen is None:
        raise DomainError("bid_empty")
    if price_fen is not None and maximum_fen is not None and maximum_fen < price_fen:
        raise DomainError("maximum_below_price")
    # A quick-bid button carries its price: a forged one is refused here, not by the database.
    if any(p is not None and not 0 < p <= MAX_FEN_PER_KG for p in (price_fen, maximum_fen)):
        raise DomainError("bid_out_of_range", maximum_fen=MAX_FEN_PER_KG)
    lot = await locked_lot(session, lot_id)
    now = now or utcnow()
    if lot.status == LotStatus.CANCELLED:
        raise DomainError("lot_cancelled")
    if lot.status != LotStatus.OPEN or lot.closes_at <= now:
        raise DomainError("lot_closed")
    rules = rules_of(lot, confirm_above)
    ceiling = maximum_fen if maximum_fen is not None else price_fen
    assert ceiling is not None
    leads_now = lot.leader_id == merchant.id
    if not confirmed and not leads_now and needs_confirmation(rules, ceiling, lot.leading_fen):
        return ConfirmFirst(ceiling, lot.leading_fen, lot.reserve_fen)
    before = Standing(
        lot.leader_id, lot.leading_fen, lot.leader_ceiling_fen, lot.closes_at, lot.runner_up_fen
    )
    outcome = apply_bid(rules, before, Bid(merchant.id, now, price=price_fen, maximum=maximum_fen))
    if outcome.refused is not None:
        return _not_placed(outcome.refused, lot.leading_fen)
    after = outcome.standing
    assert after.leader is not None and after.price is not None and after.close is not None
    extended = after.close != lot.closes_at
    bid_id = await _record(
        session,
        lot,
        {
            "leader_id": cast(int, after.leader),
            "leading_fen": after.price,
            "leader_ceiling_fen": after.ceiling,
            "runner_up_fen": after.runner_up,
            "closes_at": after.close,
            "bids": lot.bids + 1,
        },
        {
            "lot_id": lot.id,
            "merchant_id": merchant.id,
            "price_fen": price_fen,
            "maximum_fen": maximum_fen,
            "leading_fen": after.price,
            "leader_id": cast(int, after.leader),
            "placed_at": now,
        },
    )
    if before.leader is not None and before.leader != after.leader:
        await outbox.enqueue(
            session,
            cast(int, before.leader),
            "outbid",
            lot_facts(lot)
            | {
                "price_fen": after.price,
                "minimum_fen": after.price + lot.increment_fen,
                "closes_at": lot.closes_at.isoformat(),
            },
            f"outbid:{lot.id}:{bid_id}",
        )
    return Placed(
        bid_id,
        lot.leader_id == merchant.id,
        after.price,
        after.price + lot.increment_fen,
        lot.closes_at,
        extended,
    )


_LOTS = cast(Table, Lot.__table__)
_STANDING = ("leader_id", "leading_fen", "leader_ceiling_fen", "runner_up_fen", "closes_at", "bids")
# Built once: building a statement costs more than running it (bot/middlewares.py).
_SAVE_STANDING = Direct(
    update(_LOTS)
    .where(_LOTS.c.id == bindparam("lot"))
    .values({name: bindparam(f"new_{name}") for name in _STANDING})
)
_RECORD_BID = Direct(insert(cast(Table, LotBid.__table__)).returning(LotBid.__table__.c.id))


async def _record(
    session: AsyncSession, lot: Lot, standing: dict[str, object], bid: dict[str, object]
) -> int:
    """Write the lot's new standing and the bid; returns the bid's id. Two plain statements
    run on the connection directly (bot/direct.py), not the ORM's unit of work (which cost a
    bid more than the rest of its database work): the lot object takes the standing as
    already stored, so nothing of it is flushed again."""
    values = {f"new_{name}": value for name, value in standing.items()}
    await _SAVE_STANDING.rowcount(session, values | {"lot": lot.id})
    ((bid_id,),) = await _RECORD_BID.rows(session, bid)
    for name, value in standing.items():
        set_committed_value(lot, name, value)
    return int(bid_id)


def _not_placed(refused: Refused, leading: int | None) -> NotPlaced:
    return NotPlaced(refused.reason, refused.minimum, leading)


@dataclass(frozen=True)
class MyLot:
    """One lot a merchant bid on, from their side: their best price and maximum, whether they
    lead (or won), and what they owe when they won."""

    lot: LotView
    my_price_fen: int
    my_maximum_fen: int | None
    leading: bool
    owed_fen: int | None


async def my_bids(session: AsyncSession, merchant: User) -> list[MyLot]:
    """The merchant's lots: open ones first (closing soonest), then ended ones, newest first.
    A merchant who leads pays the leading price (their proxy may be above it)."""
    require_bidder(merchant)
    mine = (
        select(
            LotBid.lot_id,
            func.max(func.coalesce(LotBid.price_fen, 0)).label("price"),
            func.max(LotBid.maximum_fen).label("maximum"),
        )
        .where(LotBid.merchant_id == merchant.id)
        .group_by(LotBid.lot_id)
        .subquery()
    )
    rows = await session.execute(
        select(Lot, Village.name, mine.c.price, mine.c.maximum)
        .join(mine, mine.c.lot_id == Lot.id)
        .join(Village, Village.id == Lot.village_id)
    )
    result = []
    for lot, village, price, maximum in rows:
        leading = lot.leader_id == merchant.id
        if leading and lot.leading_fen is not None:
            price = max(price or 0, lot.leading_fen)
        owed = (
            lot_value_fen(lot.leading_fen, lot.grams)
            if leading and lot.status == LotStatus.SOLD and lot.leading_fen is not None
            else None
        )
        result.append(MyLot(view_of(lot, village), int(price or 0), maximum, leading, owed))
    open_first = sorted(
        result,
        key=lambda m: (
            m.lot.status != LotStatus.OPEN,
            m.lot.closes_at.timestamp() * (1 if m.lot.status == LotStatus.OPEN else -1),
        ),
    )
    return open_first
