"""The audit log of coordinator actions: written by each service in the same transaction as
the action, read newest first with /audit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import AuditAction, AuditEntry, AuditVia, User
from bot.services.access import Actor, System, require_coordinator

PAGE = 20


async def record(
    session: AsyncSession,
    action: AuditAction,
    actor: Actor,
    *,
    subject: User | None = None,
    village_id: int | None = None,
    broadcast_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry; flushed, so its id can name the occurrence (a notice's key, say)."""
    entry = AuditEntry(
        via=actor.via if isinstance(actor, System) else AuditVia.CHAT,
        actor_id=None if isinstance(actor, System) else actor.id,
        action=action,
        subject_id=subject.id if subject is not None else None,
        village_id=village_id,
        broadcast_id=broadcast_id,
        details=details or {},
    )
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    more: bool  # older entries exist beyond the last one


async def page(
    session: AsyncSession, viewer: Actor, before: int | None = None, limit: int = PAGE
) -> AuditPage:
    """The newest entries (older than entry `before` when given); coordinators only."""
    await require_coordinator(session, viewer)
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = list(await session.scalars(query))
    return AuditPage(rows[:limit], len(rows) > limit)
