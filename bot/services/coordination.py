"""What coordinators decide about people: approving merchants and promoting coordinators.

Each decision writes its notice to the person concerned in the same transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import MerchantStatus, Role, User, utcnow
from bot.outbox import enqueue
from bot.services.errors import DomainError

MAX_REASON = 500


def require_coordinator(user: User) -> None:
    if user.role != Role.COORDINATOR:
        raise DomainError("not_allowed")


async def pending_merchants(session: AsyncSession) -> list[User]:
    rows = await session.scalars(
        select(User)
        .where(User.role == Role.MERCHANT, User.merchant_status == MerchantStatus.PENDING)
        .order_by(User.registered_at, User.id)
    )
    return list(rows)


async def pending_merchant(session: AsyncSession, merchant_id: int) -> User:
    """A merchant still waiting for a decision; DomainError when decided or unknown.

    The row stays locked until the caller's transaction ends, so two coordinators deciding
    at the same moment cannot both decide (the second one is told it was decided)."""
    merchant = await session.scalar(
        select(User)
        .where(User.id == merchant_id)
        .with_for_update(of=User)
        .execution_options(populate_existing=True)
    )
    if merchant is None or merchant.role != Role.MERCHANT:
        raise DomainError("merchant_not_found")
    if merchant.merchant_status != MerchantStatus.PENDING:
        raise DomainError("merchant_decided", status=str(merchant.merchant_status))
    return merchant


async def approve_merchant(session: AsyncSession, coordinator: User, merchant_id: int) -> User:
    """The merchant may bid from now on, and is told so."""
    require_coordinator(coordinator)
    merchant = await pending_merchant(session, merchant_id)
    merchant.merchant_status = MerchantStatus.APPROVED
    merchant.merchant_reject_reason = None
    await enqueue(
        session,
        merchant.id,
        "merchant_approved",
        {},
        f"merchant_decision:{merchant.id}:{utcnow().isoformat()}",
    )
    await session.flush()
    return merchant


async def reject_merchant(
    session: AsyncSession, coordinator: User, merchant_id: int, reason: str
) -> User:
    require_coordinator(coordinator)
    reason = " ".join(reason.split())
    if not reason:
        raise DomainError("reason_empty")
    if len(reason) > MAX_REASON:
        raise DomainError("reason_too_long", limit=MAX_REASON)
    merchant = await pending_merchant(session, merchant_id)
    merchant.merchant_status = MerchantStatus.REJECTED
    merchant.merchant_reject_reason = reason
    await enqueue(
        session,
        merchant.id,
        "merchant_rejected",
        {"reason": reason},
        f"merchant_decision:{merchant.id}:{utcnow().isoformat()}",
    )
    await session.flush()
    return merchant


async def promote(session: AsyncSession, coordinator: User, telegram_id: int) -> User:
    """Make a user who has talked to the bot a coordinator, and tell them."""
    require_coordinator(coordinator)
    user = await session.scalar(
        select(User)
        .where(User.telegram_id == telegram_id)
        .with_for_update(of=User)
        .execution_options(populate_existing=True)
    )
    if user is None:
        raise DomainError("user_not_found", telegram_id=telegram_id)
    if user.role == Role.COORDINATOR:
        raise DomainError("already_coordinator", telegram_id=telegram_id)
    user.role = Role.COORDINATOR
    user.registered_at = user.registered_at or utcnow()
    await enqueue(
        session,
        user.id,
        "promoted",
        {"by": coordinator.name or ""},
        f"promoted:{user.id}:{utcnow().isoformat()}",
    )
    await session.flush()
    return user


async def coordinators(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).where(User.role == Role.COORDINATOR)))
