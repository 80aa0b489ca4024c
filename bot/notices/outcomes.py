"""Recording what became of a notice (its new status, and when its chat may get the next one)
with the cheapest committed write each database allows: on SQLite a sqlite3 connection of the
dispatcher's own, on PostgreSQL one autocommit statement on a kept connection, else (an
in-memory SQLite) a transaction through the engine.

An outcome is written only while the dispatcher still holds the claim it sent under (the
notice claimed, by this worker, with the lease of that claim): a claim that expired and was
returned, or taken by another worker meanwhile, is theirs now, and the late outcome changes
nothing (not the notice, not the recipient's spacing). An expired claim that nobody has
taken back yet is still this worker's: recording the send then is the truth, and refusing it
would only make the notice go out twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Table, and_, create_engine, update
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import StaticPool

from bot.models import Notice, NoticeStatus, User, utcnow


@dataclass(frozen=True)
class Held:
    """One claim: the notice, the worker that claimed it and the lease it was claimed with
    (a new claim, even by the same worker, has a new lease)."""

    notice_id: int
    worker_id: str
    lease_until: datetime

    def condition(self) -> ColumnElement[bool]:
        return and_(
            Notice.id == self.notice_id,
            Notice.status == NoticeStatus.CLAIMED,
            Notice.claimed_by == self.worker_id,
            Notice.lease_until == self.lease_until,
        )


class EngineWriter:
    """Records an outcome in one transaction through the engine (in-memory SQLite)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._lock = asyncio.Lock()  # one connection (in-memory): one transaction at a time

    async def record(
        self, held: Held, values: dict[str, Any], user_id: int, user_next: datetime | None
    ) -> bool:
        async with self._lock, self.engine.begin() as conn:
            result = await conn.execute(update(Notice).where(held.condition()).values(**values))
            if not result.rowcount:
                return False
            if user_next is not None:
                await conn.execute(
                    update(User).where(User.id == user_id).values(next_notice_at=user_next)
                )
        return True

    async def close(self) -> None:
        return None


Statements = list[tuple[str, tuple[Any, ...]]]
T = TypeVar("T")
W = TypeVar("W")


class GroupCommit(Generic[W]):
    """Outcomes that come back while a transaction is being written go together in the next
    one: each is written as soon as the one before lets it, and with sends in flight the
    database commits a few dozen times a second instead of once per message. `write_group`
    writes one group in one transaction and says, per outcome, whether its claim was held."""

    def __init__(self, write_group: Callable[[list[W]], Awaitable[list[bool]]]) -> None:
        self._write_group = write_group
        self._waiting: list[tuple[W, asyncio.Future[bool]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def submit(self, work: W) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(), name="notice-outcomes")
        # Shielded: if the caller is cancelled meanwhile, the write still completes.
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                written = await self._write_group([work for work, _ in group])
            except Exception as exc:
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), held in zip(group, written, strict=True):
                if not future.done():
                    future.set_result(held)

    async def flushed(self) -> None:
        if self._flushing is not None:
            await self._flushing


