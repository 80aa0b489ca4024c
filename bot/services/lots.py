"""Lots: opening auctions on pools, closing them, the seller's acceptance, cancelling.

A lot is whole harvest reports of one pool (bot/lots.py plans them). While a report is in a
lot its status is POOLED; it goes back to the pool (SUBMITTED) when the lot ends without a
sale, and becomes SOLD with the lot. Every ending tells the people concerned through the outbox
in the same transaction. Closing is decided under the lot's row lock (FOR UPDATE on PostgreSQL;
SQLite transactions take the write lock up front), re-reading the row, so two closers, or a
closer and a late bid, settle a lot once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Select, Table, and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot import outbox
from bot.auction import MAX_FEN_PER_KG, lot_value_fen
from bot.db import keep, kept
from bot.direct import Direct, adopt, columns_of
from bot.lots import PoolReport, plan_slices
from bot.models import (
    AuditAction,
    HarvestReport,
    Lot,
    LotBid,
    LotReport,
    LotStatus,
    MerchantStatus,
    PriceSource,
    ReportStatus,
    Role,
    User,
    Village,
    utcnow,
)
from bot.services import audit, prices
from bot.services.access import Actor, System, require_coordinator
from bot.services.errors import DomainError
from bot.services.pools import PoolKey, pool_reports

ENDED = frozenset({LotStatus.SOLD, LotStatus.UNSOLD, LotStatus.REJECTED, LotStatus.CANCELLED})


@dataclass(frozen=True)
class Terms:
    """How a lot is auctioned; prices in fen per kg. `accept_below_fen`: a winning price under
    it waits for a coordinator's acceptance, as does every sale when `confirm_before_sale`."""

    reserve_fen: int
    increment_fen: int
    closes_at: datetime
    extension: timedelta = timedelta(minutes=3)
    confirm_before_sale: bool = False
    accept_below_fen: int | None = None

    def check(self, now: datetime) -> None:
        check_reserve(self.reserve_fen)
        check_increment(self.increment_fen, self.reserve_fen)
        if self.closes_at <= now:
            raise DomainError("close_in_past")
        if self.accept_below_fen is not None:
            check_reserve(self.accept_below_fen)


def check_reserve(reserve_fen: int) -> None:
    """A reserve (or acceptance threshold) is a positive price no coffee exceeds; checked
    while a coordinator types it, and again when the lot opens."""
    if not 0 < reserve_fen <= MAX_FEN_PER_KG:
        raise DomainError("bad_reserve")


def check_increment(increment_fen: int, reserve_fen: int) -> None:
    """The least step between bids: positive and not above the reserve itself."""
    if not 0 < increment_fen <= reserve_fen:
        raise DomainError("bad_increment")


@dataclass(frozen=True)
class PlannedFarmer:
    farmer_id: int
    name: str
    grams: int
    reports: int


@dataclass(frozen=True)
class PlannedLot:
    """One lot of the summary shown before the coordinator confirms."""

    grams: int
    report_ids: tuple[int, ...]
    farmers: tuple[PlannedFarmer, ...]


async def plan(
    session: AsyncSession, actor: Actor, key: PoolKey, target_g: int | None
) -> list[PlannedLot]:
    """The lots a pool would make (None: one lot of the whole pool), with their farmers."""
    await require_coordinator(session, actor)
    if target_g is not None and target_g <= 0:
        raise DomainError("bad_lot_size")
    slices = plan_slices(await pool_reports(session, key), target_g)
    farmer_ids = {r.farmer_id for s in slices for r in s.reports}
    names: dict[int, str | None] = {}
    if farmer_ids:
        rows = await session.execute(select(User.id, User.name).where(User.id.in_(farmer_ids)))
        names = {user_id: name for user_id, name in rows}
    result = []
    for s in slices:
        grams: dict[int, int] = {}
        counts: dict[int, int] = {}
        for r in s.reports:
            grams[r.farmer_id] = grams.get(r.farmer_id, 0) + r.grams
            counts[r.farmer_id] = counts.get(r.farmer_id, 0) + 1
        farmers = tuple(
            PlannedFarmer(f, names.get(f) or "", grams[f], counts[f]) for f in s.farmer_ids
        )
        result.append(PlannedLot(s.grams, tuple(r.id for r in s.reports), farmers))
    return result


