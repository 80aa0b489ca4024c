"""Payouts after they are scheduled: paying them, reminding coordinators on the pay date, a
farmer's history, and disputes ("this is wrong").

Payout rows are written when a collection completes (with the "payout_scheduled" notice);
from then on this module changes them. A payout is changed under its row lock, so marking it
paid twice (two coordinators, a double tap) pays it once; every notice is keyed by its cause
(the payout, the dispute, the pay date), so nothing is said twice. The arithmetic of shares
and fees is bot/payouts.py; the amount due is `net_fen + correction_fen`.

A season (for the farmer's totals) starts every year on SEASON_START (default 1 October, when
Yunnan's harvest begins; bot/services/periods.py, as the figures count it) in the programme's
time zone; a payout belongs to the season of its pay date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auction import FEN_PER_YUAN, parse_price
from bot.models import (
    AuditAction,
    DisputeStatus,
    HarvestReport,
    Payout,
    PayoutDispute,
    PayoutStatus,
    ReportStatus,
    Role,
    User,
    utcnow,
)
from bot.outbox import PERSONAL, enqueue, enqueue_for
from bot.quantity import normalise
from bot.services import audit
from bot.services.access import Actor, require_coordinator
from bot.services.errors import DomainError, typed_text
from bot.services.periods import season_start

REFERENCE_MAX = 100  # Payout.reference
REASON_MAX = 1000  # PayoutDispute.reason / explanation
# A correction is at most this far either way: ¥100,000 is more than any farmer's lot.
CORRECTION_MAX_FEN = 100_000 * FEN_PER_YUAN
# A reminder lists this many payouts by name; the rest are counted (one Telegram message).
REMINDER_LINES = 30
HISTORY_LINES = 20


def amount_fen(payout: Payout) -> int:
    """What the farmer is paid: net after fees, plus corrections from resolved disputes."""
    return payout.net_fen + payout.correction_fen


def payout_facts(payout: Payout) -> dict[str, Any]:
    """A payout's itemised facts, as a notice payload carries them (rendered when sent)."""
    return {
        "payout_id": payout.id,
        "lot_id": payout.lot_id,
        "report_id": payout.report_id,
        "grams": payout.grams,
        "price_fen": payout.price_fen,
        "gross_fen": payout.gross_fen,
        "fees": dict(payout.fees or {}),
        "net_fen": payout.net_fen,
        "correction_fen": payout.correction_fen,
        "amount_fen": amount_fen(payout),
        "due_on": payout.due_on.isoformat(),
        "reference": payout.reference,
    }


def check_reference(text: str) -> str:
    """A transfer's id as typed (bank or mobile-money), 1-100 characters."""
    return typed_text(text, "reference", REFERENCE_MAX)


def check_reason(text: str) -> str:
    """Why the farmer thinks a payout is wrong, 1-1000 characters."""
    return typed_text(text, "dispute_reason", REASON_MAX)


def check_explanation(text: str) -> str:
    return typed_text(text, "explanation", REASON_MAX)


def parse_correction(text: str) -> int:
    """A signed amount of money in fen, as a coordinator types a correction: "12.5", "12.5元",
    "¥12.5", "-3", "＋１２．５". Read by the bids' price reader (bot.auction.parse_price), so
    the same spellings work and nothing is guessed; the sign is read here. Zero is refused
    (nothing to correct: explain instead)."""
    rest = normalise(text or "").strip()
    sign = 1
    if rest[:1] in ("-", "−", "+"):
        sign = -1 if rest[0] in ("-", "−") else 1
        rest = rest[1:].lstrip()
    return sign * parse_price(rest, maximum=CORRECTION_MAX_FEN)


# --- Paying -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueLine:
    """A payout waiting to be paid, with whom it is for."""

    payout: Payout
    farmer_name: str
    farmer_phone: str | None


