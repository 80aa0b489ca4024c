"""Engine and session factory; the one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# The session of the update being handled, so the dialogue-state storage writes in the same
# transaction as the handler (one commit per update; no second SQLite writer to wait for).
current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine; on SQLite every transaction takes the write lock up front.

    SQLite cannot upgrade a read transaction to a write one while another writer is active
    (it fails at once instead of waiting), so transactions start with BEGIN IMMEDIATE and wait
    on busy_timeout; WAL lets readers outside transactions go on meanwhile.
    """
    # Errors name their SQL but never its values (phone numbers, names) in logs.
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        kwargs.setdefault("connect_args", {"timeout": 30})
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
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def rows_affected(result: Any) -> int:
    """How many rows an UPDATE/INSERT/DELETE touched (typed Result hides CursorResult's)."""
    return int(getattr(result, "rowcount", 0) or 0)
