"""Broadcast services on a real database: audiences, idempotent start, cancel, scheduling."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.config import REPO_ROOT
from bot.db import is_sqlite, make_engine, make_sessionmaker
from bot.i18n import make_i18n
from bot.models import (
    Broadcast,
    BroadcastStatus,
    MerchantStatus,
    Notice,
    NoticeStatus,
    User,
    Village,
    utcnow,
)
from bot.notice_texts import render
from bot.outbox import enqueue, mark_blocked
from bot.services import broadcasts, users
from bot.services.access import OPERATOR
from bot.services.broadcasts import Audience
from bot.services.errors import DomainError
from bot.services.villages import add_village

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
    await _approve(session, 4)
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


async def _approve(session: AsyncSession, telegram_id: int) -> None:
    merchant = await users.get_user(session, telegram_id)
    assert merchant is not None
    merchant.merchant_status = MerchantStatus.APPROVED
    await session.flush()


async def test_only_approved_merchants_are_in_an_audience(
    session: AsyncSession, villages: list[Village]
) -> None:
    coordinator = await _population(session, villages)  # merchant 4 is pending
    rejected = await users.ensure_user(session, 6)
    await users.set_language(session, rejected, "en")
    await users.register_merchant(session, rejected, company="Nope", contact="7654321")
    rejected.merchant_status = MerchantStatus.REJECTED
    await session.flush()
    counts = {
        kind: await broadcasts.count_audience(session, Audience(kind))
        for kind in ("all", "merchants")
    }
    assert counts == {"all": 4, "merchants": 0}
    assert await broadcasts.count_audience(session, Audience("language", "en")) == 1
    everyone = await broadcasts.create_broadcast(session, coordinator, Audience("all"), {"": "x"})
    recipients = {n.recipient_id for n in await _notices(session, everyone.id)}
    assert rejected.id not in recipients and len(recipients) == 4
    await _approve(session, 4)
    assert await broadcasts.count_audience(session, Audience("merchants")) == 1
    assert await broadcasts.count_audience(session, Audience("all")) == 5


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
    assert photo_only.total == 4  # the merchant is not approved yet


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


# ---------------------------------------------------------------------------- life cycle


async def _outcomes(session: AsyncSession, broadcast_id: int, *statuses: NoticeStatus) -> None:
    """Give the broadcast's notices these outcomes, in id order."""
    notices = sorted(await _notices(session, broadcast_id), key=lambda n: n.id)
    for notice, status in zip(notices, statuses, strict=False):
        notice.status = status
    await session.flush()


async def _reports(session: AsyncSession) -> list[Notice]:
    rows = await session.scalars(
        select(Notice).where(Notice.kind == broadcasts.REPORT_KIND).order_by(Notice.id)
    )
    return list(rows)


async def test_a_scheduled_broadcast_ends_done_with_a_report_to_its_author(
    session: AsyncSession, villages: list[Village]
) -> None:
    coordinator = await _population(session, villages)
    later = datetime.now(UTC) + timedelta(hours=1)
    scheduled = await broadcasts.create_broadcast(
        session, coordinator, Audience("farmers"), {"": "A"}, scheduled_at=later
    )
    assert await broadcasts.start_broadcast(session, scheduled.id)
    await _outcomes(session, scheduled.id, NoticeStatus.SENT, NoticeStatus.DROPPED)
    assert await broadcasts.settle(session) == []  # one notice is still pending
    await _outcomes(
        session, scheduled.id, NoticeStatus.SENT, NoticeStatus.DROPPED, NoticeStatus.FAILED
    )
    assert await broadcasts.settle(session) == [
        broadcasts.Finished(scheduled.id, BroadcastStatus.DONE, reported=True)
    ]
    await session.refresh(scheduled)
    assert scheduled.status == BroadcastStatus.DONE and scheduled.finished_at is not None
    assert await broadcasts.active(session) == []
    [report] = await _reports(session)
    assert report.recipient_id == coordinator.id and report.broadcast_id is None
    assert report.dedup_key == f"broadcast-report:{scheduled.id}"
    assert report.payload == {
        "broadcast_id": scheduled.id,
        "status": "done",
        "sent": 1,
        "total": 3,
        "blocked": 1,
        "failed": 1,
    }
    assert await broadcasts.settle(session) == []  # finished once, reported once
    assert len(await _reports(session)) == 1
    i18n = make_i18n(REPO_ROOT / "locales", "zh")
    assert render(report.kind, report.payload, "en", i18n).text == (
        f"✅ Announcement #{scheduled.id} is done: 1 of 3 sent, 1 blocked the bot, 1 failed."
    )
    assert render(report.kind, report.payload, "zh", i18n).text.startswith(
        f"✅ 公告 #{scheduled.id} 发送完毕"
    )