async def open_lots(
    session: AsyncSession,
    actor: User,
    key: PoolKey,
    target_g: int | None,
    terms: Terms,
    expected: Sequence[Sequence[int]] | None = None,
    now: datetime | None = None,
) -> list[Lot]:
    """Open one auction per planned lot. `expected` is the plan the coordinator saw (report ids
    per lot): if the pool changed since (a report withdrawn, added, or taken by another
    coordinator's lot) nothing is opened and DomainError("pool_changed") asks them to look again.
    """
    now = now or utcnow()
    await require_coordinator(session, actor)
    terms.check(now)
    if target_g is not None and target_g <= 0:
        raise DomainError("bad_lot_size")
    reports = await _lock_pool(session, key)
    slices = plan_slices(reports, target_g)
    if not slices:
        raise DomainError("pool_empty")
    if expected is not None and [list(x) for x in expected] != [
        [r.id for r in s.reports] for s in slices
    ]:
        raise DomainError("pool_changed")
    moisture = await _moisture(session, [r.id for r in reports])
    lots = []
    for s in slices:
        ids = [r.id for r in s.reports]
        lo = [m for m in (moisture.get(i) for i in ids) if m is not None]
        lot = Lot(
            village_id=key.village_id,
            product=key.product,
            process=key.process,
            grade=key.grade,
            grams=s.grams,
            farmers=len(s.farmer_ids),
            moisture_min_tenths=min(lo) if lo else None,
            moisture_max_tenths=max(lo) if lo else None,
            reserve_fen=terms.reserve_fen,
            increment_fen=terms.increment_fen,
            extension_s=int(terms.extension.total_seconds()),
            confirm_before_sale=terms.confirm_before_sale,
            accept_below_fen=terms.accept_below_fen,
            status=LotStatus.OPEN,
            opens_at=now,
            closes_at=terms.closes_at,
            created_by=actor.id,
            bids=0,
            closing_soon_sent=False,
        )
        session.add(lot)
        await session.flush()
        session.add_all(
            LotReport(lot_id=lot.id, report_id=r.id, farmer_id=r.farmer_id, grams=r.grams)
            for r in s.reports
        )
        await session.execute(
            update(HarvestReport)
            .where(HarvestReport.id.in_(ids))
            .values(status=ReportStatus.POOLED, updated_at=now)
        )
        payload = lot_facts(lot) | {"closes_at": lot.closes_at.isoformat()}
        for farmer_id in s.farmer_ids:
            grams = sum(r.grams for r in s.reports if r.farmer_id == farmer_id)
            await outbox.enqueue(
                session,
                farmer_id,
                "lot_opened",
                payload | {"farmer_grams": grams},
                f"lot_opened:{lot.id}:{farmer_id}",
            )
        await outbox.enqueue_for(
            session,
            select(User.id).where(
                User.role == Role.MERCHANT,
                User.merchant_status == MerchantStatus.APPROVED,
                User.blocked.is_(False),
            ),
            "new_lot",
            payload,
            f"new_lot:{lot.id}:",
            priority=outbox.PERSONAL,  # a handful of merchants, whose business it is
        )
        await audit.record(
            session,
            AuditAction.LOT_OPEN,
            actor,
            village_id=key.village_id,
            details={"lot_id": lot.id, "grams": lot.grams, "reserve_fen": lot.reserve_fen},
        )
        lots.append(lot)
    return lots


async def _lock_pool(session: AsyncSession, key: PoolKey) -> list[PoolReport]:
    """The pool's reports, read and locked in one statement so two coordinators cannot put one
    report in two lots: the second waits, then finds those reports no longer in the pool."""
    return await pool_reports(session, key, lock=True)


async def _moisture(session: AsyncSession, ids: list[int]) -> dict[int, int | None]:
    if not ids:
        return {}
    rows = await session.execute(
        select(HarvestReport.id, HarvestReport.moisture_tenths).where(HarvestReport.id.in_(ids))
    )
    return {report_id: moisture for report_id, moisture in rows}