class PostgresWriter:
    """Records an outcome as one statement (the notice's UPDATE in a WITH, the user's after
    it), on a connection kept for it, outcomes that return together in one transaction: no
    pool checkout per message, and one commit for many (1,000/s drains: 364/s with a
    transaction of two UPDATEs per message, 670/s with one autocommit statement each)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._conn: AsyncConnection | None = None
        self._group: GroupCommit[Any] = GroupCommit(self._write_group)

    async def record(
        self, held: Held, values: dict[str, Any], user_id: int, user_next: datetime | None
    ) -> bool:
        notice = update(Notice).where(held.condition()).values(**values)
        statement: Any = notice
        if user_next is not None:
            written = notice.returning(Notice.id).cte("notice")
            statement = (
                update(User)
                # the recipient's spacing only when the notice's outcome was written
                .where(User.id == user_id, written.select().exists())
                # updated_at given: its onupdate default came out NULL in this form
                .values(next_notice_at=user_next, updated_at=utcnow())
                .add_cte(written)
            )
        return await self._group.submit(statement)

    async def _write_group(self, group: list[Any]) -> list[bool]:
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = await self.engine.connect()
            try:
                async with self._conn.begin():
                    return [bool((await self._conn.execute(st)).rowcount) for st in group]
            except DBAPIError as exc:
                # A connection lost meanwhile (a database restart): once more on a new one;
                # the statements set values, so running them twice changes nothing.
                await self._close_connection()
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        return []

    async def _close_connection(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        await self._group.flushed()
        await self._close_connection()


class SqliteWriter:
    """Records outcomes through a sqlite3 connection of its own, on a thread of its own.

    The same UPDATEs as EngineWriter in one thread hop instead of the ten or so of an
    aiosqlite transaction through SQLAlchemy (0.1 ms instead of 1 ms a message). Outcomes
    that come back while a transaction is being written go together in the next one (a group
    commit): each is written as soon as the one before lets it, and with sends in flight
    SQLite commits a few dozen times a second instead of once per message. Values go through
    the columns' SQLAlchemy bind processors, so they are stored exactly as the ORM stores
    them (enum values, datetime text).
    """

    def __init__(self, path: str, dialect: Dialect) -> None:
        self.path = path
        self._group: GroupCommit[Statements] = GroupCommit(self._write_group)
        self._sync_engine: Engine | None = None  # SQLAlchemy over the same connection
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="notice-writer")
        self._conn: sqlite3.Connection | None = None  # only used on the executor's thread
        self._processors: dict[tuple[str, str], Callable[[Any], Any] | None] = {}
        for table in (Notice.__table__, User.__table__):
            assert isinstance(table, Table)
            for column in table.columns:
                processor = column.type.dialect_impl(dialect).bind_processor(dialect)
                self._processors[(table.name, column.name)] = processor

    def _param(self, table: str, name: str, value: Any) -> Any:
        processor = self._processors[(table, name)]
        return processor(value) if processor else value

    def _statement(
        self, table: str, values: dict[str, Any], where: dict[str, Any]
    ) -> tuple[str, tuple[Any, ...]]:
        names = sorted(values)
        assignments = ", ".join(f"{name} = ?" for name in names)
        conditions = " AND ".join(f"{name} = ?" for name in where)
        params = [self._param(table, name, values[name]) for name in names]
        params += [self._param(table, name, value) for name, value in where.items()]
        return f"UPDATE {table} SET {assignments} WHERE {conditions}", tuple(params)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA synchronous=NORMAL")
        return self._conn

    def _write(self, outcomes: list[Statements]) -> list[bool]:
        """One transaction; per outcome, the notice's statement first: when it matches no
        row (the claim is lost), the outcome's other statements are not run."""
        conn = self._connection()
        written = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statements in outcomes:
                held = conn.execute(*statements[0]).rowcount > 0
                if held:
                    for sql, params in statements[1:]:
                        conn.execute(sql, params)
                written.append(held)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return written

    async def _write_group(self, group: list[Statements]) -> list[bool]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._write, group)

    async def transact(self, work: Callable[[Connection], T]) -> T:
        """Run `work` (the dispatcher's claims) in a transaction of this writer's connection
        and thread: the claims and the outcomes never wait for each other's lock (SQLite's
        own wait for a busy database sleeps up to 100 ms at a time, and with sends in flight
        they collided every batch), and a claim is one thread hop, not one per statement
        through aiosqlite while the event loop is busy with the sends."""
        loop = asyncio.get_running_loop()
        return await asyncio.shield(loop.run_in_executor(self._executor, self._transact, work))

    def _transact(self, work: Callable[[Connection], T]) -> T:
        if self._sync_engine is None:
            self._sync_engine = create_engine(
                "sqlite://", creator=self._connection, poolclass=StaticPool
            )
        with self._sync_engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        return result

    def _close(self) -> None:
        if self._sync_engine is not None:
            self._sync_engine.dispose()
            self._sync_engine = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def record(
        self, held: Held, values: dict[str, Any], user_id: int, user_next: datetime | None
    ) -> bool:
        claim = {
            "id": held.notice_id,
            "status": NoticeStatus.CLAIMED,
            "claimed_by": held.worker_id,
            "lease_until": held.lease_until,
        }
        statements = [self._statement("notices", values, claim)]
        if user_next is not None:
            statements.append(
                self._statement("users", {"next_notice_at": user_next}, {"id": user_id})
            )
        return await self._group.submit(statements)

    async def close(self) -> None:
        await self._group.flushed()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)


OutcomeWriter = EngineWriter | PostgresWriter | SqliteWriter


def make_writer(engine: AsyncEngine, sqlite_file: str) -> OutcomeWriter:
    """The writer for this database; sqlite_file is the SQLite database file, if any."""
    if sqlite_file:
        return SqliteWriter(sqlite_file, engine.dialect)
    if engine.dialect.name == "postgresql":
        return PostgresWriter(engine)
    return EngineWriter(engine)
