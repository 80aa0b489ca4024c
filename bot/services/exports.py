"""The programme's data as CSV files, one table a file: what /export sends a coordinator and
`farmgate export DIR` writes. docs/export.md explains every column.

Rows are streamed from the database into the csv writer (never a table in memory as ORM
objects). Money is decimal CNY ("12.34"), weights decimal kilograms ("52.5"), times ISO 8601
in the programme's time zone; files are UTF-8 with a byte-order mark, so Excel shows Chinese
names right."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.auction import GRAMS_PER_KG, lot_value_fen
from bot.models import (
    AuditAction,
    Collection,
    DisputeStatus,
    HarvestReport,
    Lot,
    LotBid,
    LotStatus,
    Payout,
    PayoutDispute,
    Role,
    User,
    Village,
)
from bot.services import audit
from bot.services.access import Actor, require_coordinator

ENCODING = "utf-8-sig"
BATCH = 500  # rows fetched at a time


def cny(fen: int | None) -> str:
    """12.34 yuan from 1234 fen; "" for none. Exact: integer fen, decimal text."""
    if fen is None:
        return ""
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))


def kg(grams: int | None) -> str:
    """52.5 from 52500 grams, 1200 from 1200000: as many decimals as needed, none extra."""
    if grams is None:
        return ""
    value = (Decimal(grams) / GRAMS_PER_KG).normalize()
    return format(value, "f")


def moment(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds") if value is not None else ""


def day(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def text(value: object) -> str:
    if value is None:
        return ""
    return str(getattr(value, "value", value))


Row = Sequence[Any]
Query = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Table:
    """One CSV file: its header and how a database row becomes a CSV row."""

    name: str
    columns: tuple[str, ...]
    query: Callable[[], Query]
    row: Callable[[Row, ZoneInfo], list[str]]

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"


def _farmers() -> Query:
    return (
        select(User, Village.name)
        .outerjoin(Village, Village.id == User.village_id)
        .where(User.role == Role.FARMER, User.registered_at.is_not(None))
        .order_by(User.id)
    )


def _farmer_row(r: Row, tz: ZoneInfo) -> list[str]:
    user, village = r
    return [
        str(user.id),
        str(user.telegram_id),
        text(user.name),
        text(user.phone),
        text(village),
        text(user.language),
        moment(user.registered_at, tz),
    ]


def _reports() -> Query:
    return (
        select(HarvestReport, Village.name)
        .join(Village, Village.id == HarvestReport.village_id)
        .order_by(HarvestReport.id)
    )


def _report_row(r: Row, tz: ZoneInfo) -> list[str]:
    report, village = r
    moisture = report.moisture_tenths
    return [
        str(report.id),
        str(report.farmer_id),
        str(report.farmer_seq),
        text(village),
        text(report.product),
        text(report.process),
        text(report.variety),
        text(report.grade),
        kg(report.quantity_g),
        text(report.quantity_unit),
        str(Decimal(moisture) / 10) if moisture is not None else "",
        text(report.status),
        moment(report.created_at, tz),
    ]


def _lots() -> Query:
    leader = aliased(User)
    return (
        select(Lot, Village.name, leader.company)
        .join(Village, Village.id == Lot.village_id)
        .outerjoin(leader, leader.id == Lot.leader_id)
        .order_by(Lot.id)
    )


def _lot_row(r: Row, tz: ZoneInfo) -> list[str]:
    lot, village, company = r
    sold = lot.status == LotStatus.SOLD and lot.leading_fen is not None
    return [
        str(lot.id),
        text(village),
        text(lot.product),
        text(lot.process),
        text(lot.grade),
        kg(lot.grams),
        str(lot.farmers),
        cny(lot.reserve_fen),
        cny(lot.increment_fen),
        text(lot.status),
        moment(lot.opens_at, tz),
        moment(lot.closes_at, tz),
        moment(lot.closed_at, tz),
        str(lot.bids),
        text(lot.leader_id),
        text(company if lot.leader_id is not None else None),
        cny(lot.leading_fen),
        cny(lot_value_fen(lot.leading_fen, lot.grams)) if sold else "",
    ]


def _bids() -> Query:
    return (
        select(LotBid, User.company).join(User, User.id == LotBid.merchant_id).order_by(LotBid.id)
    )


def _bid_row(r: Row, tz: ZoneInfo) -> list[str]:
    bid, company = r
    return [
        str(bid.id),
        str(bid.lot_id),
        str(bid.merchant_id),
        text(company),
        cny(bid.price_fen),
        cny(bid.maximum_fen),
        cny(bid.leading_fen),
        str(bid.leader_id),
        moment(bid.placed_at, tz),
    ]


def _collections() -> Query:
    return select(Collection).order_by(Collection.lot_id)


def _collection_row(r: Row, tz: ZoneInfo) -> list[str]:
    (c,) = r
    return [
        str(c.lot_id),
        text(c.place),
        moment(c.collect_at, tz),
        text(c.status),
        cny(c.price_fen),
        kg(c.weighed_grams),
        cny(c.invoice_fen),
        moment(c.completed_at, tz),
    ]


def _payouts() -> Query:
    disputes = (
        select(func.count(PayoutDispute.id))
        .where(PayoutDispute.payout_id == Payout.id)
        .scalar_subquery()
    )
    open_disputes = (
        select(func.count(PayoutDispute.id))
        .where(PayoutDispute.payout_id == Payout.id, PayoutDispute.status == DisputeStatus.OPEN)
        .scalar_subquery()
    )
    return (
        select(Payout, User.name, disputes, open_disputes)
        .join(User, User.id == Payout.farmer_id)
        .order_by(Payout.id)
    )


def _payout_row(r: Row, tz: ZoneInfo) -> list[str]:
    payout, name, disputes, open_disputes = r
    fees: dict[str, int] = payout.fees or {}
    return [
        str(payout.id),
        str(payout.lot_id),
        str(payout.report_id),
        str(payout.farmer_id),
        text(name),
        kg(payout.grams),
        cny(payout.price_fen),
        cny(payout.gross_fen),
        json.dumps({k: cny(v) for k, v in sorted(fees.items())}, ensure_ascii=False),
        cny(sum(fees.values())),
        cny(payout.net_fen),
        cny(payout.correction_fen),
        cny(payout.net_fen + payout.correction_fen),
        day(payout.due_on),
        text(payout.status),
        moment(payout.paid_at, tz),
        text(payout.reference),
        str(disputes),
        str(open_disputes),
    ]


TABLES: tuple[Table, ...] = (
    Table(
        "farmers",
        ("farmer_id", "telegram_id", "name", "phone", "village", "language", "registered_at"),
        _farmers,
        _farmer_row,
    ),
    Table(
        "harvest_reports",
        (
            "report_id",
            "farmer_id",
            "farmer_report_no",
            "village",
            "product",
            "process",
            "variety",
            "grade",
            "quantity_kg",
            "unit_typed",
            "moisture_percent",
            "status",
            "created_at",
        ),
        _reports,
        _report_row,
    ),
    Table(
        "lots",
        (
            "lot_id",
            "village",
            "product",
            "process",
            "grade",
            "quantity_kg",
            "farmers",
            "reserve_cny_per_kg",
            "increment_cny_per_kg",
            "status",
            "opens_at",
            "closes_at",
            "closed_at",
            "bids",
            "leader_id",
            "leader_company",
            "leading_cny_per_kg",
            "sale_value_cny",
        ),
        _lots,
        _lot_row,
    ),
    Table(
        "bids",
        (
            "bid_id",
            "lot_id",
            "merchant_id",
            "company",
            "price_cny_per_kg",
            "maximum_cny_per_kg",
            "leading_cny_per_kg",
            "leader_id",
            "placed_at",
        ),
        _bids,
        _bid_row,
    ),
    Table(
        "collections",
        (
            "lot_id",
            "place",
            "collect_at",
            "status",
            "price_cny_per_kg",
            "weighed_kg",
            "invoice_cny",
            "completed_at",
        ),
        _collections,
        _collection_row,
    ),
    Table(
        "payouts",
        (
            "payout_id",
            "lot_id",
            "report_id",
            "farmer_id",
            "farmer_name",
            "weighed_kg",
            "price_cny_per_kg",
            "gross_cny",
            "fees",
            "fees_cny",
            "net_cny",
            "correction_cny",
            "amount_cny",
            "due_on",
            "status",
            "paid_at",
            "reference",
            "disputes",
            "disputes_open",
        ),
        _payouts,
        _payout_row,
    ),
)


async def start_export(session: AsyncSession, actor: Actor) -> None:
    """A coordinator (or the operator) exports everything: allowed, and written to the audit
    log (the files hold farmers' phone numbers)."""
    await require_coordinator(session, actor)
    await audit.record(
        session, AuditAction.EXPORT, actor, details={"tables": [t.name for t in TABLES]}
    )


async def write_table(
    session: AsyncSession, viewer: Actor, table: Table, out: TextIO, tz: ZoneInfo
) -> int:
    """Stream one table into `out` (a text file opened with newline=""); returns the rows."""
    await require_coordinator(session, viewer)
    writer = csv.writer(out)
    writer.writerow(table.columns)
    rows = 0
    result = await session.stream(table.query().execution_options(yield_per=BATCH))
    async for row in result:
        writer.writerow(table.row(row, tz))
        rows += 1
    return rows


async def table_bytes(
    session: AsyncSession, viewer: Actor, table: Table, tz: ZoneInfo
) -> tuple[bytes, int]:
    """One table as the bytes of its CSV file (to send as a document), and its rows."""
    buffer = io.StringIO(newline="")
    rows = await write_table(session, viewer, table, buffer, tz)
    return buffer.getvalue().encode(ENCODING), rows


async def export_to_dir(
    session: AsyncSession, viewer: Actor, directory: Path, tz: ZoneInfo
) -> list[tuple[Path, int]]:
    """Every table into `directory` (created if missing): the files and their rows."""
    await start_export(session, viewer)
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (the operator's command)
    written = []
    for table in TABLES:
        path = directory / table.filename
        with path.open("w", encoding=ENCODING, newline="") as out:
            written.append((path, await write_table(session, viewer, table, out, tz)))
    return written
