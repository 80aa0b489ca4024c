"""bot/sqlite_driver.py: statements on the event loop's thread, the write lock awaited.

The loop must keep running while a transaction waits for the write lock, whether another
session of this process holds it or another connection (the notice writer's thread, another
process) does; a wait that outlasts the busy time fails as SQLite's "database is locked";
the lock is given back however a transaction ends.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import sqlite_driver
from bot.db import make_engine, make_sessionmaker

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/driver.db", pool_size=4)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine
    await engine.dispose()


async def _still_waiting_as_the_loop_runs(waiting: asyncio.Task[int]) -> asyncio.Task[None]:
    """Once the event loop has turned a few times more (a loop blocked inside SQLite turns
    not at all, and the wait below then times out), `waiting` is not done; returns the task
    counting the turns."""
    ticks: list[int] = []
    turned = asyncio.Event()

    async def count() -> None:
        while not waiting.done():
            ticks.append(1)
            if len(ticks) > 5:
                turned.set()
            await asyncio.sleep(0.001)

    counting = asyncio.create_task(count())
    await asyncio.wait_for(turned.wait(), timeout=5)
    assert not waiting.done()
    assert len(ticks) > 5
    return counting


async def test_a_second_session_waits_its_turn_without_blocking_the_loop(
    engine: AsyncEngine,
) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as first:
        await first.execute(text("INSERT INTO t VALUES (1)"))  # holds the write lock

        async def second() -> int:
            async with sessions() as session, session.begin():
                await session.execute(text("INSERT INTO t VALUES (2)"))
                return int(await session.scalar(text("SELECT count(*) FROM t")) or 0)

        waiting = asyncio.create_task(second())
        counting = await _still_waiting_as_the_loop_runs(waiting)  # behind the first one
        await first.commit()
        assert await asyncio.wait_for(waiting, 5) == 2  # saw the first one's row
        await counting


async def test_another_connection_holding_the_lock_is_waited_for_awaiting(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """A connection outside this event loop (a thread here; another process alike)."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (1)")
        holding.set()
        release.wait(10)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(5)

        async def write() -> int:
            async with make_sessionmaker(engine)() as session, session.begin():
                await session.execute(text("INSERT INTO t VALUES (2)"))
                return int(await session.scalar(text("SELECT count(*) FROM t")) or 0)

        waiting = asyncio.create_task(write())
        counting = await _still_waiting_as_the_loop_runs(waiting)
        release.set()
        assert await asyncio.wait_for(waiting, 5) == 2
        await counting
    finally:
        release.set()
        thread.join(5)


async def test_a_wait_past_the_busy_time_is_database_is_locked(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "BUSY_SECONDS", 0.1)
    sessions = make_sessionmaker(engine)
    async with sessions() as first:
        await first.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(OperationalError, match="database is locked"):
            async with sessions() as second:
                await second.execute(text("INSERT INTO t VALUES (2)"))
        await first.commit()
    # The failed one took nothing with it: the next transaction goes at once.
    async with sessions() as third, third.begin():
        await asyncio.wait_for(third.execute(text("INSERT INTO t VALUES (3)")), 1)


async def test_the_lock_is_given_back_however_a_transaction_ends(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:  # rolled back
        await session.execute(text("INSERT INTO t VALUES (1)"))
        await session.rollback()
    with pytest.raises(RuntimeError):  # an exception in the block: the session rolls back
        async with sessions() as session, session.begin():
            await session.execute(text("INSERT INTO t VALUES (2)"))
            raise RuntimeError
    with pytest.raises(OperationalError):  # a failed statement, then closed
        async with sessions() as session:
            await session.execute(text("INSERT INTO missing VALUES (3)"))
    async with sessions() as session:  # closed with the transaction open
        await session.execute(text("INSERT INTO t VALUES (4)"))
    conn = await engine.connect()  # invalidated (a connection found broken)
    await conn.execute(text("INSERT INTO t VALUES (5)"))
    await conn.invalidate()
    await conn.close()
    async with sessions() as session, session.begin():
        await asyncio.wait_for(session.execute(text("INSERT INTO t VALUES (6)")), 1)
        assert await session.scalar(text("SELECT group_concat(n) FROM t")) == "6"


async def test_a_connection_runs_statements_after_the_first(engine: AsyncEngine) -> None:
    """SQLAlchemy's AsyncConnection takes a call that awaited nothing for a synchronous
    driver's and refuses it: only a transaction's first statement waits (for the lock)."""
    async with engine.connect() as conn, conn.begin():
        await conn.execute(text("INSERT INTO t VALUES (1)"))
        await conn.execute(text("INSERT INTO t VALUES (2)"))
        assert await conn.scalar(text("SELECT count(*) FROM t")) == 2