async def test_a_broadcast_with_a_progress_message_is_reported_there(
    session: AsyncSession, villages: list[Village]
) -> None:
    coordinator = await _population(session, villages)
    shown = await broadcasts.create_broadcast(
        session,
        coordinator,
        Audience("farmers"),
        {"": "A"},
        progress_chat_id=99,
        progress_message_id=7,
    )
    await _outcomes(session, shown.id, *[NoticeStatus.SENT] * 3)
    assert await broadcasts.settle(session) == [
        broadcasts.Finished(shown.id, BroadcastStatus.DONE, reported=False)
    ]
    [(listed, _language, counts)] = await broadcasts.shown_in_messages(session)
    assert listed.id == shown.id and counts.sent == 3  # its last edit is the report
    # The message was deleted meanwhile: the report goes through the outbox instead.
    assert await broadcasts.progress_message_lost(session, shown.id)
    assert not await broadcasts.progress_message_lost(session, shown.id)
    assert await broadcasts.shown_in_messages(session) == []
    [report] = await _reports(session)
    assert report.payload["sent"] == 3 and report.recipient_id == coordinator.id


async def test_a_lost_progress_message_of_a_running_broadcast_reports_at_the_end(
    session: AsyncSession, villages: list[Village]
) -> None:
    coordinator = await _population(session, villages)
    shown = await broadcasts.create_broadcast(
        session,
        coordinator,
        Audience("farmers"),
        {"": "A"},
        progress_chat_id=99,
        progress_message_id=7,
    )
    # The author blocked the bot: flagged, and no report is written for them.
    assert not await broadcasts.progress_message_lost(session, shown.id, author_blocked=True)
    await session.refresh(coordinator)
    assert coordinator.blocked
    await _outcomes(session, shown.id, *[NoticeStatus.SENT] * 3)
    assert await broadcasts.settle(session) == [
        broadcasts.Finished(shown.id, BroadcastStatus.DONE, reported=False)
    ]
    assert await _reports(session) == []


async def test_a_cancelled_broadcast_is_reported_once_its_claimed_notices_end(
    session: AsyncSession, villages: list[Village]
) -> None:
    coordinator = await _population(session, villages)
    running = await broadcasts.create_broadcast(
        session, coordinator, Audience("farmers"), {"": "A"}
    )
    await _outcomes(session, running.id, NoticeStatus.SENT, NoticeStatus.CLAIMED)
    await broadcasts.cancel_broadcast(session, coordinator, running.id)
    statuses = sorted(n.status.value for n in await _notices(session, running.id))
    assert statuses == ["cancelled", "claimed", "sent"]
    assert await broadcasts.settle(session) == []  # a dispatcher holds one: not final yet
    await session.refresh(running)
    assert running.status == BroadcastStatus.CANCELLED and running.finished_at is None
    # The dispatcher puts it back unsent: it is cancelled too, and the counts are final.
    await _outcomes(session, running.id, NoticeStatus.SENT, NoticeStatus.PENDING)
    assert await broadcasts.settle(session) == [
        broadcasts.Finished(running.id, BroadcastStatus.CANCELLED, reported=True)
    ]
    [report] = await _reports(session)
    assert report.payload["status"] == "cancelled" and report.payload["sent"] == 1
    # Cancelled before it started: nothing was sent, so there is nothing to report.
    later = datetime.now(UTC) + timedelta(hours=1)
    never = await broadcasts.create_broadcast(
        session, coordinator, Audience("all"), {"": "B"}, scheduled_at=later
    )
    await broadcasts.cancel_broadcast(session, coordinator, never.id)
    assert await broadcasts.settle(session) == [] and len(await _reports(session)) == 1


async def test_a_broadcast_stuck_sending_from_before_is_finished_after_a_restart(
    session: AsyncSession, villages: list[Village]
) -> None:
    """Driven from the database alone: a broadcast left "sending" by an older version (or a
    process that died) is finished by the next settle."""
    coordinator = await _population(session, villages)
    old = await broadcasts.create_broadcast(session, coordinator, Audience("farmers"), {"": "A"})
    await _outcomes(session, old.id, *[NoticeStatus.SENT] * 3)
    await session.commit()
    finished = await broadcasts.settle(session)
    assert [f.broadcast_id for f in finished] == [old.id]


