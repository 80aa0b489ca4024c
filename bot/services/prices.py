"""Reference prices and their history (issue 10; docs/prices.md).

A price is per kg of a product and grade (None: ungraded), in integer fen. The reference of a
product and grade is its newest live price from a coordinator (/setprice) or the feed; a
winning auction price is stored beside them as an observed market price and never becomes
the reference. A new reference that moved more than PRICE_HOLD_PERCENT from the last one is
held: nobody is told until a coordinator confirms it (it becomes live) or rejects it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auction import MAX_FEN_PER_KG
from bot.models import (
    AuditAction,
    Grade,
    HarvestReport,
    Lot,
    LotBid,
    Price,
    PriceSource,
    PriceStatus,
    Product,
    Role,
    User,
    utcnow,
)
from bot.services import audit
from bot.services.access import Actor, System, require_coordinator
from bot.services.errors import DomainError

REFERENCE_SOURCES = (PriceSource.COORDINATOR, PriceSource.FEED)


@dataclass(frozen=True)
class Key:
    """What a price is of: a product and a grade (None: ungraded)."""

    product: Product
    grade: Grade | None = None

    @property
    def code(self) -> str:
        """ "green/AA", "cherry/-": the key in JSON payloads and push records."""
        return f"{self.product.value}/{self.grade.value if self.grade else '-'}"

    @classmethod
    def from_code(cls, code: str) -> Key:
        product, _, grade = code.partition("/")
        return cls(Product(product), None if grade in ("", "-") else Grade(grade))


def key_of(price: Price) -> Key:
    return Key(price.product, price.grade)


def change_percent(old_fen: int | None, new_fen: int) -> Decimal | None:
    """How far `new_fen` moved from `old_fen`, in percent (signed); None without an old price."""
    if not old_fen:
        return None
    return (Decimal(new_fen - old_fen) * 100 / Decimal(old_fen)).quantize(Decimal("0.1"))


def moved_beyond(old_fen: int | None, new_fen: int, percent: Decimal) -> bool:
    """True when the move from `old_fen` is more than `percent` either way."""
    change = change_percent(old_fen, new_fen)
    return change is not None and abs(change) > percent


def is_key(key: Key) -> Any:
    """A WHERE clause for the rows of this product and grade (NULL grade: ungraded)."""
    grade = Price.grade.is_(None) if key.grade is None else Price.grade == key.grade
    return (Price.product == key.product) & grade


async def reference(session: AsyncSession, key: Key) -> Price | None:
    """The reference price of `key`: its newest live price from a coordinator or the feed."""
    return await session.scalar(
        select(Price)
        .where(
            is_key(key),
            Price.status == PriceStatus.LIVE,
            Price.source.in_(REFERENCE_SOURCES),
        )
        .order_by(Price.observed_at.desc(), Price.id.desc())
        .limit(1)
    )


async def references(session: AsyncSession) -> dict[Key, Price]:
    """Every product and grade's reference price, by key."""
    newest = (
        select(
            Price.id,
            func.row_number()
            .over(
                partition_by=(Price.product, Price.grade),
                order_by=(Price.observed_at.desc(), Price.id.desc()),
            )
            .label("n"),
        )
        .where(Price.status == PriceStatus.LIVE, Price.source.in_(REFERENCE_SOURCES))
        .subquery()
    )
    rows = await session.scalars(
        select(Price).join(newest, newest.c.id == Price.id).where(newest.c.n == 1)
    )
    return {key_of(p): p for p in rows}


