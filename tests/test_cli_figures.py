"""`farmgate stats` and `farmgate export DIR` as the operator runs them, on a SQLite file."""

from __future__ import annotations

import asyncio
import csv
import json
import re
from pathlib import Path

import pytest

from bot.db import make_engine, make_sessionmaker
from tests.programme_data import seed
from tests.test_cli import _one_clear_line, farmgate


async def _seed(url: str) -> None:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await seed(session)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One seeded database for the module (the commands only read it, export adds an audit
    entry)."""
    folder = tmp_path_factory.mktemp("cli")
    url = f"sqlite+aiosqlite:///{folder / 'fg.db'}"
    assert farmgate("db", "upgrade", env={"DATABASE_URL": url}, cwd=folder).returncode == 0
    asyncio.run(_seed(url))
    return {"DATABASE_URL": url}


def test_stats_as_json(env: dict[str, str], tmp_path: Path) -> None:
    result = farmgate("stats", "--period", "all", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["span"] == {"period": "all", "start": None, "end": None}
    assert figures["farmers"] == 4
    assert figures["farmers_by_village"][0] == {"village": "Conggang", "farmers": 3}
    assert (figures["sold_grams"], figures["sales_fen"]) == (3_590_000, 7_613_150)
    assert figures["average_fen_per_kg"] == 2121  # 76,131.50 / 3,590 kg = 21.2065...
    assert figures["payouts_paid_fen"] == 500_000


def test_stats_as_text(env: dict[str, str], tmp_path: Path) -> None:
    result = farmgate("stats", "--period", "all", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "period: all"
    assert "farmers registered: 4" in lines
    assert "  Conggang: 3" in lines
    assert "harvest reported: 600 kg (reports: 3)" in lines
    assert "lots: 7 opened, 4 sold, 1 unsold" in lines
    assert "sold: 3590 kg for CNY 76131.50 (CNY 22126.50 of it invoiced)" in lines
    assert "average price: CNY 21.21/kg" in lines
    assert "merchants: 3 approved, 3 active" in lines
    assert "payouts: 1 scheduled (CNY 1005.00), 2 paid (CNY 5000.00)" in lines
    assert "disputed payouts: 3 (open disputes: 1)" in lines
    month = farmgate("stats", "--period", "month", env=env, cwd=tmp_path)
    assert re.fullmatch(
        r"period: month \(\d{4}-\d\d-01 to \d{4}-\d\d-\d\d\)", month.stdout.split("\n")[0]
    )


def test_export_writes_six_files(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = farmgate("export", str(out), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "bids.csv",
        "collections.csv",
        "farmers.csv",
        "harvest_reports.csv",
        "lots.csv",
        "payouts.csv",
    ]
    assert f"{out / 'lots.csv'}\t7 rows" in result.stdout
    with (out / "farmers.csv").open(encoding="utf-8-sig", newline="") as f:
        assert next(r["name"] for r in csv.DictReader(f)) == "李伟"


def test_export_into_a_file_is_one_clear_line(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("")
    _one_clear_line(farmgate("export", str(target), env=env, cwd=tmp_path), "not a directory")
