# ruff: noqa: ASYNC109  (bounded waits take their bound as timeout=, like the emulator's)
"""Bounded waits on what the system exposes in its database, for tests that must show that
something happened, or that nothing more will: never a fixed quiet time, which proves nothing
on a slow machine."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Notice, NoticeStatus

POLL_S = 0.05


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10) -> None:
    """Wait until ``check()`` is true, re-checking every 50 ms; AssertionError naming ``what``
    after ``timeout`` seconds. ``check`` must end its transaction (SQLite: BEGIN IMMEDIATE
    holds the write lock)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(POLL_S)


async def undelivered_notices(session: AsyncSession, broadcast_id: int | None = None) -> int:
    """Notices the dispatcher may still send: pending or claimed (of one broadcast if given)."""
    query = select(func.count()).where(
        Notice.status.in_([NoticeStatus.PENDING, NoticeStatus.CLAIMED])
    )
    if broadcast_id is not None:
        query = query.where(Notice.broadcast_id == broadcast_id)
    session.expire_all()
    count = await session.scalar(query)
    await session.commit()
    return int(count or 0)


async def outbox_drained(
    session: AsyncSession, broadcast_id: int | None = None, timeout: float = 15
) -> None:
    """Wait until no notice is pending or claimed: every outcome is recorded (after Telegram
    answered), so nothing more arrives from the outbox."""

    async def drained() -> bool:
        return await undelivered_notices(session, broadcast_id) == 0

    what = "the outbox drained" + (f" for broadcast {broadcast_id}" if broadcast_id else "")
    await eventually(drained, what, timeout)