async def record(
    session: AsyncSession,
    key: Key,
    fen_per_kg: int,
    source: PriceSource,
    *,
    by: int | None = None,
    at: datetime | None = None,
    hold_percent: Decimal | None = None,
    lot_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> Price:
    """Store a price. A reference price (coordinator, feed) remembers the reference it
    replaces, and is HELD instead of live when `hold_percent` is given and it moved more than
    that; an auction price is an observation, always live, never the reference."""
    if fen_per_kg <= 0:
        raise ValueError("a price is positive")
    previous = None
    status = PriceStatus.LIVE
    if source in REFERENCE_SOURCES:
        current = await reference(session, key)
        previous = current.fen_per_kg if current else None
        if hold_percent is not None and moved_beyond(previous, fen_per_kg, hold_percent):
            status = PriceStatus.HELD
    price = Price(
        product=key.product,
        grade=key.grade,
        fen_per_kg=fen_per_kg,
        previous_fen=previous,
        source=source,
        status=status,
        observed_at=at or utcnow(),
        set_by=by,
        lot_id=lot_id,
        details=details or {},
    )
    session.add(price)
    await session.flush()
    return price


async def history(
    session: AsyncSession, key: Key, since: datetime, *, sources: tuple[PriceSource, ...] = ()
) -> list[Price]:
    """Live prices of `key` observed since `since`, oldest first (all sources unless given)."""
    query = select(Price).where(
        is_key(key), Price.status == PriceStatus.LIVE, Price.observed_at >= since
    )
    if sources:
        query = query.where(Price.source.in_(sources))
    return list(await session.scalars(query.order_by(Price.observed_at, Price.id)))


@dataclass(frozen=True)
class Line:
    """One product and grade as a user sees it: the reference now, where it stood at the start
    of the local day (for "change since yesterday") and the latest auction price."""

    key: Key
    fen: int | None
    yesterday_fen: int | None
    auction_fen: int | None
    auction_at: datetime | None

    @property
    def change(self) -> Decimal | None:
        """Percent since yesterday's close, when both are known."""
        return None if self.fen is None else change_percent(self.yesterday_fen, self.fen)


async def user_keys(session: AsyncSession, user: User) -> list[Key]:
    """The products and grades a user deals in: a farmer's reports, a merchant's bids (the
    lots' product and grade). Empty for a coordinator or someone with neither: they see all."""
    dealt = await dealt_keys(session, select(User.id).where(User.id == user.id))
    return sorted(dealt.get(user.id, set()), key=_order)


async def dealt_keys(session: AsyncSession, users: Select[Any]) -> dict[int, set[Key]]:
    """`user_keys` of many users at once (`users` selects their ids): two queries however many
    there are, for the pushes to every subscriber (bot/services/price_pushes.py)."""
    ids = users.subquery()
    farmers = select(HarvestReport.farmer_id, HarvestReport.product, HarvestReport.grade).join(
        User, User.id == HarvestReport.farmer_id
    )
    merchants = (
        select(LotBid.merchant_id, Lot.product, Lot.grade)
        .join(Lot, Lot.id == LotBid.lot_id)
        .join(User, User.id == LotBid.merchant_id)
    )
    found: dict[int, set[Key]] = {}
    for query, role in ((farmers, Role.FARMER), (merchants, Role.MERCHANT)):
        rows = await session.execute(
            query.where(User.role == role, User.id.in_(select(ids.c[0]))).distinct()
        )
        for user_id, product, grade in rows:
            found.setdefault(user_id, set()).add(Key(product, grade))
    return found


def _order(key: Key) -> tuple[int, int]:
    products = list(Product)
    grades: list[Grade | None] = [*Grade, None]
    return products.index(key.product), grades.index(key.grade)


async def reference_before(session: AsyncSession, key: Key, moment: datetime) -> int | None:
    """The reference of `key` in force just before `moment` (fen), if it had one."""
    return await session.scalar(
        select(Price.fen_per_kg)
        .where(
            is_key(key),
            Price.status == PriceStatus.LIVE,
            Price.source.in_(REFERENCE_SOURCES),
            Price.observed_at < moment,
        )
        .order_by(Price.observed_at.desc(), Price.id.desc())
        .limit(1)
    )


async def _latest_auction(session: AsyncSession, key: Key) -> Price | None:
    return await session.scalar(
        select(Price)
        .where(is_key(key), Price.source == PriceSource.AUCTION)
        .order_by(Price.observed_at.desc(), Price.id.desc())
        .limit(1)
    )


async def line(session: AsyncSession, key: Key, *, now: datetime, tz: ZoneInfo) -> Line:
    """`key`'s reference now, at the start of today (local), and its latest auction price."""
    ref = await reference(session, key)
    auction = await _latest_auction(session, key)
    midnight = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)
    return Line(
        key=key,
        fen=ref.fen_per_kg if ref else None,
        yesterday_fen=await reference_before(session, key, midnight),
        auction_fen=auction.fen_per_kg if auction else None,
        auction_at=auction.observed_at if auction else None,
    )


async def board_keys(session: AsyncSession, user: User) -> list[Key]:
    """The keys `user` is shown: those they deal in that have a price, else every priced one."""
    return shown_keys(await user_keys(session, user), await priced_keys(session))


def shown_keys(dealt: Iterable[Key], priced: set[Key]) -> list[Key]:
    """Of the keys a user deals in, those with a price; every priced key when none has one."""
    return sorted({k for k in dealt if k in priced} or priced, key=_order)


async def priced_keys(session: AsyncSession) -> set[Key]:
    """Keys with a live price of any source."""
    rows = await session.execute(
        select(Price.product, Price.grade).where(Price.status == PriceStatus.LIVE).distinct()
    )
    return {Key(p, g) for p, g in rows}


async def board(session: AsyncSession, user: User, *, now: datetime, tz: ZoneInfo) -> list[Line]:
    """Today's prices for `user`'s products and grades (every priced one when they deal in
    none yet), each with the change since the start of today (local) and the latest auction
    price: what /prices shows and the daily digest sends. A digest to many users computes
    `line` once per key and `board_keys` per user."""
    return [await line(session, k, now=now, tz=tz) for k in await board_keys(session, user)]


# --- A coordinator's /setprice ----------------------------------------------------------------


async def current_reference(session: AsyncSession, actor: Actor, key: Key) -> Price | None:
    """The reference a coordinator is about to replace (shown before they confirm); only
    coordinators ask."""
    await require_coordinator(session, actor)
    return await reference(session, key)


async def set_reference(
    session: AsyncSession, actor: Actor, key: Key, fen_per_kg: int, *, at: datetime | None = None
) -> Price:
    """A coordinator's typed price becomes the reference of `key` at once: their confirmation
    was the check, so it is never held. Audited in the same transaction; the Price remembers
    the reference it replaced (`previous_fen`)."""
    await require_coordinator(session, actor)
    if not 0 < fen_per_kg <= MAX_FEN_PER_KG:  # parse_price's limits; a forged button
        raise DomainError("bad_price")
    price = await record(
        session,
        key,
        fen_per_kg,
        PriceSource.COORDINATOR,
        by=None if isinstance(actor, System) else actor.id,
        at=at,
    )
    await audit.record(
        session,
        AuditAction.PRICE_SET,
        actor,
        details={
            "price_id": price.id,
            "key": key.code,
            "fen_per_kg": fen_per_kg,
            "previous_fen": price.previous_fen,
        },
    )
    return price
