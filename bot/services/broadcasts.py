"""Announcements from coordinators to an audience: counting, starting, scheduling, cancelling,
progress and completion. Starting one writes all its notices in the same transaction.

Life cycle: scheduled -> sending -> done, or cancelled from either. `finished_at` is set once
the counts are final: at once for done (nothing pending or claimed is left), and for a
cancelled one when the notices a dispatcher held at the cancel have their outcome. At that
moment the author is given the final report: the progress message's last edit when there is
one, else a notice through the outbox (`settle`, run by the dispatcher's progress loop, so it
works from the database alone, after a restart too)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import rows_affected
from bot.limits import TELEGRAM_CAPTION, TELEGRAM_TEXT, utf16_len
from bot.models import (
    AuditAction,
    Broadcast,
    BroadcastStatus,
    MerchantStatus,
    Notice,
    NoticeStatus,
    Role,
    User,
    utcnow,
)
from bot.outbox import enqueue, enqueue_for, mark_blocked
from bot.quantity import normalise
from bot.services import audit
from bot.services.access import require_coordinator
from bot.services.errors import DomainError

KIND = "announcement"
REPORT_KIND = "broadcast_report"  # the final report to the author, when no message shows it
UNSETTLED = (NoticeStatus.PENDING, NoticeStatus.CLAIMED)
AUDIENCE_KINDS = ("all", "farmers", "merchants", "village", "language")
MAX_TEXT = 4000
MAX_CAPTION = 1000
# A broadcast sent now shows its progress in a message sent after the start commits; its id is
# recorded a moment later. Until then (or until this has passed: the message never came) the
# broadcast is not settled, so its report is not also sent through the outbox.
PROGRESS_MESSAGE_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class Audience:
    kind: str
    value: str | int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        return cls(data["kind"], data.get("value"))

    def condition(self) -> ColumnElement[bool]:
        """Who is in it: registered, not blocked users of the segment; a merchant only once
        approved (a pending or rejected one is not a merchant of the programme)."""
        base = and_(
            User.registered_at.is_not(None),
            User.blocked.is_(False),
            or_(
                User.role.is_(None),
                User.role != Role.MERCHANT,
                User.merchant_status == MerchantStatus.APPROVED,
            ),
        )
        if self.kind == "all":
            return and_(base, true())
        if self.kind == "farmers":
            return and_(base, User.role == Role.FARMER)
        if self.kind == "merchants":
            return and_(base, User.role == Role.MERCHANT)
        if self.kind == "village":
            return and_(base, User.role == Role.FARMER, User.village_id == int(self.value or 0))
        if self.kind == "language":
            return and_(base, User.language == str(self.value))
        raise DomainError("audience_unknown")


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    blocked: int
    failed: int
    cancelled: int

    @property
    def finished(self) -> bool:
        return self.sent + self.blocked + self.failed + self.cancelled >= self.total


async def count_audience(session: AsyncSession, audience: Audience) -> int:
    return int(await session.scalar(select(func.count(User.id)).where(audience.condition())) or 0)


def check_content(texts: dict[str, str], photo_file_id: str | None, reserve: int = 0) -> None:
    """A broadcast needs words (a photo's caption counts) within Telegram's limits, leaving
    `reserve` for what is sent above them (the heading naming the programme)."""
    if not texts.get("") and not photo_file_id:
        raise DomainError("broadcast_empty")
    if photo_file_id:
        limit = min(MAX_CAPTION, TELEGRAM_CAPTION - reserve)
    else:
        limit = min(MAX_TEXT, TELEGRAM_TEXT - reserve)
    if any(utf16_len(text) > limit for text in texts.values()):
        raise DomainError("broadcast_too_long", limit=limit)


async def create_broadcast(
    session: AsyncSession,
    coordinator: User,
    audience: Audience,
    texts: dict[str, str],
    photo_file_id: str | None = None,
    *,
    scheduled_at: datetime | None = None,
    progress_chat_id: int | None = None,
    progress_message_id: int | None = None,
) -> Broadcast:
    """Send now (its notices are written in this transaction) or schedule for later.

    `texts` maps "" to the main text and a locale to that language's version."""
    await require_coordinator(session, coordinator)
    check_content(texts, photo_file_id)
    if scheduled_at is not None and scheduled_at <= utcnow():
        raise DomainError("schedule_in_past")
    broadcast = Broadcast(
        created_by=coordinator.id,
        audience=audience.to_json(),
        texts=texts,
        photo_file_id=photo_file_id,
        status=BroadcastStatus.SCHEDULED,
        scheduled_at=scheduled_at,
        progress_chat_id=progress_chat_id,
        progress_message_id=progress_message_id,
    )
    session.add(broadcast)
    await session.flush()
    await audit.record(
        session,
        AuditAction.SCHEDULE if scheduled_at is not None else AuditAction.BROADCAST,
        coordinator,
        broadcast_id=broadcast.id,
        details={
            "audience": audience.to_json(),
            "scheduled_at": scheduled_at.isoformat() if scheduled_at else None,
        },
    )
    if scheduled_at is None:
        await start_broadcast(session, broadcast.id)
    return broadcast


async def set_progress_message(session: AsyncSession, broadcast_id: int, message_id: int) -> None:
    """Record the message that shows a broadcast's progress (sent after the broadcast's own
    transaction committed, so it is recorded in one of its own)."""
    await session.execute(
        update(Broadcast)
        .where(
            Broadcast.id == broadcast_id,
            Broadcast.progress_chat_id.is_not(None),  # not given up (reported elsewhere)
            Broadcast.progress_message_id.is_(None),
        )
        .values(progress_message_id=message_id)
    )


async def start_broadcast(session: AsyncSession, broadcast_id: int) -> bool:
    """Write one notice per recipient; False when it was started, finished or cancelled
    already (several schedulers may fire the same broadcast: only one starts it)."""
    claimed = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.SCHEDULED)
        .values(status=BroadcastStatus.SENDING, started_at=utcnow())
    )
    if not rows_affected(claimed):
        return False
    broadcast = await session.get(Broadcast, broadcast_id)
    assert broadcast is not None
    await session.refresh(broadcast)
    recipients = select(User.id).where(Audience.from_json(broadcast.audience).condition())
    broadcast.total = await enqueue_for(
        session,
        recipients,
        KIND,
        {"broadcast_id": broadcast.id},
        f"broadcast:{broadcast.id}:",
        broadcast_id=broadcast.id,
    )
    # Even with nobody to send to, it is finished (and reported) by `settle`, as any other.
    await session.flush()
    return True


