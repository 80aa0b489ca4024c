"""Migrations build the schema the models describe, and go down and up again cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot import migrate
from bot.db import make_engine
from bot.models import Base
from tests.conftest import pg_scratch_database

T = TypeVar("T")


def _inspect(url: str, fn: Callable[[Connection], T]) -> T:
    async def run() -> T:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _schema_diff(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _roundtrip(url: str) -> None:
    migrate.upgrade(url)
    assert _inspect(url, _schema_diff) == []
    assert set(Base.metadata.tables) <= _inspect(url, _tables)
    migrate.downgrade(url, "base")
    assert _inspect(url, _tables) <= {"alembic_version"}
    migrate.upgrade(url)
    assert _inspect(url, _schema_diff) == []


def test_sqlite_migrations(tmp_path: Path) -> None:
    _roundtrip(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")


def test_postgres_migrations() -> None:
    with pg_scratch_database("farmgate_migrations") as url:
        _roundtrip(url)
