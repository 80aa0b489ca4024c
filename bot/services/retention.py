"""How long finished work is kept: delivered or abandoned notices and handled update ids.

Only rows in a final state are ever deleted: a pending or claimed notice is work still to do
and is kept however old it is. Deletes go in bounded batches, each its own transaction, so a
large backlog never holds SQLite's write lock (or many PostgreSQL row locks) for long.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import rows_affected
from bot.models import Notice, NoticeStatus, ProcessedUpdate

FINAL_NOTICE_STATUSES = (
    NoticeStatus.SENT,
    NoticeStatus.FAILED,
    NoticeStatus.DROPPED,
    NoticeStatus.CANCELLED,
)
BATCH = 5000


async def prune_notices(session: AsyncSession, before: datetime, limit: int = BATCH) -> int:
    """Delete up to `limit` notices that ended before `before`; returns how many.

    A notice ended when it was sent, or at its last attempt (`next_attempt_at`) otherwise.
    """
    ended = (
        select(Notice.id)
        .where(
            Notice.status.in_(FINAL_NOTICE_STATUSES),
            Notice.next_attempt_at < before,
            or_(Notice.sent_at.is_(None), Notice.sent_at < before),
        )
        .limit(limit)
    )
    result = await session.execute(
        delete(Notice).where(Notice.id.in_(ended)).execution_options(synchronize_session=False)
    )
    return rows_affected(result)


async def prune_update_ids(session: AsyncSession, before: datetime, limit: int = BATCH) -> int:
    """Delete up to `limit` handled update ids recorded before `before`; returns how many."""
    old = (
        select(ProcessedUpdate.update_id).where(ProcessedUpdate.processed_at < before).limit(limit)
    )
    result = await session.execute(
        delete(ProcessedUpdate)
        .where(ProcessedUpdate.update_id.in_(old))
        .execution_options(synchronize_session=False)
    )
    return rows_affected(result)