def lot_facts(lot: Lot) -> dict[str, object]:
    """What every notice about a lot shows (the renderer words it in the reader's language)."""
    return {
        "lot_id": lot.id,
        "product": lot.product.value,
        "process": lot.process.value if lot.process else None,
        "grade": lot.grade.value if lot.grade else None,
        "grams": lot.grams,
    }


# Ids are 32-bit integers in the database; a button's id past them is forged or stale.
MAX_ID = 2**31 - 1


def _known_id(lot_id: int) -> int:
    """DomainError("no_such_lot") for an id no row can have, before PostgreSQL fails on it."""
    if not 0 < lot_id <= MAX_ID:
        raise DomainError("no_such_lot")
    return lot_id


# Built once (a bid's hot path): building a statement costs more than running it. The
# village comes along (its row not locked), so the lot's view after a bid reads nothing more.
# Run on the connection directly, its row made the session's objects (bot/direct.py).
_LOT_COLUMNS, _VILLAGE_COLUMNS = columns_of(Lot), columns_of(Village)
_LOTS_TABLE = cast(Table, Lot.__table__)
_LOCKED_LOT = Direct(
    select(*_LOT_COLUMNS, *_VILLAGE_COLUMNS)
    .join_from(_LOTS_TABLE, cast(Table, Village.__table__), Village.id == Lot.village_id)
    .where(_LOTS_TABLE.c.id == bindparam("lot_id"))
    .with_for_update(of=_LOTS_TABLE)
)


async def locked_lot(session: AsyncSession, lot_id: int) -> Lot:
    """The lot, read again under its row lock (FOR UPDATE; SQLite holds the write lock), so
    what was decided by a transaction that just committed is seen (a copy the session has
    already takes the row's values). Kept with its village for the rest of the transaction
    (`lot_view`)."""
    _known_id(lot_id)
    rows = await _LOCKED_LOT.rows(session, {"lot_id": lot_id})
    if not rows:
        raise DomainError("no_such_lot")
    (row,) = rows
    split = len(_LOT_COLUMNS)
    lot = adopt(session, Lot, row[:split], refresh=True)
    village = adopt(session, Village, row[split:], refresh=True)
    held: dict[int, tuple[Lot, Village]] | None = kept(session, _HELD)
    if held is None:
        held = {}
        keep(session, _HELD, held)
    held[lot.id] = (lot, village)
    return lot


# The lots this session's transaction holds under lock, with their villages (kept for the
# transaction, bot.db.keep). The session keeps
# only weak references to objects it has no change of: without these, a lot written by plain
# statements (a bid's standing) was gone by the time the reply asked for its view.
_HELD = "farmgate.locked_lots"


def _held(session: AsyncSession, lot_id: int) -> tuple[Lot, Village] | None:
    held: dict[int, tuple[Lot, Village]] | None = kept(session, _HELD)
    return None if held is None else held.get(lot_id)


# --- Endings ----------------------------------------------------------------------------------


async def close_lot(
    session: AsyncSession, lot_id: int, now: datetime, acceptance: timedelta
) -> LotStatus | None:
    """Close a lot whose time has come: sold, unsold, or waiting for acceptance. None when it
    was not due or another closer got there first (it is closed once)."""
    lot = await locked_lot(session, lot_id)
    if lot.status != LotStatus.OPEN or lot.closes_at > now:
        return None
    return await _settle(session, lot, now, acceptance)


async def close_early(
    session: AsyncSession,
    actor: User,
    lot_id: int,
    acceptance: timedelta,
    now: datetime | None = None,
) -> LotStatus:
    """A coordinator closes an open lot now; its leading bid (if any) wins as at a close."""
    now = now or utcnow()
    await require_coordinator(session, actor)
    lot = await locked_lot(session, lot_id)
    if lot.status != LotStatus.OPEN:
        raise DomainError("lot_not_open", status=lot.status.value)
    lot.closes_at = min(lot.closes_at, now)  # an overdue lot keeps the close it had
    await audit.record(session, AuditAction.LOT_CLOSE, actor, details={"lot_id": lot.id})
    return await _settle(session, lot, now, acceptance)


