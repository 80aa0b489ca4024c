"""Polling under load and at shutdown: updates overlap while their replies travel, at most as
many use the database at once as the pool serves, all of them are handled, and none is still
running when the dialogue storage closes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import BACKGROUND_CONNECTIONS
from bot.middlewares import DbSessionMiddleware
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


class SessionsInUse:
    """Counts the update sessions open now, and the most at once, by wrapping the session
    factory of the update middleware (DbSessionMiddleware) on the instance."""

    def __init__(self, dp: Dispatcher) -> None:
        (middleware,) = [
            m for m in dp.update.outer_middleware if isinstance(m, DbSessionMiddleware)
        ]
        self.now = self.peak = 0
        make = middleware.sessionmaker

        @contextlib.asynccontextmanager
        async def counted() -> AsyncIterator[AsyncSession]:
            self.now += 1
            self.peak = max(self.peak, self.now)
            try:
                async with make() as session:
                    yield session
            finally:
                self.now -= 1

        middleware.sessionmaker = counted  # type: ignore[assignment]


async def test_updates_overlap_while_replies_travel_the_database_serves_a_few_at_once(
    emulator: BotApiEmulator, settings: Settings, villages: list[Village]
) -> None:
    pool = 5
    slots = pool - BACKGROUND_CONNECTIONS
    runner = BotRunner(settings.model_copy(update={"database_pool_size": pool}))
    await runner.start()
    try:
        assert runner.app is not None
        updates = Concurrency(runner.app.dp)
        sessions = SessionsInUse(runner.app.dp)
        emulator.latency = 0.2  # each reply takes a while, so updates overlap
        chats = [emulator.user(500 + i, language_code="en") for i in range(4 * slots)]
        await asyncio.gather(*(chat.send("/start") for chat in chats))
        replies = await asyncio.gather(*(chat.receive(timeout=30) for chat in chats))
        assert all("Choose your language" in reply.text for reply in replies)
        assert 1 <= sessions.peak <= slots
        # With the connection given back, the replies of more updates than that travel at once
        # (with the slots held through the replies, 12 updates took 4 rounds of 0.2 s).
        assert updates.peak > slots
        assert runner.app.dp.in_flight.peak > slots
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
