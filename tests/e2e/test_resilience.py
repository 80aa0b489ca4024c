"""Failures users must never see as silence: a crashing handler, and dialogue state in Redis."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.models import User, Village
from bot.services import harvests
from tests.conftest import BotRunner
from tests.e2e.flows import register_farmer
from tests.emulator import BotApiEmulator


async def test_a_failing_handler_apologises_and_the_bot_goes_on(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chat = emulator.user(301, language_code="zh")
    await register_farmer(chat, "zh")

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(harvests, "list_reports", broken)
        await chat.send("📋 我的上报")
        assert "系统出了点问题" in (await chat.receive()).text
    await chat.send("📋 我的上报")
    assert "还没有上报" in (await chat.receive()).text


async def test_dialogue_state_in_redis_survives_a_restart(
    emulator: BotApiEmulator, redis_settings: Settings, villages: list[Village]
) -> None:
    runner = BotRunner(redis_settings)
    await runner.start()
    try:
        chat = emulator.user(302, language_code="en")
        await chat.send("/start")
        await chat.receive()
        await chat.press("English")
        await chat.receive_until(lambda m: bool(m.buttons))
        await chat.press("🌱 I grow coffee")
        await chat.receive_until(lambda m: "name" in m.text)
        await runner.restart()
        await chat.send("Mei")
        asked = await chat.receive()
        assert asked.reply_keyboard and asked.reply_keyboard[0][0].request_contact
    finally:
        await runner.stop()


async def test_blocking_the_bot_is_noticed_and_unblocking_too(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
) -> None:
    chat = emulator.user(303, language_code="en")
    await register_farmer(chat, "en", name="Lu")

    async def blocked() -> bool:
        session.expire_all()
        user = await session.scalar(select(User).where(User.telegram_id == 303))
        await session.commit()
        assert user is not None
        return user.blocked

    chat.block()
    await running_bot.idle(chat)  # the my_chat_member update was handled
    assert await blocked()
    chat.unblock()
    await chat.send("/start")
    await chat.receive()
    await running_bot.idle(chat)
    assert not await blocked()