async def _settle(
    session: AsyncSession, lot: Lot, now: datetime, acceptance: timedelta
) -> LotStatus:
    lot.closed_at = now
    if lot.leader_id is None or lot.leading_fen is None:
        lot.status = LotStatus.UNSOLD
        await _back_to_pool(session, lot, now, "lot_unsold")
        return lot.status
    if lot.confirm_before_sale or (
        lot.accept_below_fen is not None and lot.leading_fen < lot.accept_below_fen
    ):
        lot.status = LotStatus.AWAITING
        lot.acceptance_due_at = now + acceptance
        facts = _sale_facts(lot) | {"due_at": lot.acceptance_due_at.isoformat()}
        for coordinator in await _coordinators(session):
            await outbox.enqueue(
                session,
                coordinator,
                "acceptance_needed",
                facts,
                f"acceptance:{lot.id}:{coordinator}",
            )
        await outbox.enqueue(
            session, lot.leader_id, "sale_awaiting", facts, f"sale_awaiting:{lot.id}"
        )
        return lot.status
    await _sell(session, lot, now)
    return lot.status


def _sale_facts(lot: Lot) -> dict[str, object]:
    assert lot.leading_fen is not None
    return lot_facts(lot) | {
        "price_fen": lot.leading_fen,
        "total_fen": lot_value_fen(lot.leading_fen, lot.grams),
    }


async def _sell(session: AsyncSession, lot: Lot, now: datetime) -> None:
    assert lot.leader_id is not None and lot.leading_fen is not None
    lot.status = LotStatus.SOLD
    # The winning price is an observed market price (docs/prices.md), never the reference;
    # Price.lot_id is unique, and the lot's row lock makes this run once per lot.
    await prices.record(
        session,
        prices.Key(lot.product, lot.grade),
        lot.leading_fen,
        PriceSource.AUCTION,
        lot_id=lot.id,
        at=now,
    )
    facts = _sale_facts(lot)
    await session.execute(
        update(HarvestReport)
        .where(HarvestReport.id.in_(select(LotReport.report_id).where(LotReport.lot_id == lot.id)))
        .values(status=ReportStatus.SOLD, updated_at=now)
    )
    await outbox.enqueue(session, lot.leader_id, "lot_won", facts, f"lot_won:{lot.id}")
    for merchant in await _bidders(session, lot.id):
        if merchant != lot.leader_id:
            await outbox.enqueue(
                session, merchant, "lot_lost", facts, f"lot_lost:{lot.id}:{merchant}"
            )
    for farmer_id, grams in await _farmer_grams(session, lot.id):
        await outbox.enqueue(
            session,
            farmer_id,
            "lot_sold",
            facts | {"farmer_grams": grams, "farmer_fen": lot_value_fen(lot.leading_fen, grams)},
            f"lot_sold:{lot.id}:{farmer_id}",
        )


async def _back_to_pool(session: AsyncSession, lot: Lot, now: datetime, kind: str) -> None:
    """The lot's reports return to their pool; each farmer is told why (`kind`)."""
    await session.execute(
        update(HarvestReport)
        .where(
            HarvestReport.id.in_(select(LotReport.report_id).where(LotReport.lot_id == lot.id)),
            HarvestReport.status == ReportStatus.POOLED,
        )
        .values(status=ReportStatus.SUBMITTED, updated_at=now)
    )
    for farmer_id, grams in await _farmer_grams(session, lot.id):
        await outbox.enqueue(
            session,
            farmer_id,
            kind,
            lot_facts(lot) | {"farmer_grams": grams},
            f"{kind}:{lot.id}:{farmer_id}",
        )