async def cancel_broadcast(
    session: AsyncSession, coordinator: User, broadcast_id: int
) -> Broadcast:
    """Stop a scheduled or running broadcast; what was delivered stays delivered.

    The row is locked first (FOR UPDATE on PostgreSQL; SQLite transactions are serial): a
    start whose transaction is open meanwhile is waited for, so its notices are seen and
    cancelled here, instead of the cancel overwriting a start it never saw. Notices that a
    dispatcher has claimed already are left to it: it checks before each send and drops
    them (see bot/broadcast_cancels.py); the broadcast is settled once they are."""
    await require_coordinator(session, coordinator)
    broadcast = await session.scalar(
        select(Broadcast)
        .where(Broadcast.id == broadcast_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if broadcast is None:
        raise DomainError("broadcast_not_found")
    if broadcast.status not in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING):
        raise DomainError("broadcast_not_active", status=broadcast.status.value)
    never_started = broadcast.status == BroadcastStatus.SCHEDULED
    await session.execute(
        update(Notice)
        .where(Notice.broadcast_id == broadcast_id, Notice.status == NoticeStatus.PENDING)
        .values(status=NoticeStatus.CANCELLED)
    )
    broadcast.status = BroadcastStatus.CANCELLED
    if never_started:
        broadcast.finished_at = utcnow()  # nothing was sent: nothing to report
    await audit.record(
        session,
        AuditAction.CANCEL,
        coordinator,
        broadcast_id=broadcast.id,
        details={"audience": broadcast.audience},
    )
    await session.flush()
    return broadcast


async def progress(session: AsyncSession, broadcast: Broadcast) -> Progress:
    rows = await session.execute(
        select(Notice.status, func.count())
        .where(Notice.broadcast_id == broadcast.id)
        .group_by(Notice.status)
    )
    counts = {status: int(n) for status, n in rows.all()}
    return Progress(
        total=broadcast.total,
        sent=counts.get(NoticeStatus.SENT, 0),
        blocked=counts.get(NoticeStatus.DROPPED, 0),
        failed=counts.get(NoticeStatus.FAILED, 0),
        cancelled=counts.get(NoticeStatus.CANCELLED, 0),
    )


@dataclass(frozen=True)
class Finished:
    broadcast_id: int
    status: BroadcastStatus
    reported: bool  # a report notice to the author was written


def _unsettled_notices() -> ColumnElement[bool]:
    return exists().where(Notice.broadcast_id == Broadcast.id, Notice.status.in_(UNSETTLED))


async def settle(session: AsyncSession) -> list[Finished]:
    """Finish every broadcast whose notices all have their outcome: a sending one becomes
    done, a cancelled one gets its final counts. Each is finished once (a conditional
    UPDATE: several processes may run this at the same time); one without a progress
    message (scheduled, or the message was given up) gets its report through the outbox in
    this transaction."""
    cancelling = select(Broadcast.id).where(
        Broadcast.status == BroadcastStatus.CANCELLED, Broadcast.finished_at.is_(None)
    )
    # Notices put back in the queue after the cancel (a claim returned unsent) are cancelled.
    await session.execute(
        update(Notice)
        .where(Notice.broadcast_id.in_(cancelling), Notice.status == NoticeStatus.PENDING)
        .values(status=NoticeStatus.CANCELLED)
    )
    message_on_its_way = and_(
        Broadcast.progress_chat_id.is_not(None),
        Broadcast.progress_message_id.is_(None),
        Broadcast.started_at > utcnow() - PROGRESS_MESSAGE_GRACE,
    )
    rows = await session.execute(
        select(Broadcast.id, Broadcast.status).where(
            Broadcast.status.in_([BroadcastStatus.SENDING, BroadcastStatus.CANCELLED]),
            Broadcast.finished_at.is_(None),
            ~_unsettled_notices(),
            ~message_on_its_way,
        )
    )
    finished: list[Finished] = []
    for broadcast_id, status in rows.all():
        final = BroadcastStatus.DONE if status == BroadcastStatus.SENDING else status
        claimed = await session.execute(
            update(Broadcast)
            .where(
                Broadcast.id == broadcast_id,
                Broadcast.status == status,
                Broadcast.finished_at.is_(None),
            )
            .values(status=final, finished_at=utcnow())
        )
        if not rows_affected(claimed):
            continue  # cancelled or finished meanwhile: the next round sees it as it is now
        broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
        assert broadcast is not None
        reported = False
        if broadcast.progress_message_id is None:
            broadcast.progress_chat_id = None  # a progress message coming late is not used
            reported = await _report(session, broadcast)
        finished.append(Finished(broadcast_id, final, reported))
    return finished


async def _report(session: AsyncSession, broadcast: Broadcast) -> bool:
    """The final report to the author through the outbox, once per broadcast."""
    author = await session.get(User, broadcast.created_by, populate_existing=True)
    if author is None or author.blocked:
        return False
    done = await progress(session, broadcast)
    payload = {
        "broadcast_id": broadcast.id,
        "status": broadcast.status.value,
        "sent": done.sent,
        "total": done.total,
        "blocked": done.blocked,
        "failed": done.failed,
    }
    # Not tied to the broadcast by broadcast_id: it is not one of its recipients' notices.
    return await enqueue(
        session, broadcast.created_by, REPORT_KIND, payload, f"broadcast-report:{broadcast.id}"
    )


async def shown_in_messages(session: AsyncSession) -> list[tuple[Broadcast, str | None, Progress]]:
    """Broadcasts whose progress message is still to be edited, with the author's language
    and their counts."""
    rows = await session.execute(
        select(Broadcast, User.language)
        .join(User, User.id == Broadcast.created_by)
        .where(
            Broadcast.progress_message_id.is_not(None),
            Broadcast.status != BroadcastStatus.SCHEDULED,
        )
        .order_by(Broadcast.id)
    )
    return [
        (broadcast, language, await progress(session, broadcast))
        for broadcast, language in rows.all()
    ]


async def progress_message_shown(session: AsyncSession, broadcast_id: int) -> None:
    """The final report was edited into the progress message: it is left alone from now."""
    await session.execute(
        update(Broadcast).where(Broadcast.id == broadcast_id).values(progress_message_id=None)
    )


async def progress_message_lost(
    session: AsyncSession, broadcast_id: int, *, author_blocked: bool = False
) -> bool:
    """The progress message cannot be edited any more (deleted, or the author blocked the
    bot): it is never tried again, and the final report goes through the outbox instead, now
    if the broadcast is finished already, else when it finishes. True when a report was
    written now."""
    broadcast = await session.scalar(
        select(Broadcast)
        .where(Broadcast.id == broadcast_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if broadcast is None or broadcast.progress_message_id is None:
        return False
    broadcast.progress_message_id = None
    broadcast.progress_chat_id = None
    if author_blocked:
        await mark_blocked(session, broadcast.created_by)
    await session.flush()
    if broadcast.finished_at is None or broadcast.started_at is None:
        return False
    return await _report(session, broadcast)


async def scheduled(session: AsyncSession) -> list[Broadcast]:
    rows = await session.scalars(
        select(Broadcast)
        .where(Broadcast.status == BroadcastStatus.SCHEDULED)
        .order_by(Broadcast.scheduled_at)
    )
    return list(rows)


async def active(session: AsyncSession) -> list[Broadcast]:
    """Scheduled and running broadcasts, newest first."""
    rows = await session.scalars(
        select(Broadcast)
        .where(Broadcast.status.in_([BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING]))
        .order_by(Broadcast.id.desc())
    )
    return list(rows)


async def get_broadcast(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    return await session.get(Broadcast, broadcast_id)


_WHEN_FORMATS = tuple(
    f"{day} {time}"
    for day in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d")
    for time in ("%H:%M", "%H:%M:%S")
)


def parse_schedule_time(text: str, tz: ZoneInfo, now: datetime | None = None) -> datetime:
    """A typed local date and time ("2026-12-01 09:00", full-width digits too) as UTC."""
    cleaned = " ".join(normalise(text).replace("T", " ").split())
    for fmt in _WHEN_FORMATS:
        try:
            local = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        moment = local.replace(tzinfo=tz).astimezone(UTC)
        if moment <= (now or utcnow()):
            raise DomainError("schedule_in_past")
        return moment
    raise DomainError("schedule_unreadable")
