"""Harvest reports: the farmer's wizard draft, submission, listing and withdrawal."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import (
    Grade,
    HarvestReport,
    Process,
    Product,
    ReportStatus,
    Role,
    User,
    Variety,
)
from bot.quantity import GRAMS_PER_UNIT, MAX_GRAMS, MIN_GRAMS
from bot.services.errors import DomainError

WITHDRAWABLE = frozenset({ReportStatus.SUBMITTED})  # a report in a lot is being sold


def needs_process(product: Product) -> bool:
    """Fresh cherry is sold before processing, so it has no process to report."""
    return product != Product.CHERRY


def has_bean_facts(product: Product) -> bool:
    """Grade and moisture describe parchment and green beans; fresh cherry has neither."""
    return product != Product.CHERRY


def check_bean_fact(product: str | None, field: str) -> None:
    """Refuse a grade or moisture for fresh cherry (a stale button, a changed product)."""
    if product is not None and not has_bean_facts(Product(product)):
        raise DomainError("cherry_no_bean_facts", field=field)


@dataclass
class HarvestDraft:
    """What the wizard has gathered so far; kept in dialogue state as plain values."""

    product: str | None = None
    process: str | None = None
    variety: str | None = None
    quantity_g: int | None = None
    quantity_unit: str | None = None  # the unit typed: "kg", "jin" or "t"
    moisture_tenths: int | None = None
    grade: str | None = None
    photo_file_id: str | None = None

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> HarvestDraft:
        raw = data.get("draft") or {}
        return cls(**{f.name: raw.get(f.name) for f in fields(cls)})

    def to_state(self) -> dict[str, Any]:
        return {"draft": asdict(self)}

    def missing(self) -> str | None:
        """The first required field not yet answered (wizard order), or None."""
        if self.product is None:
            return "product"
        if self.process is None and needs_process(Product(self.product)):
            return "process"
        if self.variety is None:
            return "variety"
        if self.quantity_g is None:
            return "quantity"
        return None


def _farmer(user: User) -> User:
    if user.role != Role.FARMER or not user.registered or user.village_id is None:
        raise DomainError("not_farmer")
    return user


async def submit_report(session: AsyncSession, user: User, draft: HarvestDraft) -> HarvestReport:
    """Validate a complete draft and store it as the farmer's report at their village."""
    farmer = _farmer(user)
    if draft.missing() is not None:
        raise DomainError("draft_incomplete", field=draft.missing())
    assert draft.product is not None and draft.variety is not None
    assert draft.quantity_g is not None
    try:
        product = Product(draft.product)
        process = Process(draft.process) if draft.process and needs_process(product) else None
        variety = Variety(draft.variety)
        grade = Grade(draft.grade) if draft.grade else None
    except ValueError:
        raise DomainError("draft_invalid") from None
    if not MIN_GRAMS <= draft.quantity_g <= MAX_GRAMS:
        raise DomainError("draft_invalid")
    if draft.quantity_unit is not None and draft.quantity_unit not in GRAMS_PER_UNIT:
        raise DomainError("draft_invalid")
    if not has_bean_facts(product) and (grade is not None or draft.moisture_tenths is not None):
        raise DomainError(
            "cherry_no_bean_facts", field="grade" if grade is not None else "moisture"
        )
    report = HarvestReport(
        farmer_id=farmer.id,
        farmer_seq=await _next_seq(session, farmer),
        village_id=farmer.village_id,
        product=product,
        process=process,
        variety=variety,
        quantity_g=draft.quantity_g,
        quantity_unit=draft.quantity_unit,
        moisture_tenths=draft.moisture_tenths,
        grade=grade,
        photo_file_id=draft.photo_file_id,
        status=ReportStatus.SUBMITTED,
    )
    session.add(report)
    await session.flush()
    await session.refresh(report, ["village"])
    return report


async def _next_seq(session: AsyncSession, farmer: User) -> int:
    """The farmer's next report number. The farmer's row is locked first (PostgreSQL), so two
    reports of one farmer at once are numbered one after the other; (farmer, number) is
    unique in the table besides."""
    await session.execute(select(User.id).where(User.id == farmer.id).with_for_update())
    last = await session.scalar(
        select(func.max(HarvestReport.farmer_seq)).where(HarvestReport.farmer_id == farmer.id)
    )
    return (last or 0) + 1


async def list_reports(session: AsyncSession, user: User, limit: int = 10) -> list[HarvestReport]:
    """The farmer's newest reports first."""
    rows = await session.scalars(
        select(HarvestReport)
        .where(HarvestReport.farmer_id == user.id)
        .order_by(HarvestReport.created_at.desc(), HarvestReport.id.desc())
        .limit(limit)
    )
    return list(rows)


async def get_own_report(session: AsyncSession, user: User, report_id: int) -> HarvestReport:
    report = await session.get(HarvestReport, report_id)
    if report is None or report.farmer_id != user.id:
        raise DomainError("report_not_found")
    return report


async def withdraw_report(session: AsyncSession, user: User, report_id: int) -> HarvestReport:
    """Withdraw a report not yet sold; a sold or already withdrawn one stays as it is.

    The report is read again under its row lock (FOR UPDATE; SQLite holds the write lock): a
    coordinator putting it in a lot at this moment holds that lock, and the withdrawal must
    then see it POOLED and be refused, not overwrite it under the lot."""
    report = await session.scalar(
        select(HarvestReport)
        .where(HarvestReport.id == report_id)
        .with_for_update(of=HarvestReport)
        .execution_options(populate_existing=True)
    )
    if report is None or report.farmer_id != user.id:
        raise DomainError("report_not_found")
    if report.status not in WITHDRAWABLE:
        raise DomainError("report_not_withdrawable", status=report.status.value)
    report.status = ReportStatus.WITHDRAWN
    await session.flush()
    return report