async def cancel(
    session: AsyncSession, actor: User, lot_id: int, now: datetime | None = None
) -> Lot:
    """A coordinator cancels an open lot (or one waiting for acceptance): bids are void, the
    reports go back to the pool, farmers and bidders are told.

    An open lot whose close has passed was won at its close, even if the scheduler has not
    closed it yet (after a restart, or within its second): DomainError("lot_closed"), and the
    scheduler settles it as it would have."""
    now = now or utcnow()
    await require_coordinator(session, actor)
    lot = await locked_lot(session, lot_id)
    if lot.status not in (LotStatus.OPEN, LotStatus.AWAITING):
        raise DomainError("lot_not_open", status=lot.status.value)
    if lot.status == LotStatus.OPEN and lot.closes_at <= now:
        raise DomainError("lot_closed")
    lot.status = LotStatus.CANCELLED
    lot.closed_at = now
    lot.decided_by = actor.id
    await _back_to_pool(session, lot, now, "lot_cancelled")
    for merchant in await _bidders(session, lot.id):
        await outbox.enqueue(
            session, merchant, "bids_void", lot_facts(lot), f"bids_void:{lot.id}:{merchant}"
        )
    await audit.record(session, AuditAction.LOT_CANCEL, actor, details={"lot_id": lot.id})
    return lot


async def decide_sale(
    session: AsyncSession, actor: Actor, lot_id: int, accept: bool, now: datetime | None = None
) -> Lot:
    """A coordinator accepts or rejects the sale of a lot waiting for it; the system rejects
    it when nobody answered in time (actor System). Decided once: a second answer is refused.

    An answer after the deadline is refused as already rejected (no answer in time means
    rejected) even if the scheduler has not ended the wait yet, as after a restart, when the
    coordinator's late press can come in before the scheduler's first run (due since the
    deadline, that run ends the wait)."""
    now = now or utcnow()
    await require_coordinator(session, actor)
    lot = await locked_lot(session, lot_id)
    if lot.status != LotStatus.AWAITING:
        raise DomainError("sale_decided", status=lot.status.value)
    expired = lot.acceptance_due_at is not None and lot.acceptance_due_at <= now
    if expired and not isinstance(actor, System):
        raise DomainError("sale_decided", status=LotStatus.REJECTED.value, late=True)
    if not isinstance(actor, System):
        lot.decided_by = actor.id
    if accept:
        await _sell(session, lot, now)
    else:
        lot.status = LotStatus.REJECTED
        facts = _sale_facts(lot) | {"timeout": isinstance(actor, System)}
        await _back_to_pool(session, lot, now, "lot_unsold")
        for merchant in await _bidders(session, lot.id):
            await outbox.enqueue(
                session, merchant, "sale_rejected", facts, f"sale_rejected:{lot.id}:{merchant}"
            )
        if isinstance(actor, System):
            for coordinator in await _coordinators(session):
                await outbox.enqueue(
                    session,
                    coordinator,
                    "acceptance_expired",
                    facts,
                    f"acceptance_expired:{lot.id}:{coordinator}",
                )
    await audit.record(
        session,
        AuditAction.SALE_ACCEPT if accept else AuditAction.SALE_REJECT,
        actor,
        details={"lot_id": lot.id, "price_fen": lot.leading_fen},
    )
    return lot


# --- Timed work (the scheduler calls these; every time is read from the database) -----------


async def due_closes(session: AsyncSession, now: datetime) -> list[int]:
    rows = await session.scalars(
        select(Lot.id).where(Lot.status == LotStatus.OPEN, Lot.closes_at <= now).order_by(Lot.id)
    )
    return list(rows)


async def due_acceptances(session: AsyncSession, now: datetime) -> list[int]:
    rows = await session.scalars(
        select(Lot.id)
        .where(Lot.status == LotStatus.AWAITING, Lot.acceptance_due_at <= now)
        .order_by(Lot.id)
    )
    return list(rows)


async def warn_closing_soon(session: AsyncSession, now: datetime, soon: timedelta) -> int:
    """Tell everyone who bid on a lot closing within `soon`, once per lot and merchant."""
    rows = list(
        await session.scalars(
            select(Lot)
            .where(
                Lot.status == LotStatus.OPEN,
                Lot.closing_soon_sent.is_(False),
                Lot.closes_at <= now + soon,
                Lot.closes_at > now,
            )
            .with_for_update(skip_locked=True)
        )
    )
    told = 0
    for lot in rows:
        lot.closing_soon_sent = True
        facts = lot_facts(lot) | {
            "closes_at": lot.closes_at.isoformat(),
            "price_fen": lot.leading_fen,
        }
        for merchant in await _bidders(session, lot.id):
            told += await outbox.enqueue(
                session, merchant, "closing_soon", facts, f"closing_soon:{lot.id}:{merchant}"
            )
    return told


