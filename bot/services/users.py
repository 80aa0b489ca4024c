"""Users: first contact, language, farmer and merchant registration, profile changes."""

from __future__ import annotations

import re
from collections.abc import Collection

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.contact import parse_contact
from bot.models import CoordinatorVia, MerchantStatus, Role, User, utcnow
from bot.services.access import CONFIGURATION
from bot.services.coordination import make_coordinator
from bot.services.errors import DomainError
from bot.services.villages import get_village

MAX_NAME = 100
MAX_CONTACT = 200
_PHONE_RE = re.compile(r"^\+?[0-9]{5,20}$")


# Built once: every update looks its user up, and a statement built anew each time spent
# longer making its cache key than the database spent answering it.
_BY_TELEGRAM_ID = select(User).where(User.telegram_id == bindparam("telegram_id"))


async def get_user(session: AsyncSession, telegram_id: int) -> User | None:
    return await session.scalar(_BY_TELEGRAM_ID, {"telegram_id": telegram_id})


async def ensure_user(
    session: AsyncSession, telegram_id: int, coordinator_ids: Collection[int] = ()
) -> User:
    """The user for a Telegram id, created on first contact; configured ids are coordinators
    (recorded as such, so removing the id takes the role away at the next start)."""
    return await settle_user(
        session, await get_user(session, telegram_id), telegram_id, coordinator_ids
    )


async def settle_user(
    session: AsyncSession,
    user: User | None,
    telegram_id: int,
    coordinator_ids: Collection[int] = (),
) -> User:
    """`ensure_user` once the row is read (`user`, None when there is none): the update's
    middleware reads it in the same round trip as it records the update id."""
    if user is None:
        user = User(telegram_id=telegram_id)
        session.add(user)
        await session.flush()
    if user.blocked:  # they are talking to the bot, so they can be reached again
        user.blocked = False
    if telegram_id in coordinator_ids and user.role != Role.COORDINATOR:
        await make_coordinator(session, user, CONFIGURATION, CoordinatorVia.CONFIG)
    if user.role == Role.COORDINATOR and user.registered_at is None:
        user.registered_at = utcnow()
    if session.new or session.dirty:  # most updates change nothing here: no flush
        await session.flush()
    return user


async def set_language(session: AsyncSession, user: User, language: str) -> User:
    user.language = language
    await session.flush()
    return user


def clean_name(text: str, limit: int = MAX_NAME) -> str:
    """A person's or company's name: letters required, spaces folded, length bounded."""
    name = " ".join(text.split())
    if not name or not any(ch.isalpha() for ch in name):
        raise DomainError("name_invalid")
    if len(name) > limit:
        raise DomainError("name_too_long", limit=limit)
    return name


def clean_phone(phone: str) -> str:
    digits = re.sub(r"[\s()-]", "", phone)
    if not _PHONE_RE.match(digits):
        raise DomainError("phone_invalid")
    return digits if digits.startswith("+") else "+" + digits


def check_own_contact(sender_id: int, contact_user_id: int | None) -> None:
    """A farmer registers their own phone, not a neighbour's from the address book."""
    if contact_user_id != sender_id:
        raise DomainError("contact_not_own")


async def _check_village(session: AsyncSession, village_id: int) -> None:
    if await get_village(session, village_id) is None:
        raise DomainError("village_unknown")


async def register_farmer(
    session: AsyncSession,
    user: User,
    *,
    name: str,
    phone: str,
    village_id: int,
    price_digest: bool = True,
) -> User:
    """`price_digest`: the daily prices, asked at registration (default yes)."""
    if user.role == Role.COORDINATOR:
        raise DomainError("already_coordinator")
    await _check_village(session, village_id)
    user.role = Role.FARMER
    user.name = clean_name(name)
    user.phone = clean_phone(phone)
    user.village_id = village_id
    user.price_digest = price_digest
    user.registered_at = user.registered_at or utcnow()
    await session.flush()
    await session.refresh(user, ["village"])
    return user


def may_reapply(user: User) -> bool:
    """A turned-down merchant may apply again with corrected details."""
    return user.role == Role.MERCHANT and user.merchant_status == MerchantStatus.REJECTED


async def register_merchant(
    session: AsyncSession, user: User, *, company: str, contact: str, price_digest: bool = True
) -> User:
    """A merchant waits for a coordinator's approval before they can bid.

    A first application or one after a rejection gets the next application number (the
    decision notice names it); correcting a pending application keeps its number."""
    if user.role == Role.COORDINATOR:
        raise DomainError("already_coordinator")
    if user.role == Role.MERCHANT and user.merchant_status == MerchantStatus.APPROVED:
        raise DomainError("merchant_approved_already")
    user.company = clean_name(company, MAX_CONTACT)
    user.contact = parse_contact(contact).value
    if user.role != Role.MERCHANT or user.merchant_status != MerchantStatus.PENDING:
        user.merchant_application += 1
    user.role = Role.MERCHANT
    user.merchant_status = MerchantStatus.PENDING
    user.price_digest = price_digest
    user.registered_at = user.registered_at or utcnow()
    await session.flush()
    return user


async def update_farmer_profile(
    session: AsyncSession,
    user: User,
    *,
    name: str | None = None,
    phone: str | None = None,
    village_id: int | None = None,
) -> User:
    if user.role != Role.FARMER:
        raise DomainError("not_farmer")
    if name is not None:
        user.name = clean_name(name)
    if phone is not None:
        user.phone = clean_phone(phone)
    if village_id is not None:
        await _check_village(session, village_id)
        user.village_id = village_id
    await session.flush()
    await session.refresh(user, ["village"])
    return user
