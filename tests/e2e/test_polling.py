"""Polling under load and at shutdown: at most as many updates at once as the database pool
serves, all of them handled, and none still running when the dialogue storage closes."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update

from bot.config import Settings
from bot.db import BACKGROUND_CONNECTIONS
from bot.models import Village
from tests.conftest import BotRunner
from tests.emulator import BotApiEmulator


class Concurrency:
    """Counts updates the Dispatcher is feeding now (its whole chain, FSM lock included), and
    the most at once, by wrapping its public `feed_update` on the instance."""

    def __init__(self, dp: Dispatcher) -> None:
        self.now = 0
        self.peak = 0
        self.entered = asyncio.Event()
        feed = dp.feed_update

        async def counted(bot: Bot, update: Update, **kwargs: Any) -> Any:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.entered.set()
            try:
                return await feed(bot, update, **kwargs)
            finally:
                self.now -= 1

        dp.feed_update = counted  # type: ignore[method-assign]


async def test_more_updates_than_the_limit_are_all_handled_never_more_at_once(
    emulator: BotApiEmulator, settings: Settings, villages: list[Village]
) -> None:
    pool = 5
    limit = pool - BACKGROUND_CONNECTIONS
    runner = BotRunner(settings.model_copy(update={"database_pool_size": pool}))
    await runner.start()
    try:
        assert runner.app is not None
        counter = Concurrency(runner.app.dp)
        emulator.latency = 0.2  # each reply takes a while, so updates overlap
        chats = [emulator.user(500 + i, language_code="en") for i in range(4 * limit)]
        await asyncio.gather(*(chat.send("/start") for chat in chats))
        replies = await asyncio.gather(*(chat.receive(timeout=30) for chat in chats))
        assert all("Choose your language" in reply.text for reply in replies)
        assert 2 <= counter.peak <= limit
        assert runner.app.dp.in_flight.peak <= limit
    finally:
        await runner.stop()


async def test_shutdown_waits_for_updates_in_flight_before_the_storage_closes(
    emulator: BotApiEmulator, settings: Settings, villages: list[Village]
) -> None:
    runner = BotRunner(settings)
    await runner.start()
    assert runner.app is not None
    counter = Concurrency(runner.app.dp)
    storage = runner.app.dp.storage
    in_flight_at_close: list[int] = []
    close = storage.close

    async def recording_close() -> None:
        in_flight_at_close.append(counter.now)
        await close()

    storage.close = recording_close  # type: ignore[method-assign]
    emulator.latency = 0.5
    chat = emulator.user(601, language_code="en")
    await chat.send("/start")
    await asyncio.wait_for(counter.entered.wait(), timeout=10)
    assert counter.now == 1  # being handled: its reply waits 0.5 s on the emulator
    await runner.stop()
    assert in_flight_at_close and in_flight_at_close[0] == 0
    assert "Choose your language" in (await chat.receive()).text