async def next_due(session: AsyncSession, soon: timedelta) -> datetime | None:
    """The earliest moment anything about lots is due: a close, a closing-soon warning, the
    end of a wait for acceptance. The scheduler sleeps until then (or until told of a change)."""
    closes = await session.scalar(
        select(func.min(Lot.closes_at)).where(Lot.status == LotStatus.OPEN)
    )
    warns = await session.scalar(
        select(func.min(Lot.closes_at)).where(
            Lot.status == LotStatus.OPEN, Lot.closing_soon_sent.is_(False)
        )
    )
    accepts = await session.scalar(
        select(func.min(Lot.acceptance_due_at)).where(Lot.status == LotStatus.AWAITING)
    )
    moments = [m for m in (closes, warns - soon if warns else None, accepts) if m is not None]
    return min(moments) if moments else None


# --- Who is concerned --------------------------------------------------------------------------


async def _bidders(session: AsyncSession, lot_id: int) -> list[int]:
    rows = await session.scalars(
        select(LotBid.merchant_id).where(LotBid.lot_id == lot_id).distinct()
    )
    return sorted(rows)


async def _farmer_grams(session: AsyncSession, lot_id: int) -> list[tuple[int, int]]:
    rows = await session.execute(
        select(LotReport.farmer_id, func.sum(LotReport.grams))
        .where(LotReport.lot_id == lot_id)
        .group_by(LotReport.farmer_id)
        .order_by(LotReport.farmer_id)
    )
    return [(farmer, int(grams)) for farmer, grams in rows]


async def _coordinators(session: AsyncSession) -> list[int]:
    rows = await session.scalars(
        select(User.id).where(User.role == Role.COORDINATOR, User.blocked.is_(False))
    )
    return sorted(rows)


# --- Reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotView:
    """A lot as merchants and coordinators see it: facts, standing, time left."""

    id: int
    village: str
    product: str
    process: str | None
    grade: str | None
    grams: int
    farmers: int
    moisture_min_tenths: int | None
    moisture_max_tenths: int | None
    reserve_fen: int
    increment_fen: int
    leading_fen: int | None
    bids: int
    closes_at: datetime
    status: LotStatus
    confirm_before_sale: bool
    accept_below_fen: int | None
    leader_id: int | None  # for the leader's own view and coordinators; never shown to others

    @property
    def minimum_fen(self) -> int:
        """The least the next bid may be."""
        return (
            self.reserve_fen if self.leading_fen is None else self.leading_fen + self.increment_fen
        )


def view_of(lot: Lot, village: str) -> LotView:
    return LotView(
        id=lot.id,
        village=village,
        product=lot.product.value,
        process=lot.process.value if lot.process else None,
        grade=lot.grade.value if lot.grade else None,
        grams=lot.grams,
        farmers=lot.farmers,
        moisture_min_tenths=lot.moisture_min_tenths,
        moisture_max_tenths=lot.moisture_max_tenths,
        reserve_fen=lot.reserve_fen,
        increment_fen=lot.increment_fen,
        leading_fen=lot.leading_fen,
        bids=lot.bids,
        closes_at=lot.closes_at,
        status=lot.status,
        confirm_before_sale=lot.confirm_before_sale,
        accept_below_fen=lot.accept_below_fen,
        leader_id=lot.leader_id,
    )


@dataclass(frozen=True)
class LotPage:
    lots: list[LotView]
    total: int


async def open_lots_page(
    session: AsyncSession, product: str | None = None, offset: int = 0, limit: int = 5
) -> LotPage:
    """Open lots closing soonest first, optionally of one product."""
    where = [Lot.status == LotStatus.OPEN]
    if product is not None:
        where.append(Lot.product == product)
    total = await session.scalar(select(func.count(Lot.id)).where(and_(*where))) or 0
    rows = await session.execute(
        select(Lot, Village.name)
        .join(Village, Village.id == Lot.village_id)
        .where(and_(*where))
        .order_by(Lot.closes_at, Lot.id)
        .offset(offset)
        .limit(limit)
    )
    return LotPage([view_of(lot, name) for lot, name in rows], int(total))


