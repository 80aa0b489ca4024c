"""Collection of a sold lot: where and when, the weighing, and the settlement it ends with.

A coordinator sets the place and time (the merchant and every farmer of the lot are told, and
told again on each change); at the scale they record each report's weighed grams (as
reported, typed, or not delivered), changeable until the collection is completed. Completing
writes the invoice (bot.payouts.settle_lot on the delivered grams: the farmers' gross shares
add up to it, each net + fees to its gross), one scheduled payout per delivered report and
every notice, in one transaction under the lot's row lock, so two coordinators completing at
once complete it once. Services return data; the handlers word it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot import outbox
from bot.models import (
    AuditAction,
    Collection,
    CollectionStatus,
    HarvestReport,
    Lot,
    LotReport,
    LotStatus,
    Payout,
    PayoutStatus,
    ReportStatus,
    User,
    Village,
    utcnow,
)
from bot.payouts import Settlement, settle_lot
from bot.quantity import MAX_GRAMS
from bot.services import audit
from bot.services.access import Actor, require_coordinator
from bot.services.errors import DomainError, typed_text
from bot.services.lots import MAX_ID, locked_lot, lot_facts
from bot.services.payouts import payout_facts

PLACE_LIMIT = 200  # Collection.place


# --- Reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    """One harvest report of the lot at the scale."""

    report_id: int
    farmer_id: int
    farmer: str
    farmer_seq: int  # the farmer's own report number
    village: str
    grams: int  # reported
    weighed_grams: int | None  # None until recorded; 0 when not delivered
    delivered: bool | None

    @property
    def recorded(self) -> bool:
        return self.weighed_grams is not None


@dataclass(frozen=True)
class CollectionView:
    """A sold lot as the coordinator collecting it sees it."""

    lot_id: int
    product: str
    process: str | None
    grade: str | None
    village: str
    merchant: str | None
    merchant_company: str | None
    price_fen: int  # the winning price per kg
    place: str | None  # None: no collection set yet
    collect_at: datetime | None
    status: CollectionStatus | None
    invoice_fen: int | None
    contributions: tuple[Contribution, ...]

    @property
    def reported_grams(self) -> int:
        return sum(c.grams for c in self.contributions)

    @property
    def weighed_grams(self) -> int:
        return sum(c.weighed_grams or 0 for c in self.contributions)

    @property
    def recorded(self) -> int:
        return sum(1 for c in self.contributions if c.recorded)

    @property
    def complete_ready(self) -> bool:
        """Every contribution recorded, the collection set and not completed yet."""
        return self.status == CollectionStatus.SCHEDULED and self.recorded == len(
            self.contributions
        )


def _known(lot_id: int) -> int:
    if not 0 < lot_id <= MAX_ID:
        raise DomainError("no_such_lot")
    return lot_id


async def _contributions(session: AsyncSession, lot_id: int) -> tuple[Contribution, ...]:
    rows = await session.execute(
        select(LotReport, HarvestReport.farmer_seq, User.name, Village.name)
        .join(HarvestReport, HarvestReport.id == LotReport.report_id)
        .join(User, User.id == LotReport.farmer_id)
        .join(Village, Village.id == HarvestReport.village_id)
        .where(LotReport.lot_id == lot_id)
        .order_by(LotReport.report_id)
        .execution_options(populate_existing=True)
    )
    return tuple(
        Contribution(
            report_id=lr.report_id,
            farmer_id=lr.farmer_id,
            farmer=name or "",
            farmer_seq=seq,
            village=village,
            grams=lr.grams,
            weighed_grams=lr.weighed_grams,
            delivered=lr.delivered,
        )
        for lr, seq, name, village in rows
    )


async def _view(session: AsyncSession, lot_id: int) -> CollectionView:
    merchant = aliased(User)
    row = (
        await session.execute(
            select(Lot, Village.name, merchant.name, merchant.company, Collection)
            .join(Village, Village.id == Lot.village_id)
            .outerjoin(merchant, merchant.id == Lot.leader_id)
            .outerjoin(Collection, Collection.lot_id == Lot.id)
            .where(Lot.id == _known(lot_id))
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        raise DomainError("no_such_lot")
    lot, village, name, company, collection = row
    if lot.status != LotStatus.SOLD or lot.leading_fen is None:
        raise DomainError("lot_not_sold", status=lot.status.value)
    return CollectionView(
        lot_id=lot.id,
        product=lot.product.value,
        process=lot.process.value if lot.process else None,
        grade=lot.grade.value if lot.grade else None,
        village=village,
        merchant=name,
        merchant_company=company,
        price_fen=lot.leading_fen,
        place=collection.place if collection else None,
        collect_at=collection.collect_at if collection else None,
        status=collection.status if collection else None,
        invoice_fen=collection.invoice_fen if collection else None,
        contributions=await _contributions(session, lot.id),
    )


async def collection_view(session: AsyncSession, actor: Actor, lot_id: int) -> CollectionView:
    """A sold lot's collection as it stands; coordinators only."""
    await require_coordinator(session, actor)
    return await _view(session, lot_id)


