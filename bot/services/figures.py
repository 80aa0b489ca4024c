"""The programme's figures for a period: what coordinators see with /stats and the operator
with `farmgate stats`. Every figure is one SQL aggregate; docs/figures.md defines each one
(which rows, which timestamp puts a row in a period) and this module follows it exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.auction import GRAMS_PER_KG
from bot.models import (
    AuditAction,
    AuditEntry,
    Collection,
    CollectionStatus,
    DisputeStatus,
    HarvestReport,
    Lot,
    LotBid,
    LotStatus,
    MerchantStatus,
    Payout,
    PayoutDispute,
    PayoutStatus,
    ReportStatus,
    Role,
    User,
    Village,
)
from bot.services.access import Actor, require_coordinator
from bot.services.periods import Span


@dataclass(frozen=True)
class VillageFarmers:
    village: str
    farmers: int


@dataclass(frozen=True)
class Figures:
    """Counts, grams and fen for one period (docs/figures.md); never floats."""

    span: Span
    farmers: int  # registered in the period
    farmers_by_village: tuple[VillageFarmers, ...]  # every village, by name
    reports: int  # harvest reports made in the period, withdrawn ones excluded
    reported_grams: int
    lots_opened: int
    lots_sold: int
    lots_unsold: int
    sold_grams: int  # weighed grams of collected lots, lot grams of the others
    merchants_approved: int
    merchants_active: int  # approved merchants who bid in the period
    sales_fen: int  # invoices of collected lots + winning price x grams of the others
    invoiced_fen: int  # the part of sales_fen that is invoiced (completed collections)
    payouts_scheduled: int
    payouts_scheduled_fen: int
    payouts_paid: int
    payouts_paid_fen: int
    payouts_disputed: int  # payouts with at least one dispute
    disputes_open: int

    @property
    def average_fen_per_kg(self) -> int | None:
        """Sales value over kilograms sold (weighted by kg), half up to the fen; None
        when nothing was sold."""
        if self.sold_grams <= 0:
            return None
        return (2 * self.sales_fen * GRAMS_PER_KG + self.sold_grams) // (2 * self.sold_grams)


def in_span(
    column: InstrumentedAttribute[object] | ColumnElement[object], span: Span
) -> ColumnElement[bool]:
    """The period's condition on a timestamp column ([start, end))."""
    conditions: list[ColumnElement[bool]] = [column.is_not(None)]
    if span.start is not None:
        conditions.append(column >= span.start)
    if span.end is not None:
        conditions.append(column < span.end)
    return and_(*conditions)


def lot_value_sql(price_fen: Any, grams: Any) -> ColumnElement[Any]:
    """bot.auction.lot_value_fen in SQL (half up to the fen, integers only) for aggregates;
    tests/test_figures.py checks the two agree."""
    product = 2 * cast(price_fen, BigInteger) * cast(grams, BigInteger) + GRAMS_PER_KG
    return product // (2 * GRAMS_PER_KG)  # integer division on every backend


async def _scalar(session: AsyncSession, query: object) -> int:
    return int(await session.scalar(query) or 0)  # type: ignore[call-overload]