def local_today(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


async def due(session: AsyncSession, actor: Actor, on: date) -> list[DueLine]:
    """Payouts not yet paid whose pay date is on or before `on`, oldest first; coordinators
    only."""
    await require_coordinator(session, actor)
    rows = await session.execute(
        select(Payout, User.name, User.phone)
        .join(User, User.id == Payout.farmer_id)
        .where(Payout.status == PayoutStatus.SCHEDULED, Payout.due_on <= on)
        .order_by(Payout.due_on, Payout.id)
    )
    return [DueLine(p, name or "", phone) for p, name, phone in rows]


async def _paid(
    session: AsyncSession, actor: Actor, payout: Payout, reference: str, now: datetime
) -> None:
    """Record a locked, scheduled payout as paid: audit entry and the farmer's notice."""
    payout.status = PayoutStatus.PAID
    payout.reference = reference
    payout.paid_at = now
    payout.paid_by = actor.id if isinstance(actor, User) else None
    await session.execute(  # the farmer's report is finished (My reports says so)
        update(HarvestReport)
        .where(HarvestReport.id == payout.report_id)
        .values(status=ReportStatus.PAID, updated_at=now)
    )
    farmer = await session.get(User, payout.farmer_id)
    await audit.record(
        session,
        AuditAction.PAYOUT_PAID,
        actor,
        subject=farmer,
        details={
            "payout_id": payout.id,
            "lot_id": payout.lot_id,
            "amount_fen": amount_fen(payout),
            "reference": reference,
        },
    )
    await enqueue(
        session,
        payout.farmer_id,
        "payout_paid",
        payout_facts(payout),
        f"payout-paid:{payout.id}",
        priority=PERSONAL,
    )


async def mark_paid(
    session: AsyncSession,
    actor: Actor,
    payout_id: int,
    reference: str,
    now: datetime | None = None,
) -> Payout:
    """Mark one payout paid with the transfer's reference; coordinators only. Under the row
    lock: a second attempt (another coordinator, a double tap) is refused, not paid twice."""
    await require_coordinator(session, actor)
    reference = check_reference(reference)
    payout = await session.scalar(
        select(Payout)
        .where(Payout.id == payout_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if payout is None:
        raise DomainError("payout_not_found")
    if payout.status == PayoutStatus.PAID:
        raise DomainError("payout_paid_already", reference=payout.reference or "")
    await _paid(session, actor, payout, reference, now or utcnow())
    return payout


async def mark_all_due_paid(
    session: AsyncSession,
    actor: Actor,
    on: date,
    reference: str,
    now: datetime | None = None,
) -> list[Payout]:
    """Mark every payout due on or before `on` paid with one reference (one bulk transfer);
    coordinators only. Rows are locked in id order, so two at once cannot deadlock, and one
    paid meanwhile is left as it was."""
    await require_coordinator(session, actor)
    reference = check_reference(reference)
    rows = list(
        await session.scalars(
            select(Payout)
            .where(Payout.status == PayoutStatus.SCHEDULED, Payout.due_on <= on)
            .order_by(Payout.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    moment = now or utcnow()
    paid = []
    for payout in rows:
        if payout.status != PayoutStatus.SCHEDULED:  # paid while we waited for the lock
            continue
        await _paid(session, actor, payout, reference, moment)
        paid.append(payout)
    return paid


# --- Reminders ----------------------------------------------------------------------------------


def reminder_cutoff(now: datetime, tz: ZoneInfo, at: time) -> date:
    """The latest pay date whose reminder is due at `now`: today once the reminder time has
    come in the programme's zone, else yesterday."""
    local = now.astimezone(tz)
    return local.date() if local.time() >= at else local.date() - timedelta(days=1)


def reminder_moment(day: date, tz: ZoneInfo, at: time) -> datetime:
    """When the reminder of pay date `day` is due (local `at` on that day)."""
    return datetime.combine(day, at, tzinfo=tz)


async def next_reminder_at(session: AsyncSession, tz: ZoneInfo, at: time) -> datetime | None:
    """The moment the next reminder is due (perhaps past: missed while down), or None."""
    day = await session.scalar(
        select(func.min(Payout.due_on)).where(
            Payout.status == PayoutStatus.SCHEDULED, Payout.reminded.is_(False)
        )
    )
    return None if day is None else reminder_moment(day, tz, at)


async def send_reminders(session: AsyncSession, now: datetime, tz: ZoneInfo, at: time) -> int:
    """For each pay date whose reminder is due and whose payouts are not reminded: one notice
    per coordinator listing what is due that day, keyed by coordinator and date; the payouts
    are marked reminded. Rows are locked first (PostgreSQL re-reads a row it waited for, so a
    second process finds them reminded and skips them; SQLite runs one writer at a time):
    two processes remind once. Returns how many notices were written."""
    cutoff = reminder_cutoff(now, tz, at)
    rows = list(
        await session.execute(
            select(Payout, User.name)
            .join(User, User.id == Payout.farmer_id)
            .where(
                Payout.status == PayoutStatus.SCHEDULED,
                Payout.reminded.is_(False),
                Payout.due_on <= cutoff,
            )
            .order_by(Payout.due_on, Payout.id)
            .with_for_update(of=Payout)
            .execution_options(populate_existing=True)
        )
    )
    by_day: dict[date, list[tuple[Payout, str]]] = {}
    for payout, name in rows:
        if payout.reminded or payout.status != PayoutStatus.SCHEDULED:
            continue
        by_day.setdefault(payout.due_on, []).append((payout, name or ""))
    if not by_day:
        return 0
    coordinators = list(
        await session.scalars(
            select(User.id).where(User.role == Role.COORDINATOR).order_by(User.id)
        )
    )
    written = 0
    for day, payouts in sorted(by_day.items()):
        payload = {
            "due_on": day.isoformat(),
            "count": len(payouts),
            "total_fen": sum(amount_fen(p) for p, _ in payouts),
            "payouts": [
                {
                    "payout_id": p.id,
                    "lot_id": p.lot_id,
                    "farmer": name,
                    "amount_fen": amount_fen(p),
                }
                for p, name in payouts[:REMINDER_LINES]
            ],
        }
        for coordinator_id in coordinators:
            written += await enqueue(
                session,
                coordinator_id,
                "payout_reminder",
                payload,
                f"payout-reminder:{coordinator_id}:{day.isoformat()}",
                priority=PERSONAL,
            )
        for payout, _ in payouts:
            payout.reminded = True
    await session.flush()
    return written


# --- A farmer's history ------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    paid_fen: int = 0
    scheduled_fen: int = 0  # still to be paid
    count: int = 0


@dataclass(frozen=True)
class History:
    lines: list[Payout]  # newest first, at most HISTORY_LINES
    disputed: set[int]  # ids of the shown payouts with an open dispute
    season_from: date
    season: Totals
    all_time: Totals
    more: int  # payouts not shown


async def _totals(session: AsyncSession, farmer_id: int, since: date | None) -> Totals:
    amount = Payout.net_fen + Payout.correction_fen
    query = select(
        func.coalesce(func.sum(amount).filter(Payout.status == PayoutStatus.PAID), 0),
        func.coalesce(func.sum(amount).filter(Payout.status == PayoutStatus.SCHEDULED), 0),
        func.count(),
    ).where(Payout.farmer_id == farmer_id)
    if since is not None:
        query = query.where(Payout.due_on >= since)
    paid, scheduled, count = (await session.execute(query)).one()
    return Totals(int(paid), int(scheduled), int(count))


async def history(
    session: AsyncSession,
    farmer: User,
    now: datetime,
    tz: ZoneInfo,
    season: str | tuple[int, int] = "10-01",
) -> History:
    """The farmer's own payouts, newest first, with this season's and all-time totals. Only
    ever the asking farmer's: there is no way to name another farmer here."""
    if farmer.role != Role.FARMER:
        raise DomainError("not_farmer")
    since = season_start(local_today(now, tz), season)
    rows = list(
        await session.scalars(
            select(Payout)
            .where(Payout.farmer_id == farmer.id)
            .order_by(Payout.due_on.desc(), Payout.id.desc())
            .limit(HISTORY_LINES)
        )
    )
    disputed = set(
        await session.scalars(
            select(PayoutDispute.payout_id).where(
                PayoutDispute.payout_id.in_([p.id for p in rows]),
                PayoutDispute.status == DisputeStatus.OPEN,
            )
        )
    )
    everything = await _totals(session, farmer.id, None)
    return History(
        rows,
        disputed,
        since,
        await _totals(session, farmer.id, since),
        everything,
        max(everything.count - len(rows), 0),
    )


async def farmer_payout(session: AsyncSession, farmer: User, payout_id: int) -> Payout:
    """One of the farmer's own payouts; another's is "not found" (nothing is revealed)."""
    payout = await session.get(Payout, payout_id)
    if payout is None or payout.farmer_id != farmer.id:
        raise DomainError("payout_not_found")
    return payout


# --- Disputes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisputeLine:
    dispute: PayoutDispute
    payout: Payout
    farmer_name: str


def _dispute_facts(dispute: PayoutDispute, payout: Payout, farmer_name: str) -> dict[str, Any]:
    return payout_facts(payout) | {
        "dispute_id": dispute.id,
        "farmer": farmer_name,
        "reason": dispute.reason,
    }


async def open_dispute(
    session: AsyncSession,
    farmer: User,
    payout_id: int,
    reason: str,
    now: datetime | None = None,
) -> PayoutDispute:
    """A farmer says their payout is wrong, and why; every coordinator is told. One open
    dispute per payout: a second is refused until the first is resolved."""
    reason = check_reason(reason)
    payout = await session.scalar(select(Payout).where(Payout.id == payout_id).with_for_update())
    if payout is None or payout.farmer_id != farmer.id:
        raise DomainError("payout_not_found")
    already = await session.scalar(
        select(PayoutDispute.id).where(
            PayoutDispute.payout_id == payout.id, PayoutDispute.status == DisputeStatus.OPEN
        )
    )
    if already is not None:
        raise DomainError("dispute_open_already")
    dispute = PayoutDispute(
        payout_id=payout.id,
        farmer_id=farmer.id,
        reason=reason,
        status=DisputeStatus.OPEN,
        opened_at=now or utcnow(),
    )
    session.add(dispute)
    await session.flush()
    await enqueue_for(
        session,
        select(User.id).where(User.role == Role.COORDINATOR),
        "dispute_opened",
        _dispute_facts(dispute, payout, farmer.name or ""),
        f"dispute-opened:{dispute.id}:",
        priority=PERSONAL,
    )
    return dispute


async def open_disputes(session: AsyncSession, actor: Actor) -> list[DisputeLine]:
    """Disputes waiting for a coordinator, oldest first; coordinators only."""
    await require_coordinator(session, actor)
    rows = await session.execute(
        select(PayoutDispute, Payout, User.name)
        .join(Payout, Payout.id == PayoutDispute.payout_id)
        .join(User, User.id == PayoutDispute.farmer_id)
        .where(PayoutDispute.status == DisputeStatus.OPEN)
        .order_by(PayoutDispute.id)
    )
    return [DisputeLine(d, p, name or "") for d, p, name in rows]


async def dispute_line(session: AsyncSession, actor: Actor, dispute_id: int) -> DisputeLine:
    """One dispute, to ask about it; coordinators only."""
    await require_coordinator(session, actor)
    row = (
        await session.execute(
            select(PayoutDispute, Payout, User.name)
            .join(Payout, Payout.id == PayoutDispute.payout_id)
            .join(User, User.id == PayoutDispute.farmer_id)
            .where(PayoutDispute.id == dispute_id)
        )
    ).one_or_none()
    if row is None:
        raise DomainError("dispute_not_found")
    return DisputeLine(row[0], row[1], row[2] or "")


async def _lock_open(session: AsyncSession, dispute_id: int) -> tuple[PayoutDispute, Payout]:
    dispute = await session.scalar(
        select(PayoutDispute)
        .where(PayoutDispute.id == dispute_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if dispute is None:
        raise DomainError("dispute_not_found")
    if dispute.status != DisputeStatus.OPEN:
        raise DomainError("dispute_resolved_already")
    payout = await session.scalar(
        select(Payout)
        .where(Payout.id == dispute.payout_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert payout is not None
    return dispute, payout


async def _resolved(
    session: AsyncSession,
    actor: Actor,
    dispute: PayoutDispute,
    payout: Payout,
    now: datetime,
) -> None:
    dispute.resolved_at = now
    dispute.resolved_by = actor.id if isinstance(actor, User) else None
    farmer = await session.get(User, dispute.farmer_id)
    await audit.record(
        session,
        AuditAction.DISPUTE_RESOLVE,
        actor,
        subject=farmer,
        details={
            "dispute_id": dispute.id,
            "payout_id": payout.id,
            "outcome": dispute.status.value,
            "correction_fen": dispute.correction_fen,
            "amount_fen": amount_fen(payout),
        },
    )
    await enqueue(
        session,
        dispute.farmer_id,
        "dispute_resolved",
        _dispute_facts(dispute, payout, farmer.name or "" if farmer else "")
        | {
            "outcome": dispute.status.value,
            "correction": dispute.correction_fen,
            "explanation": dispute.explanation,
            "paid": payout.status == PayoutStatus.PAID,
        },
        f"dispute-resolved:{dispute.id}",
        priority=PERSONAL,
    )


async def resolve_with_correction(
    session: AsyncSession,
    actor: Actor,
    dispute_id: int,
    correction_fen: int,
    now: datetime | None = None,
) -> tuple[PayoutDispute, Payout]:
    """Resolve a dispute by adjusting the payout by a signed amount (added to what is paid);
    the farmer is told the new amount. A paid payout's correction is paid separately, so the
    farmer is told that too. Coordinators only; a dispute is resolved once."""
    await require_coordinator(session, actor)
    if correction_fen == 0 or abs(correction_fen) > CORRECTION_MAX_FEN:
        raise DomainError("correction_invalid")
    dispute, payout = await _lock_open(session, dispute_id)
    if amount_fen(payout) + correction_fen < 0:
        raise DomainError("correction_below_zero", amount_fen=amount_fen(payout))
    payout.correction_fen += correction_fen
    dispute.status = DisputeStatus.CORRECTED
    dispute.correction_fen = correction_fen
    await _resolved(session, actor, dispute, payout, now or utcnow())
    return dispute, payout


async def resolve_with_explanation(
    session: AsyncSession,
    actor: Actor,
    dispute_id: int,
    explanation: str,
    now: datetime | None = None,
) -> tuple[PayoutDispute, Payout]:
    """Resolve a dispute without a change, telling the farmer why; coordinators only."""
    await require_coordinator(session, actor)
    explanation = check_explanation(explanation)
    dispute, payout = await _lock_open(session, dispute_id)
    dispute.status = DisputeStatus.EXPLAINED
    dispute.explanation = explanation
    await _resolved(session, actor, dispute, payout, now or utcnow())
    return dispute, payout
