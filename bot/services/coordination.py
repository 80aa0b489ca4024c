"""What coordinators decide about people: approving merchants, promoting and demoting
coordinators (in chat, or through COORDINATOR_IDS at start).

Each decision checks the actor's role, writes its audit entry and its notice to the person
concerned in the same transaction. A notice's de-duplication key names its cause: the
merchant's application for a decision, the audit entry for a change of role."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import AuditAction, CoordinatorVia, MerchantStatus, Role, User, utcnow
from bot.outbox import enqueue
from bot.services import audit
from bot.services.access import CONFIGURATION, Actor, require_coordinator
from bot.services.errors import DomainError, typed_text

MAX_REASON = 500


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


def decision_key(merchant: User) -> str:
    """One decision notice per application: `merchant_decision:<id>:<application>`."""
    return f"merchant_decision:{merchant.id}:{merchant.merchant_application}"


async def approve_merchant(session: AsyncSession, coordinator: Actor, merchant_id: int) -> User:
    """The merchant may bid from now on, and is told so."""
    await require_coordinator(session, coordinator)
    merchant = await pending_merchant(session, merchant_id)
    merchant.merchant_status = MerchantStatus.APPROVED
    merchant.merchant_reject_reason = None
    await audit.record(
        session,
        AuditAction.APPROVE,
        coordinator,
        subject=merchant,
        details={"company": merchant.company, "application": merchant.merchant_application},
    )
    await enqueue(session, merchant.id, "merchant_approved", {}, decision_key(merchant))
    await session.flush()
    return merchant


async def reject_merchant(
    session: AsyncSession, coordinator: Actor, merchant_id: int, reason: str
) -> User:
    """Turned down with a reason the merchant reads; they may apply again (/start)."""
    await require_coordinator(session, coordinator)
    reason = typed_text(" ".join(reason.split()), "reason", MAX_REASON)
    merchant = await pending_merchant(session, merchant_id)
    merchant.merchant_status = MerchantStatus.REJECTED
    merchant.merchant_reject_reason = reason
    await audit.record(
        session,
        AuditAction.REJECT,
        coordinator,
        subject=merchant,
        details={
            "company": merchant.company,
            "application": merchant.merchant_application,
            "reason": reason,
        },
    )
    await enqueue(
        session, merchant.id, "merchant_rejected", {"reason": reason}, decision_key(merchant)
    )
    await session.flush()
    return merchant


def _person(user: User) -> dict[str, object]:
    """How the audit log names a person, as they were called at the time."""
    return {"telegram_id": user.telegram_id, "name": user.name or user.company}


async def make_coordinator(
    session: AsyncSession, user: User, actor: Actor, via: CoordinatorVia
) -> int:
    """Give the role and record who did it; returns the audit entry's id."""
    user.role = Role.COORDINATOR
    user.coordinator_via = via
    user.registered_at = user.registered_at or utcnow()
    await session.flush()
    entry = await audit.record(
        session, AuditAction.PROMOTE, actor, subject=user, details=_person(user)
    )
    return entry.id


async def _step_down(session: AsyncSession, user: User, actor: Actor) -> None:
    """Take the role away: back to merchant or farmer when their details say so, else
    unregistered (/start registers them). They are told through the outbox."""
    if user.merchant_status is not None:
        user.role = Role.MERCHANT
    elif user.phone and user.village_id is not None:
        user.role = Role.FARMER
    else:
        user.role = None
        user.registered_at = None
    user.coordinator_via = None
    entry = await audit.record(
        session, AuditAction.DEMOTE, actor, subject=user, details=_person(user)
    )
    await enqueue(session, user.id, "demoted", {}, f"demoted:{user.id}:{entry.id}")
    await session.flush()


async def _locked_user(session: AsyncSession, telegram_id: int) -> User | None:
    return await session.scalar(
        select(User)
        .where(User.telegram_id == telegram_id)
        .with_for_update(of=User)
        .execution_options(populate_existing=True)
    )


async def promote(session: AsyncSession, coordinator: Actor, telegram_id: int) -> User:
    """Make a user who has talked to the bot a coordinator, and tell them."""
    await require_coordinator(session, coordinator)
    user = await _locked_user(session, telegram_id)
    if user is None:
        raise DomainError("user_not_found", telegram_id=telegram_id)
    if user.role == Role.COORDINATOR:
        raise DomainError("already_coordinator", telegram_id=telegram_id)
    entry_id = await make_coordinator(session, user, coordinator, CoordinatorVia.CHAT)
    await enqueue(
        session,
        user.id,
        "promoted",
        {"by": getattr(coordinator, "name", None) or ""},
        f"promoted:{user.id}:{entry_id}",
    )
    await session.flush()
    return user


async def demote(
    session: AsyncSession,
    coordinator: User,
    telegram_id: int,
    configured: Collection[int] = (),
) -> User:
    """Take the coordinator role from someone, and tell them.

    Configured coordinators (`configured`, from COORDINATOR_IDS) are refused: the operator
    removes them there. Nobody steps down as the last coordinator. Every coordinator row is
    locked first (in id order), so two demotions at once cannot leave nobody in charge."""
    everyone = list(
        await session.scalars(
            select(User)
            .where(User.role == Role.COORDINATOR)
            .order_by(User.id)
            .with_for_update(of=User)
            .execution_options(populate_existing=True)
        )
    )
    if coordinator.id not in {u.id for u in everyone}:
        raise DomainError("not_allowed")
    user = next((u for u in everyone if u.telegram_id == telegram_id), None)
    if user is None:
        raise DomainError("not_coordinator", telegram_id=telegram_id)
    if telegram_id in configured:
        raise DomainError("coordinator_configured", telegram_id=telegram_id)
    if len(everyone) == 1:
        raise DomainError("last_coordinator")
    await _step_down(session, user, coordinator)
    return user


async def apply_configured_coordinators(
    session: AsyncSession, configured: Collection[int]
) -> list[User]:
    """At start: users whose ids are configured become coordinators; those who were
    coordinators only because of the configuration and are no longer in it lose the role.
    Returns the ones who lost it (their chat menus need resetting)."""
    rows = await session.scalars(
        select(User)
        .where(
            (
                User.telegram_id.in_(list(configured))
                & (User.role.is_(None) | (User.role != Role.COORDINATOR))
            )
            | ((User.role == Role.COORDINATOR) & (User.coordinator_via == CoordinatorVia.CONFIG))
        )
        .order_by(User.id)
        .with_for_update(of=User)
        .execution_options(populate_existing=True)
    )
    removed = []
    for user in rows:
        if user.telegram_id in configured:
            if user.role != Role.COORDINATOR:
                await make_coordinator(session, user, CONFIGURATION, CoordinatorVia.CONFIG)
        else:
            await _step_down(session, user, CONFIGURATION)
            removed.append(user)
    await session.flush()
    return removed


async def coordinators(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).where(User.role == Role.COORDINATOR)))


async def approved_merchant_ids(session: AsyncSession) -> set[int]:
    """Telegram ids of the approved merchants: their chats get the market's command menu."""
    rows = await session.scalars(
        select(User.telegram_id).where(
            User.role == Role.MERCHANT, User.merchant_status == MerchantStatus.APPROVED
        )
    )
    return set(rows)
