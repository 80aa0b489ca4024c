"""A coordinator's decision on a held price (one that moved more than PRICE_HOLD_PERCENT).

Confirmed, it becomes live, so the reference unless a newer one was set meanwhile: then it is
outdated and rejected instead. Rejected, it is kept for the record only. Decided once: the
price row is locked (PostgreSQL re-reads it after waiting; SQLite has one writer), so of two
coordinators pressing at once the second is told who decided first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import AuditAction, Price, PriceStatus, User, utcnow
from bot.services import audit, prices
from bot.services.access import Actor, require_coordinator
from bot.services.errors import DomainError


@dataclass(frozen=True)
class Decision:
    price: Price
    confirmed: bool  # it is live now
    outdated: bool = False  # confirm was asked, but a newer reference exists: rejected


async def decide(
    session: AsyncSession, actor: Actor, price_id: int, confirm: bool, now: datetime | None = None
) -> Decision:
    """Confirm or reject held price `price_id`. DomainError "price_not_found", or
    "price_decided" with `status`, the decider's `by` name ("" when the feed superseded it),
    `superseded` and `outdated`."""
    now = now or utcnow()
    await require_coordinator(session, actor)
    price = await session.scalar(
        select(Price)
        .where(Price.id == price_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if price is None:
        raise DomainError("price_not_found")
    if price.status != PriceStatus.HELD:
        decider = await session.get(User, price.decided_by) if price.decided_by else None
        raise DomainError(
            "price_decided",
            status=price.status.value,
            by=who(decider) if decider else "",
            superseded=bool(price.details.get("superseded")),
            outdated=bool(price.details.get("outdated")),
        )
    outdated = confirm and await _newer_reference(session, price)
    price.decided_by = actor.id if isinstance(actor, User) else None
    price.decided_at = now
    if confirm and not outdated:
        price.status = PriceStatus.LIVE
        action = AuditAction.PRICE_CONFIRM
    else:
        price.status = PriceStatus.REJECTED
        action = AuditAction.PRICE_REJECT
        if outdated:
            price.details = {**price.details, "outdated": True}
    await audit.record(
        session,
        action,
        actor,
        details={
            "price_id": price.id,
            "key": prices.key_of(price).code,
            "fen_per_kg": price.fen_per_kg,
            "previous_fen": price.previous_fen,
            **({"outdated": True} if outdated else {}),
        },
    )
    return Decision(price, confirmed=price.status == PriceStatus.LIVE, outdated=outdated)


def who(user: User) -> str:
    """How a decision names its coordinator: their name, else their Telegram id."""
    return user.name or user.company or str(user.telegram_id)


async def _newer_reference(session: AsyncSession, price: Price) -> bool:
    """Whether a reference newer than this held price was set while it waited."""
    current = await prices.reference(session, prices.key_of(price))
    if current is None:
        return False
    return (current.observed_at, current.id) > (price.observed_at, price.id)
