"""The CSV export read back (csv.DictReader) on SQLite and PostgreSQL: headers as
docs/export.md lists them, money as decimal CNY, weights in kg, times in the programme's time
zone; only coordinators (and the operator) export, and each export is in the audit log."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import REPO_ROOT
from bot.models import AuditAction, AuditEntry
from bot.services import exports
from bot.services.access import OPERATOR
from bot.services.errors import DomainError
from tests.programme_data import TZ, Seeded, seed

TABLE = {t.name: t for t in exports.TABLES}


async def read(session: AsyncSession, name: str) -> list[dict[str, str]]:
    data, rows = await exports.table_bytes(session, OPERATOR, TABLE[name], TZ)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the Chinese names right
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    assert tuple(reader.fieldnames or ()) == TABLE[name].columns
    found = list(reader)
    assert len(found) == rows
    return found


def by(rows: list[dict[str, str]], column: str, value: object) -> dict[str, str]:
    (row,) = [r for r in rows if r[column] == str(value)]
    return row


@pytest.fixture
async def data(session: AsyncSession) -> Seeded:
    seeded = await seed(session)
    await session.commit()
    return seeded


async def test_farmers(session: AsyncSession, data: Seeded) -> None:
    rows = await read(session, "farmers")
    assert [r["name"] for r in rows] == ["李伟", 'Wang, "Fang"', "张三", "赵六"]  # registered only
    b = by(rows, "farmer_id", data.users["B"].id)
    assert b == {
        "farmer_id": str(data.users["B"].id),
        "telegram_id": "2",
        "name": 'Wang, "Fang"',
        "phone": "+8613800000002",
        "village": "Conggang",
        "language": "zh",
        "registered_at": "2026-11-01T00:00:00+08:00",
    }


async def test_harvest_reports(session: AsyncSession, data: Seeded) -> None:
    rows = await read(session, "harvest_reports")
    assert len(rows) == 4  # withdrawn ones too, with their status
    r2 = by(rows, "report_id", data.reports["R2"].id)
    assert r2["quantity_kg"] == "50.5"
    assert r2["status"] == "withdrawn"
    assert r2["moisture_percent"] == "11.5"
    assert r2["created_at"] == "2026-11-04T00:00:00+08:00"
    assert by(rows, "report_id", data.reports["R4"].id)["quantity_kg"] == "300"


async def test_lots(session: AsyncSession, data: Seeded) -> None:
    rows = await read(session, "lots")
    l1 = by(rows, "lot_id", data.lots["L1"].id)
    assert l1["quantity_kg"] == "1000.5"
    assert l1["status"] == "sold"
    assert l1["leading_cny_per_kg"] == "22.35"
    assert l1["sale_value_cny"] == "22361.18"  # 22.35 x 1000.5 = 22,361.175, half up
    assert l1["leader_company"] == "M1 咖啡贸易"
    assert l1["reserve_cny_per_kg"] == "20.00" and l1["increment_cny_per_kg"] == "0.10"
    assert l1["closed_at"] == "2026-11-10T00:00:00+08:00"
    l7 = by(rows, "lot_id", data.lots["L7"].id)
    assert l7["closed_at"] == l7["leader_id"] == l7["sale_value_cny"] == ""


async def test_bids(session: AsyncSession, data: Seeded) -> None:
    rows = await read(session, "bids")
    assert len(rows) == 4
    proxy = by(rows, "lot_id", data.lots["L2"].id)
    assert (proxy["price_cny_per_kg"], proxy["maximum_cny_per_kg"]) == ("", "25.00")
    assert proxy["leading_cny_per_kg"] == "22.01"
    assert proxy["company"] == "M1 咖啡贸易"


async def test_collections(session: AsyncSession, data: Seeded) -> None:
    rows = await read(session, "collections")
    done = by(rows, "lot_id", data.lots["L1"].id)
    assert done["weighed_kg"] == "990"
    assert done["invoice_cny"] == "22126.50"
    assert done["price_cny_per_kg"] == "22.35"
    assert done["status"] == "completed"
    assert done["collect_at"] == "2026-11-12T09:00:00+08:00"
    waiting = by(rows, "lot_id", data.lots["L2"].id)
    assert waiting["invoice_cny"] == waiting["completed_at"] == waiting["weighed_kg"] == ""


async def test_payouts(session: AsyncSession, data: Seeded) -> None:
    rows = await read(session, "payouts")
    p1 = by(rows, "payout_id", data.payouts["P1"].id)
    assert p1["weighed_kg"] == "45"
    assert json.loads(p1["fees"]) == {"cooperative": "10.00", "transport": "4.50"}
    assert p1["fees_cny"] == "14.50"
    assert p1["gross_cny"] == "1014.50"
    assert p1["net_cny"] == "1000.00"
    assert p1["correction_cny"] == "5.00"
    assert p1["amount_cny"] == "1005.00"
    assert p1["due_on"] == "2026-11-30"
    assert (p1["status"], p1["paid_at"], p1["reference"]) == ("scheduled", "", "")
    assert (p1["disputes"], p1["disputes_open"]) == ("1", "1")
    p2 = by(rows, "payout_id", data.payouts["P2"].id)
    assert (p2["status"], p2["reference"]) == ("paid", "TX-1")
    assert p2["paid_at"] == "2026-11-15T12:00:00+08:00"
    assert (p2["disputes"], p2["disputes_open"]) == ("1", "0")


async def test_only_coordinators_export(session: AsyncSession, data: Seeded) -> None:
    for who in ("A", "M1"):
        with pytest.raises(DomainError):
            await exports.start_export(session, data.users[who])
        with pytest.raises(DomainError):
            await exports.table_bytes(session, data.users[who], TABLE["farmers"], TZ)
    await exports.start_export(session, data.users["coord"])
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == AuditAction.EXPORT))
    assert entry is not None and entry.actor_id == data.users["coord"].id
    assert len(entry.details["tables"]) == 6


async def test_export_to_a_directory(session: AsyncSession, data: Seeded, tmp_path: Path) -> None:
    written = await exports.export_to_dir(session, OPERATOR, tmp_path / "out", TZ)
    assert [p.name for p, _ in written] == [
        "farmers.csv",
        "harvest_reports.csv",
        "lots.csv",
        "bids.csv",
        "collections.csv",
        "payouts.csv",
    ]
    assert dict((p.name, n) for p, n in written)["lots.csv"] == 7
    with (tmp_path / "out" / "payouts.csv").open(encoding="utf-8-sig", newline="") as f:
        assert len(list(csv.DictReader(f))) == 3


def test_every_column_is_documented() -> None:
    """docs/export.md has a section per file and a row per column, and nothing more."""
    doc = (REPO_ROOT / "docs" / "export.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", doc, flags=re.M)[1:]
    documented: dict[str, set[str]] = {}
    for section in sections:
        title, _, body = section.partition("\n")
        names: set[str] = set()
        for cell in re.findall(r"^\| ([^|]+) \|", body, flags=re.M):
            names |= set(re.findall(r"`([a-z_]+)`", cell))
        documented[title.strip()] = names
    assert set(documented) == {t.filename for t in exports.TABLES}
    for table in exports.TABLES:
        assert documented[table.filename] == set(table.columns), table.filename