async def awaiting_collection(session: AsyncSession, actor: Actor) -> list[CollectionView]:
    """Sold lots not collected yet (no collection set, or set and being weighed), oldest
    sale first: what /collect lists."""
    await require_coordinator(session, actor)
    ids = await session.scalars(
        select(Lot.id)
        .outerjoin(Collection, Collection.lot_id == Lot.id)
        .where(
            Lot.status == LotStatus.SOLD,
            (Collection.lot_id.is_(None)) | (Collection.status == CollectionStatus.SCHEDULED),
        )
        .order_by(Lot.closed_at, Lot.id)
    )
    return [await _view(session, lot_id) for lot_id in list(ids)]


# --- Place and time -----------------------------------------------------------------------------


def check_place(place: str) -> str:
    """The place as it will be shown: trimmed, not empty, not too long."""
    return typed_text(" ".join(place.split()), "place", PLACE_LIMIT)


async def _sold_lot(session: AsyncSession, lot_id: int) -> Lot:
    lot = await locked_lot(session, lot_id)
    if lot.status != LotStatus.SOLD or lot.leader_id is None or lot.leading_fen is None:
        raise DomainError("lot_not_sold", status=lot.status.value)
    return lot


async def _collection(session: AsyncSession, lot_id: int) -> Collection | None:
    return await session.scalar(
        select(Collection)
        .where(Collection.lot_id == lot_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _farmer_grams(session: AsyncSession, lot_id: int) -> dict[int, int]:
    grams: dict[int, int] = {}
    for farmer_id, g in await session.execute(
        select(LotReport.farmer_id, LotReport.grams).where(LotReport.lot_id == lot_id)
    ):
        grams[farmer_id] = grams.get(farmer_id, 0) + g
    return grams


async def set_collection(
    session: AsyncSession,
    actor: User,
    lot_id: int,
    place: str,
    collect_at: datetime,
    now: datetime | None = None,
) -> CollectionView:
    """Set (or change) where and when a sold lot is collected; the merchant and each farmer
    are told, once per setting (the audit entry's id names it)."""
    now = now or utcnow()
    await require_coordinator(session, actor)
    place = check_place(place)
    if collect_at <= now:
        raise DomainError("schedule_in_past")
    lot = await _sold_lot(session, lot_id)
    collection = await _collection(session, lot.id)
    changed = collection is not None
    if collection is None:
        collection = Collection(
            lot_id=lot.id,
            place=place,
            collect_at=collect_at,
            status=CollectionStatus.SCHEDULED,
            set_by=actor.id,
            set_at=now,
        )
        session.add(collection)
    elif collection.status == CollectionStatus.COMPLETED:
        raise DomainError("collection_completed")
    else:
        collection.place, collection.collect_at = place, collect_at
        collection.set_by, collection.set_at = actor.id, now
    entry = await audit.record(
        session,
        AuditAction.COLLECTION_SET,
        actor,
        village_id=lot.village_id,
        details={"lot_id": lot.id, "place": place, "collect_at": collect_at.isoformat()},
    )
    facts = lot_facts(lot) | {
        "place": place,
        "collect_at": collect_at.isoformat(),
        "changed": changed,
    }
    assert lot.leader_id is not None
    await outbox.enqueue(
        session,
        lot.leader_id,
        "collection_set",
        facts | {"merchant": True, "price_fen": lot.leading_fen},
        f"collection_set:{lot.id}:{entry.id}:{lot.leader_id}",
    )
    for farmer_id, grams in sorted((await _farmer_grams(session, lot.id)).items()):
        await outbox.enqueue(
            session,
            farmer_id,
            "collection_set",
            facts | {"merchant": False, "farmer_grams": grams},
            f"collection_set:{lot.id}:{entry.id}:{farmer_id}",
        )
    await session.flush()
    return await _view(session, lot.id)


# --- Weighing -----------------------------------------------------------------------------------


async def _scheduled(session: AsyncSession, lot_id: int) -> Collection:
    collection = await _collection(session, lot_id)
    if collection is None:
        raise DomainError("collection_not_set")
    if collection.status == CollectionStatus.COMPLETED:
        raise DomainError("collection_completed")
    return collection


def check_weight(grams: int) -> int:
    """A weighed quantity of a delivered report: more than nothing, not absurd."""
    if not 0 < grams <= MAX_GRAMS:
        raise DomainError("bad_weight")
    return grams


async def record_weight(
    session: AsyncSession,
    actor: User,
    lot_id: int,
    report_id: int,
    grams: int | None = None,
    *,
    delivered: bool = True,
    now: datetime | None = None,
) -> Contribution:
    """Record one report's weighed grams: `grams` None takes the reported weight; not
    delivered records 0. A recorded weight may be changed until the collection completes."""
    now = now or utcnow()
    await require_coordinator(session, actor)
    lot = await _sold_lot(session, lot_id)
    await _scheduled(session, lot.id)
    if not 0 < report_id <= MAX_ID:
        raise DomainError("no_such_contribution")
    row = await session.get(LotReport, (lot.id, report_id), populate_existing=True)
    if row is None:
        raise DomainError("no_such_contribution")
    if not delivered:
        row.weighed_grams, row.delivered = 0, False
    else:
        row.weighed_grams = check_weight(row.grams if grams is None else grams)
        row.delivered = True
    row.weighed_at, row.weighed_by = now, actor.id
    await session.flush()
    (found,) = [c for c in await _contributions(session, lot.id) if c.report_id == report_id]
    return found


# --- Completion ---------------------------------------------------------------------------------


def settle(
    price_fen: int, delivered: Sequence[Contribution], fees_percent: Mapping[str, Decimal]
) -> Settlement:
    """The settlement of these delivered contributions at this price, with PAYOUT_FEES (name
    -> percent, in the configured order): what completing writes, and what the coordinator's
    confirmation shows before it."""
    rates = [Decimal(percent) / 100 for percent in fees_percent.values()]
    return settle_lot(price_fen, [c.weighed_grams or 0 for c in delivered], rates)


def village_lines(
    delivered: Sequence[Contribution], settlement: Settlement
) -> list[dict[str, Any]]:
    """The invoice by village: each village's weighed grams and the sum of its farmers'
    gross shares, so the lines add up to the invoice exactly."""
    villages: dict[str, list[int]] = {}
    for c, share in zip(delivered, settlement.shares, strict=True):
        line = villages.setdefault(c.village, [0, 0])
        line[0] += share.grams
        line[1] += share.gross
    return [{"village": v, "grams": g, "fen": f} for v, (g, f) in sorted(villages.items())]


def pay_date(completed_at: datetime, tz: ZoneInfo, days: int) -> date:
    """The pay date: the collection's local date in the programme's zone, plus `days`."""
    return completed_at.astimezone(tz).date() + timedelta(days=days)


@dataclass(frozen=True)
class Completed:
    """What completing a collection settled."""

    lot_id: int
    price_fen: int
    weighed_grams: int
    invoice_fen: int
    payouts: tuple[Payout, ...]
    fee_totals: dict[str, int]
    due_on: date
    not_delivered: int


async def complete(
    session: AsyncSession,
    actor: User,
    lot_id: int,
    fees_percent: Mapping[str, Decimal],
    pay_days: int,
    tz: ZoneInfo,
    now: datetime | None = None,
) -> Completed:
    """Complete a collection whose every contribution is recorded: invoice the merchant for
    the delivered grams, schedule each delivered report's payout, tell everyone. Once: a
    second completion (another coordinator at the same moment) is refused."""
    now = now or utcnow()
    await require_coordinator(session, actor)
    lot = await _sold_lot(session, lot_id)
    collection = await _scheduled(session, lot.id)
    assert lot.leader_id is not None and lot.leading_fen is not None
    contributions = await _contributions(session, lot.id)
    missing = sum(1 for c in contributions if not c.recorded)
    if missing:
        raise DomainError("collection_incomplete", missing=missing)
    delivered = [c for c in contributions if c.delivered]
    names = list(fees_percent)
    settlement = settle(lot.leading_fen, delivered, fees_percent)
    due_on = pay_date(now, tz, pay_days)
    weighed = sum(s.grams for s in settlement.shares)

    collection.status = CollectionStatus.COMPLETED
    collection.price_fen = lot.leading_fen
    collection.weighed_grams = weighed
    collection.invoice_fen = settlement.invoice
    collection.completed_at, collection.completed_by = now, actor.id

    payouts = []
    for c, share in zip(delivered, settlement.shares, strict=True):
        payout = Payout(
            lot_id=lot.id,
            report_id=c.report_id,
            farmer_id=c.farmer_id,
            grams=share.grams,
            price_fen=lot.leading_fen,
            gross_fen=share.gross,
            fees=dict(zip(names, share.fees, strict=True)),
            net_fen=share.net,
            correction_fen=0,
            due_on=due_on,
            status=PayoutStatus.SCHEDULED,
            reminded=False,
            created_at=now,
        )
        session.add(payout)
        payouts.append(payout)
    await session.flush()

    for ids, status in (
        ([c.report_id for c in delivered], ReportStatus.COLLECTED),
        ([c.report_id for c in contributions if not c.delivered], ReportStatus.NOT_DELIVERED),
    ):
        if ids:
            await session.execute(
                update(HarvestReport)
                .where(HarvestReport.id.in_(ids))
                .values(status=status, updated_at=now)
            )

    facts = lot_facts(lot)
    fee_totals = dict(zip(names, settlement.fee_totals, strict=True))
    await outbox.enqueue(
        session,
        lot.leader_id,
        "invoice",
        facts
        | {
            "price_fen": lot.leading_fen,
            "weighed_grams": weighed,
            "invoice_fen": settlement.invoice,
            "villages": village_lines(delivered, settlement),
        },
        f"invoice:{lot.id}",
    )
    for c in contributions:
        await outbox.enqueue(
            session,
            c.farmer_id,
            "weighed",
            facts
            | {
                "report_id": c.report_id,
                "farmer_seq": c.farmer_seq,
                "reported_grams": c.grams,
                "weighed_grams": c.weighed_grams or 0,
                "delivered": bool(c.delivered),
            },
            f"weighed:{lot.id}:{c.report_id}",
        )
    for c, payout in zip(delivered, payouts, strict=True):
        await outbox.enqueue(
            session,
            c.farmer_id,
            "payout_scheduled",
            facts | payout_facts(payout) | {"farmer_seq": c.farmer_seq},
            f"payout-scheduled:{payout.id}",
        )
    await audit.record(
        session,
        AuditAction.COLLECTION_COMPLETE,
        actor,
        village_id=lot.village_id,
        details={
            "lot_id": lot.id,
            "weighed_grams": weighed,
            "invoice_fen": settlement.invoice,
            "payouts": len(payouts),
        },
    )
    return Completed(
        lot.id,
        lot.leading_fen,
        weighed,
        settlement.invoice,
        tuple(payouts),
        fee_totals,
        due_on,
        len(contributions) - len(delivered),
    )
