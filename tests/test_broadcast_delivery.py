"""Broadcasts through the real notice dispatcher and Bot against the emulator, on SQLite and
PostgreSQL: a cancel stops notices already claimed, progress messages that cannot be edited
are given up without stopping the others, and the final report reaches the author."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import handlers
from bot.config import REPO_ROOT
from bot.db import make_engine, make_sessionmaker
from bot.i18n import make_i18n
from bot.models import Broadcast, BroadcastStatus, Notice, NoticeStatus, User, Village
from bot.notice_dispatcher import DispatcherOptions, NoticeDispatcher
from bot.services import broadcasts, users
from bot.services.broadcasts import Audience
from tests.conditions import eventually
from tests.conftest import TOKEN
from tests.emulator import BotApiEmulator

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    api = TelegramAPIServer.from_base(emulator.base_url)
    bot = Bot(TOKEN, session=AiohttpSession(api=api))
    try:
        yield bot
    finally:
        await bot.session.close()


def _dispatcher(bot: Bot, sessions: Sessions, **options: Any) -> NoticeDispatcher:
    return NoticeDispatcher(
        bot,
        sessions,
        make_i18n(REPO_ROOT / "locales", "zh"),
        DispatcherOptions(**{"rate": 50.0, "idle": 0.05, "progress_every": 0.2, **options}),
        progress_view=handlers.progress_view,
    )


async def _farmers(
    sessions: Sessions, emulator: BotApiEmulator, village: Village, count: int
) -> None:
    async with sessions() as session, session.begin():
        for telegram_id in range(500, 500 + count):
            user = await users.ensure_user(session, telegram_id)
            await users.set_language(session, user, "en")
            await users.register_farmer(
                session, user, name="F", phone="13800000000", village_id=village.id
            )
            emulator.user(telegram_id)


async def _coordinator(sessions: Sessions, emulator: BotApiEmulator, telegram_id: int) -> User:
    async with sessions() as session, session.begin():
        user = await users.ensure_user(session, telegram_id, coordinator_ids={telegram_id})
        await users.set_language(session, user, "en")
    emulator.user(telegram_id, language_code="en")
    return user


async def _statuses(sessions: Sessions, broadcast_id: int) -> Counter[str]:
    async with sessions() as session:
        rows = await session.execute(
            select(Notice.status, func.count())
            .where(Notice.broadcast_id == broadcast_id)
            .group_by(Notice.status)
        )
        await session.commit()
    return Counter({str(status): int(n) for status, n in rows.all()})


async def _broadcast(sessions: Sessions, broadcast_id: int) -> Broadcast:
    async with sessions() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        await session.commit()
    assert broadcast is not None
    return broadcast


async def test_claimed_notices_of_a_cancelled_broadcast_are_not_sent(
    sessions: Sessions, emulator: BotApiEmulator, villages: list[Village], bot: Bot
) -> None:
    """The dispatcher claimed all five notices and is sending the first when the cancel
    commits: that one goes (it was in flight), the four others are dropped, counted neither
    sent nor failed, and the author is told the final counts through the outbox."""
    await _farmers(sessions, emulator, villages[0], 5)
    author = await _coordinator(sessions, emulator, 99)
    async with sessions() as session, session.begin():
        coordinator = await session.get(User, author.id)
        assert coordinator is not None
        broadcast = await broadcasts.create_broadcast(
            session, coordinator, Audience("farmers"), {"": "Market closed"}
        )
    in_flight, release = asyncio.Event(), asyncio.Event()
    send_message = bot.send_message

    async def first_one_held(*args: Any, **kwargs: Any) -> Any:
        if not in_flight.is_set():
            in_flight.set()
            await release.wait()
        return await send_message(*args, **kwargs)

    bot.send_message = first_one_held  # type: ignore[method-assign]
    # One send in flight: the one held (with a wider window, those in flight go too).
    dispatcher = _dispatcher(bot, sessions, cancel_recheck=0.0, max_in_flight=1)
    await dispatcher.start()
    try:
        await asyncio.wait_for(in_flight.wait(), timeout=10)
        assert (await _statuses(sessions, broadcast.id)) == {"claimed": 5}
        async with sessions() as session, session.begin():
            await broadcasts.cancel_broadcast(session, coordinator, broadcast.id)
        release.set()

        async def settled() -> bool:
            statuses = await _statuses(sessions, broadcast.id)
            return not statuses["claimed"] and not statuses["pending"]

        await eventually(settled, "the cancelled broadcast settled")
        assert (await _statuses(sessions, broadcast.id)) == {"sent": 1, "cancelled": 4}
        got = await emulator.user(99).receive(timeout=10)
    finally:
        await dispatcher.stop()
    assert [m.text for m in emulator.user(500).messages] == [
        "📣 Announcement from farmgate\n\nMarket closed"
    ]
    assert len(emulator.sent_log) == 2  # the one in flight, and the report
    assert got.text == (
        f"⏹ Announcement #{broadcast.id} was cancelled: 1 of 5 sent before it stopped, "
        "0 blocked the bot, 0 failed."
    )
    finished = await _broadcast(sessions, broadcast.id)
    assert finished.status == BroadcastStatus.CANCELLED and finished.finished_at is not None


async def test_progress_messages_that_cannot_be_edited_are_given_up(
    sessions: Sessions,
    emulator: BotApiEmulator,
    villages: list[Village],
    bot: Bot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three running broadcasts: the first author blocked the bot, the second deleted the
    progress message. Both are given up once (not tried again every tick), the third is still
    updated to its end, and all three finish; the second author gets the report anew."""
    await _farmers(sessions, emulator, villages[0], 3)
    ids: list[int] = []
    messages: dict[int, int] = {}
    for telegram_id in (9001, 9002, 9003):
        author = await _coordinator(sessions, emulator, telegram_id)
        message = await bot.send_message(telegram_id, "📣 Preparing the announcement…")
        messages[telegram_id] = message.message_id
        async with sessions() as session, session.begin():
            coordinator = await session.get(User, author.id)
            assert coordinator is not None
            broadcast = await broadcasts.create_broadcast(
                session,
                coordinator,
                Audience("farmers"),
                {"": "News"},
                progress_chat_id=telegram_id,
                progress_message_id=message.message_id,
            )
            ids.append(broadcast.id)
    emulator.block(9001)
    assert emulator.user(9002).delete_message(messages[9002])
    dispatcher = _dispatcher(bot, sessions)  # not started: the test runs its ticks

    def edits(chat_id: int) -> int:
        return sum(1 for c in emulator.calls_to("editMessageText") if c.chat_id == chat_id)

    with caplog.at_level(logging.INFO):
        await dispatcher.report_progress()
        shown = emulator.user(9003).bot_message(messages[9003])
        assert shown is not None and "0 of 3 sent" in shown.text
        # After a restart the same text is edited again: "message is not modified" is no
        # reason to give the message up.
        await _dispatcher(bot, sessions).report_progress()
        assert (await _broadcast(sessions, ids[2])).progress_message_id == messages[9003]
        async with sessions() as session, session.begin():
            await session.execute(update(Notice).values(status=NoticeStatus.SENT))
        await dispatcher.report_progress()
        await dispatcher.report_progress()
    assert f"Announcement #{ids[2]} is done: 3 of 3 sent" in shown.text
    assert (edits(9001), edits(9002), edits(9003)) == (1, 1, 3)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    for broadcast_id in ids:
        finished = await _broadcast(sessions, broadcast_id)
        assert finished.status == BroadcastStatus.DONE and finished.progress_message_id is None
    async with sessions() as session:
        blocked = await users.get_user(session, 9001)
        reports = list(
            await session.scalars(select(Notice).where(Notice.kind == broadcasts.REPORT_KIND))
        )
        await session.commit()
    assert blocked is not None and blocked.blocked
    assert [n.dedup_key for n in reports] == [f"broadcast-report:{ids[1]}"]
