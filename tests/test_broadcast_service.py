"""Broadcast services on a real database: audiences, idempotent start, cancel, scheduling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import BroadcastStatus, Notice, NoticeStatus, User, Village
from bot.outbox import enqueue, mark_blocked
from bot.services import broadcasts, users
from bot.services.broadcasts import Audience
from bot.services.errors import DomainError

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _population(session: AsyncSession, villages: list[Village]) -> User:
    for telegram_id, language, village in [
        (1, "zh", villages[0]),
        (2, "en", villages[0]),
        (3, "zh", villages[1]),
    ]:
        user = await users.ensure_user(session, telegram_id)
        await users.set_language(session, user, language)
        await users.register_farmer(
            session, user, name="Farmer", phone="13800000000", village_id=village.id
        )
    merchant = await users.ensure_user(session, 4)
    await users.set_language(session, merchant, "en")
    await users.register_merchant(session, merchant, company="Co", contact="1234567")
    await users.ensure_user(session, 5)  # said hello, never registered: nobody's audience
    return await users.ensure_user(session, 99, coordinator_ids={99})


async def _notices(session: AsyncSession, broadcast_id: int) -> list[Notice]:
    return list(await session.scalars(select(Notice).where(Notice.broadcast_id == broadcast_id)))


async def test_audiences_count_registered_reachable_people(
    session: AsyncSession, villages: list[Village]
) -> None:
    await _population(session, villages)
    counts = {
        kind: await broadcasts.count_audience(session, Audience(kind))
        for kind in ("all", "farmers", "merchants")
    }
    assert counts == {"all": 5, "farmers": 3, "merchants": 1}
    assert await broadcasts.count_audience(session, Audience("village", villages[0].id)) == 2
    assert await broadcasts.count_audience(session, Audience("language", "en")) == 2
    blocked = await users.get_user(session, 2)
    assert blocked is not None
    await mark_blocked(session, blocked.id)
    await session.refresh(blocked)
    assert await broadcasts.count_audience(session, Audience("village", villages[0].id)) == 1


async def test_send_now_writes_one_notice_per_recipient(
    session: AsyncSession, villages: list[Village]
) -> None:
    coordinator = await _population(session, villages)
    broadcast = await broadcasts.create_broadcast(
        session, coordinator, Audience("farmers"), {"": "Hello", "en": "Hello!"}
    )
    assert broadcast.status == BroadcastStatus.SENDING and broadcast.total == 3
    notices = await _notices(session, broadcast.id)
    assert len(notices) == 3 and {n.kind for n in notices} == {"announcement"}
    assert len({n.dedup_key for n in notices}) == 3
    assert not await broadcasts.start_broadcast(session, broadcast.id)  # started once only
    assert len(await _notices(session, broadcast.id)) == 3


async def test_scheduled_broadcast_starts_once_and_can_be_cancelled(
    session: AsyncSession, villages: list[Village]
) -> None:
    coordinator = await _population(session, villages)
    later = datetime.now(UTC) + timedelta(hours=1)
    first = await broadcasts.create_broadcast(
        session, coordinator, Audience("all"), {"": "A"}, scheduled_at=later
    )
    assert first.status == BroadcastStatus.SCHEDULED and await _notices(session, first.id) == []
    assert [b.id for b in await broadcasts.scheduled(session)] == [first.id]
    assert await broadcasts.start_broadcast(session, first.id)
    assert not await broadcasts.start_broadcast(session, first.id)
    cancelled = await broadcasts.cancel_broadcast(session, coordinator, first.id)
    assert cancelled.status == BroadcastStatus.CANCELLED
    statuses = {n.status for n in await _notices(session, first.id)}
    assert statuses == {NoticeStatus.CANCELLED}
    with pytest.raises(DomainError):
        await broadcasts.cancel_broadcast(session, coordinator, first.id)


async def test_content_and_permission_rules(session: AsyncSession, villages: list[Village]) -> None:
    coordinator = await _population(session, villages)
    farmer = await users.get_user(session, 1)
    assert farmer is not None
    with pytest.raises(DomainError, match="not_allowed"):
        await broadcasts.create_broadcast(session, farmer, Audience("all"), {"": "x"})
    with pytest.raises(DomainError, match="broadcast_empty"):
        await broadcasts.create_broadcast(session, coordinator, Audience("all"), {})
    with pytest.raises(DomainError, match="broadcast_too_long"):
        await broadcasts.create_broadcast(
            session, coordinator, Audience("all"), {"": "x" * 1001}, "photo-id"
        )
    photo_only = await broadcasts.create_broadcast(
        session, coordinator, Audience("all"), {}, "photo-id"
    )
    assert photo_only.total == 5


async def test_dedup_key_makes_a_notice_once(
    session: AsyncSession, villages: list[Village]
) -> None:
    coordinator = await _population(session, villages)
    assert await enqueue(session, coordinator.id, "promoted", {}, "same-key")
    assert not await enqueue(session, coordinator.id, "promoted", {}, "same-key")
    assert await session.scalar(select(func.count(Notice.id))) == 1


def test_schedule_time_is_read_in_the_programme_time_zone() -> None:
    now = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
    assert broadcasts.parse_schedule_time("2026-12-01 09:00", SHANGHAI, now) == datetime(
        2026, 12, 1, 1, 0, tzinfo=UTC
    )
    assert broadcasts.parse_schedule_time("２０２６/12/01 09:00:30", SHANGHAI, now) == datetime(
        2026, 12, 1, 1, 0, 30, tzinfo=UTC
    )
    for text, reason in [("soon", "schedule_unreadable"), ("2026-11-29 08:59", "schedule_in_past")]:
        with pytest.raises(DomainError, match=reason):
            broadcasts.parse_schedule_time(text, SHANGHAI, now)