async def figures(session: AsyncSession, viewer: Actor, span: Span) -> Figures:
    """The programme's figures for `span`; coordinators (and the operator) only."""
    await require_coordinator(session, viewer)
    registered = and_(
        User.role == Role.FARMER, in_span(User.registered_at, span), User.village_id == Village.id
    )
    by_village = (
        await session.execute(
            select(Village.name, func.count(User.id))
            .outerjoin(User, registered)
            .group_by(Village.id, Village.name)
            .order_by(Village.name)
        )
    ).all()
    farmers = await _scalar(
        session,
        select(func.count(User.id)).where(
            User.role == Role.FARMER, in_span(User.registered_at, span)
        ),
    )
    reports, reported = (
        await session.execute(
            select(
                func.count(HarvestReport.id), func.coalesce(func.sum(HarvestReport.quantity_g), 0)
            )
            .where(HarvestReport.status != ReportStatus.WITHDRAWN)
            .where(in_span(HarvestReport.created_at, span))
        )
    ).one()
    lots_opened = await _scalar(
        session, select(func.count(Lot.id)).where(in_span(Lot.opens_at, span))
    )
    closed = (
        await session.execute(
            select(Lot.status, func.count(Lot.id))
            .where(Lot.status.in_([LotStatus.SOLD, LotStatus.UNSOLD]))
            .where(in_span(Lot.closed_at, span))
            .group_by(Lot.status)
        )
    ).all()
    by_status = {LotStatus(status): int(n) for status, n in closed}
    collected = Collection.status == CollectionStatus.COMPLETED
    sold_grams, sales, invoiced = (
        await session.execute(
            select(
                func.coalesce(
                    func.sum(case((collected, Collection.weighed_grams), else_=Lot.grams)), 0
                ),
                func.coalesce(
                    func.sum(
                        case(
                            (collected, Collection.invoice_fen),
                            else_=lot_value_sql(Lot.leading_fen, Lot.grams),  # type: ignore[arg-type]
                        )
                    ),
                    0,
                ),
                func.coalesce(func.sum(case((collected, Collection.invoice_fen), else_=0)), 0),
            )
            .select_from(Lot)
            .outerjoin(Collection, Collection.lot_id == Lot.id)
            .where(Lot.status == LotStatus.SOLD, in_span(Lot.closed_at, span))
        )
    ).one()
    approved = and_(User.role == Role.MERCHANT, User.merchant_status == MerchantStatus.APPROVED)
    approved_in_span = approved
    if span.start is not None or span.end is not None:
        approved_in_span = and_(
            approved,
            exists().where(
                AuditEntry.subject_id == User.id,
                AuditEntry.action == AuditAction.APPROVE,
                in_span(AuditEntry.created_at, span),
            ),
        )
    merchants_approved = await _scalar(session, select(func.count(User.id)).where(approved_in_span))
    merchants_active = await _scalar(
        session,
        select(func.count(User.id)).where(
            approved,
            exists().where(LotBid.merchant_id == User.id, in_span(LotBid.placed_at, span)),
        ),
    )
    payouts = (
        await session.execute(
            select(
                Payout.status,
                func.count(Payout.id),
                func.coalesce(func.sum(Payout.net_fen + Payout.correction_fen), 0),
            )
            .where(in_span(Payout.created_at, span))
            .group_by(Payout.status)
        )
    ).all()
    by_payout = {PayoutStatus(status): (int(n), int(fen)) for status, n, fen in payouts}
    disputed, disputes_open = (
        await session.execute(
            select(
                func.count(func.distinct(PayoutDispute.payout_id)),
                func.count(case((PayoutDispute.status == DisputeStatus.OPEN, PayoutDispute.id))),
            )
            .join(Payout, Payout.id == PayoutDispute.payout_id)
            .where(in_span(Payout.created_at, span))
        )
    ).one()
    return Figures(
        span=span,
        farmers=farmers,
        farmers_by_village=tuple(VillageFarmers(name, int(n)) for name, n in by_village),
        reports=int(reports),
        reported_grams=int(reported),
        lots_opened=lots_opened,
        lots_sold=by_status.get(LotStatus.SOLD, 0),
        lots_unsold=by_status.get(LotStatus.UNSOLD, 0),
        sold_grams=int(sold_grams),
        merchants_approved=merchants_approved,
        merchants_active=merchants_active,
        sales_fen=int(sales),
        invoiced_fen=int(invoiced),
        payouts_scheduled=by_payout.get(PayoutStatus.SCHEDULED, (0, 0))[0],
        payouts_scheduled_fen=by_payout.get(PayoutStatus.SCHEDULED, (0, 0))[1],
        payouts_paid=by_payout.get(PayoutStatus.PAID, (0, 0))[0],
        payouts_paid_fen=by_payout.get(PayoutStatus.PAID, (0, 0))[1],
        payouts_disputed=int(disputed),
        disputes_open=int(disputes_open),
    )
