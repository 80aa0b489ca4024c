"""The durable outbox: services write notices in their own transaction; the notice dispatcher
(bot/notice_dispatcher.py) is the only thing that delivers them to Telegram."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, func, literal, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Notice, NoticeStatus, User, utcnow

# Priorities: lower is claimed sooner, within the same global and per-chat limits. A notice to
# one person caused by their own business (an approval, outbid, won, sold, closing soon) is
# PERSONAL: it must not wait behind the 100,000 notices of an announcement, which are BULK.
PERSONAL = 0
BULK = 10


# session.info key: this transaction wrote a notice, so the dispatcher is woken after the commit.
ENQUEUED = "notices_enqueued"


def enqueued(session: AsyncSession) -> bool:
    """Whether this session wrote a notice (since it began): only then is waking the notice
    dispatcher after its commit worth a claim (a write transaction on SQLite)."""
    return bool(session.info.get(ENQUEUED))


def dialect_insert(session: AsyncSession) -> Any:
    """The INSERT of the session's dialect (PostgreSQL or SQLite): both have ON CONFLICT."""
    bind = session.get_bind()
    return pg_insert if bind.dialect.name == "postgresql" else sqlite_insert


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)


async def enqueue(
    session: AsyncSession,
    recipient_id: int,
    kind: str,
    payload: dict[str, Any],
    dedup_key: str,
    *,
    broadcast_id: int | None = None,
    not_before: datetime | None = None,
    priority: int = PERSONAL,
) -> bool:
    """Add one notice unless its de-duplication key exists already; True when added.
    Personal by default: one notice to one person is about their own business."""
    statement = (
        dialect_insert(session)(Notice)
        .values(
            recipient_id=recipient_id,
            kind=kind,
            payload=payload,
            dedup_key=dedup_key,
            status=NoticeStatus.PENDING,
            broadcast_id=broadcast_id,
            attempts=0,
            priority=priority,
            next_attempt_at=not_before or utcnow(),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["dedup_key"])
    )
    added = _rowcount(await session.execute(statement)) > 0
    if added:
        session.info[ENQUEUED] = True
    return added


async def enqueue_for(
    session: AsyncSession,
    recipients: Select[Any],
    kind: str,
    payload: dict[str, Any],
    dedup_prefix: str,
    *,
    broadcast_id: int | None = None,
    priority: int = BULK,
    not_before: datetime | None = None,
) -> int:
    """One notice per selected user id in a single INSERT ... SELECT (100k rows in well
    under a second on SQLite); returns how many were added. Bulk by default: notices to a
    whole audience go after personal ones."""
    ids = recipients.subquery()
    now = utcnow()
    rows = select(
        ids.c[0],
        literal(kind),
        literal(payload, Notice.__table__.c.payload.type),
        literal(dedup_prefix) + func.cast(ids.c[0], Notice.__table__.c.dedup_key.type),
        literal(NoticeStatus.PENDING.value),
        literal(broadcast_id, Notice.__table__.c.broadcast_id.type),
        literal(0),
        literal(priority, Notice.__table__.c.priority.type),
        literal(not_before or now, Notice.__table__.c.next_attempt_at.type),
        literal(now, Notice.__table__.c.created_at.type),
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
    statement = (
        dialect_insert(session)(Notice)
        .from_select(
            [
                "recipient_id",
                "kind",
                "payload",
                "dedup_key",
                "status",
                "broadcast_id",
                "attempts",
                "priority",
                "next_attempt_at",
                "created_at",
            ],
            rows,
        )
        .on_conflict_do_nothing(index_elements=["dedup_key"])
    )
    added = _rowcount(await session.execute(statement))
    if added:
        session.info[ENQUEUED] = True
    return added


async def mark_blocked(session: AsyncSession, user_id: int) -> int:
    """The user blocked the bot: flag them and drop what was waiting for them."""
    await session.execute(update(User).where(User.id == user_id).values(blocked=True))
    result = await session.execute(
        update(Notice)
        .where(
            Notice.recipient_id == user_id,
            Notice.status.in_([NoticeStatus.PENDING, NoticeStatus.CLAIMED]),
        )
        .values(status=NoticeStatus.DROPPED, last_error="blocked by the user", lease_until=None)
    )
    return _rowcount(result)
