"""Migrations build the schema the models describe, and go down and up again cleanly."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot import migrate
from bot.config import REPO_ROOT
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


# Each process imports everything, then waits until all are ready, so their upgrades start
# together (a file barrier, bounded), and upgrades the database.
_UPGRADE_TOGETHER = """
import sys, time
from pathlib import Path
from bot import migrate
from bot.config import REPO_ROOT
url, barrier, me, count = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
(barrier / me).touch()
deadline = time.monotonic() + 60
while len(list(barrier.iterdir())) < count and time.monotonic() < deadline:
    time.sleep(0.001)
migrate.upgrade(url)
"""


def _upgrade_together(url: str, barrier: Path, count: int = 3) -> None:
    barrier.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _UPGRADE_TOGETHER, url, str(barrier), str(i), str(count)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    outcomes = [(p.wait(timeout=90), p.stderr.read() if p.stderr else "") for p in processes]
    for process in processes:
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
    assert [code for code, _ in outcomes] == [0] * count, "\n".join(err for _, err in outcomes)
    assert _inspect(url, _schema_diff) == []
    heads = _inspect(url, lambda c: MigrationContext.configure(c).get_current_heads())
    assert heads == tuple(ScriptDirectory.from_config(migrate.alembic_config(url)).get_heads())


def test_postgres_upgrades_started_together_all_succeed(tmp_path: Path) -> None:
    with pg_scratch_database("farmgate_migrate_race") as url:
        _upgrade_together(url, tmp_path / "barrier")


def test_sqlite_upgrades_started_together_all_succeed(tmp_path: Path) -> None:
    _upgrade_together(f"sqlite+aiosqlite:///{tmp_path / 'race.db'}", tmp_path / "barrier")


def _existing_reports(conn: Connection) -> None:
    """Reports of two farmers, made before 0004: farmer 1 has three (two at the same moment)."""
    conn.execute(text("INSERT INTO villages (id, name, code) VALUES (1, 'Conggang', 'conggang')"))
    conn.execute(text("INSERT INTO users (id, telegram_id) VALUES (1, 11), (2, 22)"))
    rows = [(1, 1, 1), (2, 2, 2), (3, 1, 3), (4, 1, 3)]
    for report_id, farmer_id, day in rows:
        conn.execute(
            text(
                "INSERT INTO harvest_reports (id, farmer_id, village_id, product, variety, "
                "quantity_g, status, created_at, updated_at) VALUES (:id, :farmer, 1, "
                "'green', 'catimor', 1000, 'submitted', :day, :day)"
            ),
            {"id": report_id, "farmer": farmer_id, "day": datetime(2026, 11, day, 8, tzinfo=UTC)},
        )
    conn.commit()


def _numbers(conn: Connection) -> list[tuple[int, int, str | None]]:
    rows = conn.execute(
        text("SELECT id, farmer_seq, quantity_unit FROM harvest_reports ORDER BY id")
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _numbering(url: str) -> None:
    migrate.upgrade(url, "0003")
    _inspect(url, _existing_reports)
    migrate.upgrade(url)
    assert _inspect(url, _numbers) == [(1, 1, None), (2, 1, None), (3, 2, None), (4, 3, None)]


def test_sqlite_existing_reports_are_numbered_per_farmer(tmp_path: Path) -> None:
    _numbering(f"sqlite+aiosqlite:///{tmp_path / 'numbers.db'}")


def test_postgres_existing_reports_are_numbered_per_farmer() -> None:
    with pg_scratch_database("farmgate_numbers") as url:
        _numbering(url)
