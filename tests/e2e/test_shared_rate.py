"""Replies and notices share Telegram's global limit: a broadcast at NOTICE_RATE leaves room
for the users who chat with the bot meanwhile, with the emulator enforcing Telegram's limits
(30 messages a second overall, one a second per chat)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.models import Notice, NoticeStatus, Role, User, Village, utcnow
from bot.services import broadcasts, users
from bot.services.broadcasts import Audience
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.emulator import BotApiEmulator, UserChat

RECIPIENTS = 150
CHATTERS = 5
RATE = 30


async def _recipients(session: AsyncSession, emulator: BotApiEmulator, village: Village) -> None:
    ids = range(20_000, 20_000 + RECIPIENTS)
    await session.execute(
        insert(User),
        [
            {
                "telegram_id": telegram_id,
                "role": Role.FARMER,
                "name": f"Farmer {telegram_id}",
                "language": "en",
                "village_id": village.id,
                "registered_at": utcnow(),
            }
            for telegram_id in ids
        ],
    )
    for telegram_id in ids:
        emulator.user(telegram_id, language_code="en")


async def _chatters(
    session: AsyncSession, emulator: BotApiEmulator, village: Village
) -> list[UserChat]:
    chats = []
    for telegram_id in range(30_000, 30_000 + CHATTERS):
        user = await users.ensure_user(session, telegram_id)
        await users.set_language(session, user, "en")
        await users.register_farmer(
            session, user, name="Talker", phone="13800000000", village_id=village.id
        )
        chats.append(emulator.user(telegram_id, language_code="en"))
    return chats


async def _chat(chat: UserChat, done: asyncio.Event) -> int:
    """Ask for help again and again until the broadcast is over; how many replies came."""
    replies = 0
    while not done.is_set():
        await chat.send("/help")
        await chat.receive(timeout=10)
        replies += 1
        await asyncio.sleep(1.05)  # a person reads for a second (Telegram: 1/s per chat)
    return replies


def delivered(emu: BotApiEmulator) -> int:
    """Notices received by the broadcast's recipients."""
    return sum(len(times) for chat, times in emu.sent_times.items() if 20_000 <= chat < 30_000)


async def test_a_broadcast_at_full_rate_leaves_room_for_replies(
    emulator: BotApiEmulator, villages: list[Village], session: AsyncSession, settings: Settings
) -> None:
    audience, elsewhere = villages
    await _recipients(session, emulator, audience)
    chatters = await _chatters(session, emulator, elsewhere)
    coordinator = await users.ensure_user(session, COORDINATOR_ID, frozenset({COORDINATOR_ID}))
    await session.commit()
    emulator.enforce_limits(per_chat_per_s=1, global_per_s=RATE)
    runner = BotRunner(settings.model_copy(update={"notice_rate": float(RATE)}))
    await runner.start()
    try:
        done = asyncio.Event()
        talks = [asyncio.create_task(_chat(chat, done)) for chat in chatters]
        async with session.begin():
            broadcast = await broadcasts.create_broadcast(
                session, coordinator, Audience("village", audience.id), {"": "Rain tomorrow"}
            )
        assert broadcast.total == RECIPIENTS
        assert runner.app is not None
        runner.app.notices.wake()

        await emulator.wait_for(lambda e: delivered(e) >= RECIPIENTS, timeout=30)
        done.set()
        replies = sum(await asyncio.gather(*talks))
    finally:
        await runner.stop()
    refused = [(c.method, c.chat_id) for c in emulator.calls if c.status == 429]
    assert refused == []
    assert replies >= 2 * CHATTERS  # they did chat during the broadcast
    assert delivered(emulator) == RECIPIENTS
    left = await session.scalar(
        select(func.count(Notice.id)).where(
            Notice.status != NoticeStatus.SENT, Notice.broadcast_id.is_not(None)
        )
    )
    await session.commit()
    assert left == 0
