"""Who may do coordinator things: checked by every coordinator service, not only by handlers.

A handler's filter keeps the buttons honest; the service's check is the rule, so a stale
button, a forged callback or a coordinator demoted a moment ago cannot act."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import AuditVia, Role, User
from bot.services.errors import DomainError


@dataclass(frozen=True)
class System:
    """An actor that is no chat user: the operator's command line, or the configuration."""

    via: AuditVia


OPERATOR = System(AuditVia.CLI)
CONFIGURATION = System(AuditVia.CONFIG)
DEADLINE = System(AuditVia.SCHEDULER)

Actor = User | System


async def require_coordinator(session: AsyncSession, actor: Actor) -> None:
    """DomainError("not_allowed") unless the actor is a coordinator now.

    The role is read again from the database, so a demotion committed meanwhile is seen. On
    PostgreSQL the row is held FOR KEY SHARE until the action commits: a demotion (which
    locks coordinator rows FOR UPDATE) waits for it, while the notice dispatcher's updates of
    the same row (next_notice_at) do not."""
    if isinstance(actor, System):
        return
    role = await session.scalar(
        select(User.role).where(User.id == actor.id).with_for_update(read=True, key_share=True)
    )
    if role != Role.COORDINATOR:
        raise DomainError("not_allowed")
