"""Failures users must never see as silence: a crashing handler, and dialogue state in Redis."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.config import Settings
from bot.models import Village
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


@pytest.fixture
async def redis_settings(settings: Settings) -> AsyncIterator[Settings]:
    url = os.environ.get("FARMGATE_TEST_REDIS_URL")
    if not url:
        pytest.skip("FARMGATE_TEST_REDIS_URL is not set: Redis tests skipped")
    client = Redis.from_url(url)
    await client.flushdb()
    await client.aclose()
    yield settings.model_copy(update={"redis_url": url})


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