async def test_cancel_waits_for_a_start_in_progress_on_postgresql(database_url: str) -> None:
    """Two real transactions: a scheduled start is open when the cancel comes. The cancel
    must see the notices it wrote, or they are all sent from a "cancelled" broadcast."""
    if is_sqlite(database_url):
        pytest.skip("SQLite runs one writing transaction at a time: no overlap to test")
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as setup, setup.begin():
            villages = [
                await add_village(setup, OPERATOR, "Conggang", "cg"),
                await add_village(setup, OPERATOR, "Nankang", "nk"),
            ]
            coordinator = await _population(setup, villages)
            later = datetime.now(UTC) + timedelta(hours=1)
            broadcast = await broadcasts.create_broadcast(
                setup, coordinator, Audience("farmers"), {"": "A"}, scheduled_at=later
            )
            broadcast_id = broadcast.id

        async def cancel() -> None:
            async with sessions() as session, session.begin():
                await broadcasts.cancel_broadcast(session, coordinator, broadcast_id)

        async with sessions() as starting:
            await starting.begin()
            assert await broadcasts.start_broadcast(starting, broadcast_id)
            cancelling = asyncio.create_task(cancel())
            await _until_waiting_on_a_lock(engine)
            await starting.commit()
        await asyncio.wait_for(cancelling, timeout=10)
        async with sessions() as check:
            row = await check.get(Broadcast, broadcast_id)
            assert row is not None and row.status == BroadcastStatus.CANCELLED
            statuses = set(
                await check.scalars(
                    select(Notice.status).where(Notice.broadcast_id == broadcast_id)
                )
            )
            assert statuses == {NoticeStatus.CANCELLED}
    finally:
        await engine.dispose()


async def _until_waiting_on_a_lock(engine: AsyncEngine, within: float = 10.0) -> None:
    """Bounded wait until another session of this database waits on a row lock."""
    query = sql(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(int(within / 0.02)):
        async with engine.connect() as conn:
            if await conn.scalar(query):
                return
        await asyncio.sleep(0.02)
    raise AssertionError("the cancel never waited for the start")


async def test_a_scheduled_broadcast_to_nobody_is_still_reported(
    session: AsyncSession, villages: list[Village]
) -> None:
    coordinator = await _population(session, villages)
    later = datetime.now(UTC) + timedelta(hours=1)
    empty = await broadcasts.create_broadcast(
        session, coordinator, Audience("village", villages[1].id), {"": "A"}, scheduled_at=later
    )
    farmer = await users.get_user(session, 3)  # the village's only farmer leaves
    assert farmer is not None
    await mark_blocked(session, farmer.id)
    assert await broadcasts.start_broadcast(session, empty.id)
    assert await broadcasts.settle(session) == [
        broadcasts.Finished(empty.id, BroadcastStatus.DONE, reported=True)
    ]
    [report] = await _reports(session)
    assert report.payload["total"] == 0


async def test_a_progress_message_on_its_way_is_waited_for_then_given_up(
    session: AsyncSession, villages: list[Village]
) -> None:
    """Sent now: the progress message leaves after the start commits and its id is recorded
    a moment later. A broadcast that ends meanwhile is not reported twice (once through the
    outbox, once in the message recorded just after)."""
    coordinator = await _population(session, villages)
    quick = await broadcasts.create_broadcast(
        session, coordinator, Audience("farmers"), {"": "A"}, progress_chat_id=99
    )
    await _outcomes(session, quick.id, *[NoticeStatus.SENT] * 3)
    assert await broadcasts.settle(session) == []  # its message is on its way
    await broadcasts.set_progress_message(session, quick.id, 41)
    assert await broadcasts.settle(session) == [
        broadcasts.Finished(quick.id, BroadcastStatus.DONE, reported=False)
    ]
    assert await _reports(session) == []  # the message shows the report

    lost = await broadcasts.create_broadcast(
        session, coordinator, Audience("farmers"), {"": "B"}, progress_chat_id=99
    )
    await _outcomes(session, lost.id, *[NoticeStatus.SENT] * 3)
    lost.started_at = utcnow() - broadcasts.PROGRESS_MESSAGE_GRACE - timedelta(seconds=1)
    await session.flush()
    assert await broadcasts.settle(session) == [
        broadcasts.Finished(lost.id, BroadcastStatus.DONE, reported=True)
    ]
    await broadcasts.set_progress_message(session, lost.id, 42)  # too late: not used
    await session.refresh(lost)
    assert lost.progress_message_id is None
    assert len(await _reports(session)) == 1
