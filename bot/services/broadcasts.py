"""Announcements from coordinators to an audience: counting, starting, scheduling, cancelling
and progress. Starting one writes all its notices in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import rows_affected
from bot.models import (
    AuditAction,
    Broadcast,
    BroadcastStatus,
    Notice,
    NoticeStatus,
    Role,
    User,
    utcnow,
)
from bot.outbox import enqueue_for
from bot.quantity import normalise
from bot.services import audit
from bot.services.access import require_coordinator
from bot.services.errors import DomainError

KIND = "announcement"
AUDIENCE_KINDS = ("all", "farmers", "merchants", "village", "language")
MAX_TEXT = 4000
MAX_CAPTION = 1000


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
        """Who is in it: registered, not blocked users of the segment."""
        base = and_(User.registered_at.is_not(None), User.blocked.is_(False))
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


def check_content(texts: dict[str, str], photo_file_id: str | None) -> None:
    """A broadcast needs words (a photo's caption counts) within Telegram's limits."""
    if not texts.get("") and not photo_file_id:
        raise DomainError("broadcast_empty")
    limit = MAX_CAPTION if photo_file_id else MAX_TEXT
    if any(len(text) > limit for text in texts.values()):
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
        .where(Broadcast.id == broadcast_id, Broadcast.progress_message_id.is_(None))
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
    if broadcast.total == 0:
        broadcast.status = BroadcastStatus.DONE
        broadcast.finished_at = utcnow()
    await session.flush()
    return True


async def cancel_broadcast(
    session: AsyncSession, coordinator: User, broadcast_id: int
) -> Broadcast:
    """Stop a scheduled or running broadcast; what was delivered stays delivered."""
    await require_coordinator(session, coordinator)
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise DomainError("broadcast_not_found")
    await session.refresh(broadcast)
    if broadcast.status not in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING):
        raise DomainError("broadcast_not_active", status=broadcast.status.value)
    await session.execute(
        update(Notice)
        .where(Notice.broadcast_id == broadcast_id, Notice.status == NoticeStatus.PENDING)
        .values(status=NoticeStatus.CANCELLED)
    )
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.finished_at = utcnow()
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


async def finish_if_done(session: AsyncSession, broadcast: Broadcast, done: Progress) -> bool:
    if broadcast.status == BroadcastStatus.SENDING and done.finished:
        broadcast.status = BroadcastStatus.DONE
        broadcast.finished_at = utcnow()
        await session.flush()
        return True
    return False


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