async def lot_view(session: AsyncSession, lot_id: int) -> LotView:
    """The lot as users see it. A lot this transaction holds under lock (a bid's) is taken as
    it is now, changes included, with the village read with it; nothing is read again."""
    _known_id(lot_id)
    held = _held(session, lot_id)
    if held is not None:
        return view_of(held[0], held[1].name)
    row = (
        await session.execute(
            select(Lot, Village.name)
            .join(Village, Village.id == Lot.village_id)
            .where(Lot.id == lot_id)
        )
    ).first()
    if row is None:
        raise DomainError("no_such_lot")
    return view_of(row[0], row[1])


async def lot_photos(session: AsyncSession, lot_id: int) -> list[str]:
    """The photos farmers attached to the lot's reports, oldest report first."""
    _known_id(lot_id)
    rows = await session.scalars(
        select(HarvestReport.photo_file_id)
        .join(LotReport, LotReport.report_id == HarvestReport.id)
        .where(LotReport.lot_id == lot_id, HarvestReport.photo_file_id.is_not(None))
        .order_by(HarvestReport.created_at, HarvestReport.id)
    )
    return [p for p in rows if p]


@dataclass(frozen=True)
class BidRow:
    """One accepted bid for a coordinator: who, when, what, and the standing after it."""

    id: int
    merchant_id: int
    merchant: str
    company: str | None
    price_fen: int | None
    maximum_fen: int | None
    leading_fen: int
    leader_id: int
    placed_at: datetime


async def lot_bids(session: AsyncSession, actor: Actor, lot_id: int) -> list[BidRow]:
    """Every accepted bid on a lot in the order it was committed; coordinators only."""
    await require_coordinator(session, actor)
    await lot_view(session, lot_id)
    rows = await session.execute(
        select(LotBid, User.name, User.company)
        .join(User, User.id == LotBid.merchant_id)
        .where(LotBid.lot_id == lot_id)
        .order_by(LotBid.id)
    )
    return [
        BidRow(
            b.id,
            b.merchant_id,
            name or "",
            company,
            b.price_fen,
            b.maximum_fen,
            b.leading_fen,
            b.leader_id,
            b.placed_at,
        )
        for b, name, company in rows
    ]


@dataclass(frozen=True)
class CoordinatorLot(LotView):
    """A lot as coordinators see it: who leads (never shown to merchants) and, while it waits
    for acceptance, until when."""

    leader: str | None
    leader_company: str | None
    acceptance_due_at: datetime | None


def _coordinator_query() -> Select[Lot, str, str | None, str | None]:
    leader = aliased(User)
    return (
        select(Lot, Village.name, leader.name, leader.company)
        .join(Village, Village.id == Lot.village_id)
        .outerjoin(leader, leader.id == Lot.leader_id)
    )


def _coordinator_view(
    lot: Lot, village: str, leader: str | None, company: str | None
) -> CoordinatorLot:
    return CoordinatorLot(
        **vars(view_of(lot, village)),
        leader=leader,
        leader_company=company,
        acceptance_due_at=lot.acceptance_due_at,
    )


async def lots_of_coordinators(session: AsyncSession, actor: Actor) -> list[CoordinatorLot]:
    """Open lots and lots waiting for acceptance, for a coordinator's /auctions."""
    await require_coordinator(session, actor)
    rows = await session.execute(
        _coordinator_query()
        .where(Lot.status.in_([LotStatus.OPEN, LotStatus.AWAITING]))
        .order_by(Lot.status, Lot.closes_at, Lot.id)
    )
    return [_coordinator_view(lot, village, name, company) for lot, village, name, company in rows]


async def coordinator_lot(session: AsyncSession, actor: Actor, lot_id: int) -> CoordinatorLot:
    """One lot as /auctions shows it, whatever its status (to redraw its card after a change)."""
    await require_coordinator(session, actor)
    row = (await session.execute(_coordinator_query().where(Lot.id == lot_id))).first()
    if row is None:
        raise DomainError("no_such_lot")
    lot, village, name, company = row
    return _coordinator_view(lot, village, name, company)
