# ruff: noqa: ASYNC109  (bounded waits take their bound as timeout=, like the emulator's)
"""Bounded waits on what the system exposes in its database, for tests that must show that
something happened, or that nothing more will: never a fixed quiet time, which proves nothing
on a slow machine."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.models import Notice, NoticeStatus
from bot.sqlite_driver import begins_transaction

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


def reads_row(row_id: int) -> Callable[[str, Any], bool]:
    """A PostgreSQL statement that reads a row by this id (SELECT ... WHERE id = row_id)."""

    def matches(statement: str, params: Any) -> bool:
        values = params.values() if isinstance(params, dict) else params or ()
        return statement.startswith("SELECT") and row_id in values

    return matches


class LockRequests:
    """For race tests: the first transaction to take a lock holds it until ``expected``
    sessions (itself included) have asked for it, instead of sleeping and hoping the others
    come in time. On SQLite every transaction asks for the write lock (BEGIN IMMEDIATE); on
    PostgreSQL the statements ``on_postgres(statement, params)`` picks count, e.g.
    ``reads_row(id)``: without the row lock the others would read it unchanged."""

    def __init__(
        self,
        engine: AsyncEngine,
        expected: int,
        on_postgres: Callable[[str, Any], bool],
    ) -> None:
        self.count = 0
        self._expected = expected
        self._asked = asyncio.Event()
        self._sqlite = engine.dialect.name == "sqlite"
        self._on_postgres = on_postgres
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self._sqlite:
            # BEGIN IMMEDIATE, on its own or sent with the transaction's first statement
            asked = statement.startswith("BEGIN IMMEDIATE") or begins_transaction(_cursor)
        else:
            asked = self._on_postgres(statement, params)
        if asked:
            self.count += 1
            if self.count >= self._expected:
                self._asked.set()

    async def all_asked(self, timeout: float = 10) -> None:
        """Return once every session has asked; AssertionError after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._asked.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"only {self.count} of {self._expected} sessions asked for the lock"
            ) from None
