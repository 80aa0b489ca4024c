"""Alembic environment: runs migrations on the async engine from settings or the caller."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.db import is_sqlite, make_engine
from bot.models import Base

config = context.config
target_metadata = Base.metadata
# Key of the PostgreSQL advisory lock that serialises migrations (any constant; "farmgate").
MIGRATION_LOCK_KEY = 0x6661726D67617465


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from bot.config import Settings

    return Settings().database_url


def _lock(connection: Connection) -> None:
    """Serialise migrations: processes starting together wait here, then find the schema
    current. The lock opens the transaction every migration runs in (alembic joins a
    transaction begun before `configure`), so it is held until the upgrade commits.

    PostgreSQL: a transaction-level advisory lock. SQLite: the database write lock, which
    `bot.db` takes with BEGIN IMMEDIATE when the transaction begins.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    elif connection.dialect.name == "sqlite" and not connection.in_transaction():
        connection.begin()


def _run(connection: Connection) -> None:
    _lock(connection)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=is_sqlite(_url()),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())
