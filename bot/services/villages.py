"""Villages (collection points) of the programme and their registration codes."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import AuditAction, Village
from bot.services import audit
from bot.services.access import Actor, require_coordinator
from bot.services.errors import DomainError, typed_text

CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_NAME = 100


def _default_code(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if slug and CODE_RE.match(slug) and len(slug) <= 24:
        return slug
    return secrets.token_hex(3)


def clean_village_name(name: str) -> str:
    return typed_text(" ".join(name.split()), "village_name", MAX_NAME)


async def add_village(
    session: AsyncSession, actor: Actor, name: str, code: str | None = None
) -> Village:
    """Create a village; the code forms its deep link /start v_<code>.

    `actor` is a coordinator in chat or the operator's command line (OPERATOR)."""
    await require_coordinator(session, actor)
    name = clean_village_name(name)
    if code is not None and not CODE_RE.match(code):
        raise DomainError("village_code_invalid")
    exists = await session.scalar(
        select(Village.id).where(func.lower(Village.name) == name.lower())
    )
    if exists is not None:
        raise DomainError("village_exists", name=name)
    code = code or _default_code(name)
    while await session.scalar(select(Village.id).where(Village.code == code)) is not None:
        if code and CODE_RE.match(code) and "-" not in code[-7:]:
            code = f"{code}-{secrets.token_hex(2)}"
        else:
            code = secrets.token_hex(3)
    village = Village(name=name, code=code)
    session.add(village)
    await session.flush()
    await audit.record(
        session,
        AuditAction.VILLAGE_ADD,
        actor,
        village_id=village.id,
        details={"name": village.name, "code": village.code},
    )
    return village


def registration_link(bot_username: str, village: Village) -> str:
    """The deep link that registers a farmer straight into this village (/start v_<code>)."""
    return f"https://t.me/{bot_username}?start=v_{village.code}"


async def list_villages(session: AsyncSession) -> list[Village]:
    return list(await session.scalars(select(Village).order_by(Village.name)))


async def get_village(session: AsyncSession, village_id: int) -> Village | None:
    return await session.get(Village, village_id)


async def village_by_code(session: AsyncSession, code: str) -> Village | None:
    return await session.scalar(select(Village).where(Village.code == code))


async def rename_village(
    session: AsyncSession, actor: Actor, village_id: int, name: str
) -> Village:
    """A new name keeps the code, so printed QR codes and deep links stay valid."""
    await require_coordinator(session, actor)
    village = await get_village(session, village_id)
    if village is None:
        raise DomainError("village_unknown")
    name = clean_village_name(name)
    clash = await session.scalar(
        select(Village.id).where(func.lower(Village.name) == name.lower(), Village.id != village.id)
    )
    if clash is not None:
        raise DomainError("village_exists", name=name)
    old = village.name
    village.name = name
    await audit.record(
        session,
        AuditAction.VILLAGE_RENAME,
        actor,
        village_id=village.id,
        details={"old": old, "name": name},
    )
    await session.flush()
    return village


async def village_counts(session: AsyncSession) -> dict[int, int]:
    """Registered farmers per village."""
    from bot.models import Role, User

    rows = await session.execute(
        select(User.village_id, func.count(User.id))
        .where(User.role == Role.FARMER, User.registered_at.is_not(None))
        .group_by(User.village_id)
    )
    return {vid: int(n) for vid, n in rows.all() if vid is not None}
