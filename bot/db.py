"""Engine and session factory; the one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from sqlalchemy import QueuePool, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot import sqlite_driver

# The session of the update being handled, so the dialogue-state storage writes in the same
# transaction as the handler (one commit per update; no second SQLite writer to wait for).
current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


# Connections a bot process uses beside updates: the notice dispatcher and the scheduler.
BACKGROUND_CONNECTIONS = 2


def make_engine(url: str, pool_size: int | None = None, **kwargs: Any) -> AsyncEngine:
    """Create the async engine; on SQLite every transaction takes the write lock up front.

    SQLite cannot upgrade a read transaction to a write one while another writer is active
    (it fails at once instead of waiting), so transactions start with BEGIN IMMEDIATE, the wait
    for it awaited in bot/sqlite_driver.py; WAL lets readers outside transactions go on.
    """
    if pool_size is not None and not _in_memory(url):
        # A fixed pool (no overflow): its size is what `database_slots` bounds updates by.
        kwargs.update(pool_size=pool_size, max_overflow=0)
    # Errors name their SQL but never its values (phone numbers, names) in logs.
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        kwargs.setdefault("connect_args", {"timeout": 30})
        if make_url(url).get_driver_name() == "aiosqlite":
            kwargs.setdefault("module", sqlite_driver.dbapi())  # statements on the loop thread
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # Under WAL, NORMAL syncs at checkpoints instead of at every commit: a commit still
            # survives the process being killed (only a power loss or OS crash can undo the
            # newest ones), and the notice dispatcher commits once per message it sends.
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Statements run on the event loop's thread (bot/sqlite_driver.py) must not wait
            # inside SQLite: the driver waits for the write lock itself, awaiting.
            inline = isinstance(dbapi_connection, sqlite_driver.InlineConnection)
            cursor.execute(f"PRAGMA busy_timeout={0 if inline else 30000}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            dbapi_connection = conn.connection.dbapi_connection
            if isinstance(dbapi_connection, sqlite_driver.InlineConnection):
                dbapi_connection.defer_begin()  # sent just before the first statement
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _in_memory(url: str) -> bool:
    return is_sqlite(url) and make_url(url).database in (None, "", ":memory:")


def database_slots(engine: AsyncEngine) -> int:
    """How many updates use the database at once: one connection each, as many as the pool
    holds beside the background work, so none waits for a connection. The replies that
    follow go out with the connection given back (bot/middlewares.py): at Telegram's
    distance an update spends most of its time on them, and more updates than this are
    handled at once (bot/polling.py).
    """
    pool = engine.pool
    size = pool.size() if isinstance(pool, QueuePool) else 1
    return max(1, size - BACKGROUND_CONNECTIONS)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def rows_affected(result: Any) -> int:
    """How many rows an UPDATE/INSERT/DELETE touched (typed Result hides CursorResult's)."""
    return int(getattr(result, "rowcount", 0) or 0)


def kept(session: AsyncSession, key: str) -> Any:
    """What was kept under `key` (session.info) for the session's current transaction; None
    when nothing was, or only for an earlier transaction."""
    entry = session.info.get(key)
    transaction = session.sync_session.get_transaction()
    if entry is None or transaction is None or entry[0] is not transaction:
        return None
    return entry[1]


def keep(session: AsyncSession, key: str, value: Any) -> None:
    """Keep `value` under `key` for the session's current transaction (`kept`): the entry
    holds that transaction, so it is never taken for a later one."""
    session.info[key] = (session.sync_session.get_transaction(), value)
