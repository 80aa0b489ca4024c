"""SQLAlchemy's aiosqlite driver with one thread hop per statement instead of three or four.

aiosqlite runs each call on its connection's thread and hands the result back to the event
loop: SQLAlchemy's adapter makes a cursor (one hop), executes (one), fetches the rows (one)
and closes the cursor (one). An update's five small statements made about eighteen hops, and
each hop is a wake-up of the other thread and a fight for the interpreter lock: with
sixteen threads (two per pooled connection) they took more of the loop's time than the
statements. This cursor does make, execute, fetch and close in one function on the
connection's thread (aiosqlite's own queue, `Connection._execute`), so a statement is one
hop. Everything else (errors, the pool) is SQLAlchemy's aiosqlite dialect as it is;
`make_engine` passes this module in `module=`.

Transactions take two hops fewer. `bot.db` begins each one with BEGIN IMMEDIATE (the write
lock, before the first read); here that is `defer_begin`, and the BEGIN runs in the same hop
as the transaction's first statement, before it, so the lock is still taken before anything
is read. A rollback or commit with no transaction open on the connection (the pool's
reset-on-return after a commit, a transaction that ran no statement) is answered without a
hop: there is nothing to end.
"""

from __future__ import annotations

import collections
import sqlite3
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

Outcome = tuple[Any, int, int | None, list[Any] | None]


BEGIN = "BEGIN IMMEDIATE"


def _run(
    conn: sqlite3.Connection, operation: str, parameters: Any, many: bool, begin: bool
) -> Outcome:
    cursor = conn.cursor()
    try:
        if begin:
            cursor.execute(BEGIN)
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, parameters if parameters is not None else ())
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A statement and its rows in one call on the connection's thread."""

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
        try:
            return await_(self._hop(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        try:
            return await_(self._hop(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _hop(self, operation: str, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted = cast(OneHopConnection, self._adapt_connection)
        async with adapted._execute_mutex:
            begin, adapted.begin_deferred = adapted.begin_deferred, False
            outcome: Outcome = await connection._execute(
                _run, connection._conn, operation, parameters, many, begin
            )
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows or ())


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("begin_deferred",)
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.begin_deferred = False  # BEGIN IMMEDIATE goes with the next statement

    def defer_begin(self) -> None:
        self.begin_deferred = True

    def _open(self) -> bool:
        """Whether SQLite has a transaction open on this connection (the deferred BEGIN
        dropped: nothing ran in it). Read from the event loop's thread while no call of this
        connection runs on its own (calls on one connection are sequential)."""
        self.begin_deferred = False
        conn = self._connection._connection  # None once closed
        return conn is None or conn.in_transaction

    def rollback(self) -> None:
        if self._open():
            super().rollback()

    def commit(self) -> None:
        if self._open():
            super().commit()


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = super().connect(*arg, **kw)
        return OneHopConnection(self, connection._connection)


def begins_transaction(cursor: Any) -> bool:
    """Whether the statement about to run on `cursor` (a before_cursor_execute event's) also
    runs the deferred BEGIN IMMEDIATE: asks for the write lock."""
    connection = getattr(cursor, "_adapt_connection", None)
    return isinstance(connection, OneHopConnection) and connection.begin_deferred


def dbapi() -> OneHopDbapi:
    return OneHopDbapi(aiosqlite, sqlite3)
