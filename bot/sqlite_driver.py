"""SQLAlchemy's aiosqlite driver, with statements run on the event loop's thread.

aiosqlite runs each call on its connection's thread and hands the result back to the event
loop. For farmgate's statements (a row by its key, a short insert) that hand-over costs far
more than SQLite does: about 0.15 ms of CPU a statement on the 2-core machine (a wake-up of
the other thread, the interpreter lock, a future), against a few microseconds for the
statement. So this driver runs each statement, commit and rollback at once, on the calling
thread; aiosqlite still opens and closes the connections.

A statement run this way blocks the event loop while SQLite works, so nothing may wait
inside SQLite. Transactions begin with BEGIN IMMEDIATE (`bot.db`: the write lock before the
first read); it is sent with the transaction's first statement (`defer_begin`). Before it,
the connection takes its database's `WriterLock` (an asyncio lock, one per database file and
event loop): connections of this process queue there, awaiting, in turn, and meet in SQLite
only when another process or thread (the notice writer, `farmgate export`) holds the lock.
Then SQLite answers "busy" at once (busy_timeout 0) and the BEGIN is tried again after an
asyncio sleep, for up to `BUSY_SECONDS`, as SQLite's own busy handler would have waited.
With the write lock held no other statement of the transaction can be refused for it.
A rollback or commit with no transaction open (the pool's reset-on-return after a commit, a
transaction that ran no statement) does nothing.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
import weakref
from collections.abc import Sequence
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

BEGIN = "BEGIN IMMEDIATE"
# How long a transaction waits for the write lock before "database is locked", as the
# busy_timeout the connections had before (bot.db).
BUSY_SECONDS = 30.0
_RETRY_FIRST_S, _RETRY_MOST_S = 0.001, 0.02


class WriterLock:
    """This process's turn at one database's write lock: FIFO, awaited, bounded."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def acquire(self, within_s: float) -> None:
        try:
            async with asyncio.timeout(within_s):  # no task made, unlike wait_for
                await self._lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None

    def release(self) -> None:
        self._lock.release()


_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, WriterLock]] = (
    weakref.WeakKeyDictionary()
)


def writer_lock(database: str) -> WriterLock:
    """The lock of `database` (a file path) for connections of the running event loop."""
    per_loop = _locks.setdefault(asyncio.get_running_loop(), {})
    lock = per_loop.get(database)
    if lock is None:
        lock = per_loop[database] = WriterLock()
    return lock


def _busy(error: sqlite3.OperationalError) -> bool:
    return error.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


async def _nothing() -> None:
    return None


class InlineCursor(AsyncAdapt_aiosqlite_cursor):
    """A statement and its rows in one call on the event loop's thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:  # no aiosqlite cursor is made
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._run(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        self._run(operation, seq_of_parameters, many=True)

    def _run(self, operation: str, parameters: Any, *, many: bool) -> None:
        adapted = cast(InlineConnection, self._adapt_connection)
        try:
            conn = adapted.sqlite
            if adapted.begin_deferred:
                adapted.begin_deferred = False
                await_(adapted.begin())
            else:
                # SQLAlchemy's AsyncConnection refuses a call that awaited nothing (it takes
                # it for a synchronous driver): one await that does not wait.
                await_(_nothing())
            cursor = conn.cursor()
            try:
                if many:
                    cursor.executemany(operation, parameters)
                else:
                    cursor.execute(operation, parameters if parameters is not None else ())
                self._description = description = cursor.description
                self._rows = collections.deque(cursor.fetchall() if description else ())
                self._rowcount = cursor.rowcount
                self._lastrowid = cursor.lastrowid
            finally:
                cursor.close()
        except Exception as error:
            adapted._handle_exception(error)


class InlineConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_held", "_lock_key", "begin_deferred")
    _cursor_cls = InlineCursor

    def __init__(self, dbapi: Any, connection: Any, database: str) -> None:
        super().__init__(dbapi, connection)
        self.begin_deferred = False  # BEGIN IMMEDIATE goes with the next statement
        self._held: WriterLock | None = None  # its database's, while this connection has it
        # One per file; an in-memory database is this connection's own.
        self._lock_key = database if database not in ("", ":memory:") else f"memory:{id(self)}"

    @property
    def sqlite(self) -> sqlite3.Connection:
        conn = self._connection._connection
        if conn is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return conn

    def defer_begin(self) -> None:
        self.begin_deferred = True

    async def direct(self, sql: str, parameters: Sequence[Any]) -> tuple[list[Any], int]:
        """Run one statement on the SQLite connection itself (bot/direct.py), after the
        deferred BEGIN: its rows and row count."""
        try:
            if self.begin_deferred:
                self.begin_deferred = False
                await self.begin()
            cursor = self.sqlite.execute(sql, parameters)
            try:
                return cursor.fetchall(), cursor.rowcount
            finally:
                cursor.close()
        except Exception as error:
            self._handle_exception(error)
            raise  # not reached: the handler raises

    async def begin(self) -> None:
        """This process's turn, then SQLite's write lock: BEGIN IMMEDIATE, tried again while
        another process or thread holds it."""
        deadline = time.monotonic() + BUSY_SECONDS
        lock = writer_lock(self._lock_key)
        await lock.acquire(BUSY_SECONDS)
        self._held = lock
        pause = _RETRY_FIRST_S
        try:
            while True:
                try:
                    self.sqlite.execute(BEGIN)
                    return
                except sqlite3.OperationalError as error:
                    if not _busy(error) or time.monotonic() + pause > deadline:
                        raise
                await asyncio.sleep(pause)
                pause = min(pause * 2, _RETRY_MOST_S)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        lock, self._held = self._held, None
        if lock is not None:
            lock.release()

    def _end(self, sql: str) -> None:
        self.begin_deferred = False  # nothing ran in it: there is nothing to end
        conn = self._connection._connection  # None once closed
        try:
            if conn is not None and conn.in_transaction:
                conn.execute(sql)
        except Exception as error:
            self._handle_exception(error)
        finally:
            if conn is None or not conn.in_transaction:
                self._release()

    def rollback(self) -> None:
        self._end("ROLLBACK")

    def commit(self) -> None:
        self._end("COMMIT")

    def close(self) -> None:
        self._release()
        super().close()

    def terminate(self) -> None:  # invalidated, or collected unreturned
        self._release()
        super().terminate()


class InlineDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        # Opened on aiosqlite's thread, used on the event loop's.
        kw["check_same_thread"] = False
        connection = super().connect(*arg, **kw)
        database = str(arg[0] if arg else kw.get("database", ""))
        return InlineConnection(self, connection._connection, database)


def begins_transaction(cursor: Any) -> bool:
    """Whether the statement about to run on `cursor` (a before_cursor_execute event's) also
    runs the deferred BEGIN IMMEDIATE: asks for the write lock."""
    connection = getattr(cursor, "_adapt_connection", None)
    return isinstance(connection, InlineConnection) and connection.begin_deferred


def dbapi() -> InlineDbapi:
    return InlineDbapi(aiosqlite, sqlite3)
