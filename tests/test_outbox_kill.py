"""Killing the bot in the middle of a broadcast loses no notice and repeats at most the
messages that were in flight (the window, NOTICE_MAX_IN_FLIGHT at most): a real
`python -m bot run` process, SIGKILLed and started again, against the emulator running in
this test, with Telegram next door and 100 ms away."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import outbox
from bot.config import REPO_ROOT
from bot.db import make_engine, make_sessionmaker
from bot.models import Notice, User, utcnow
from tests.conftest import TOKEN
from tests.emulator import BotApiEmulator

RECIPIENTS = 250
RATE = 50
WINDOW = 8  # NOTICE_MAX_IN_FLIGHT: at 100 ms the rate alone would want 10 in flight


async def start_bot(
    database_url: str, emulator: BotApiEmulator, log: Path
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": database_url,
        "TELEGRAM_API_URL": emulator.base_url,
        "NOTICE_RATE": str(RATE),
        "NOTICE_MAX_IN_FLIGHT": str(WINDOW),
        "POLLING_TIMEOUT": "1",
        "COORDINATOR_IDS": "",
        "REDIS_URL": "",
        "PYTHONPATH": str(REPO_ROOT),
    }
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=log.parent,  # no .env of the checkout
            env=env,
            stdout=output,
            stderr=output,
        )


async def statuses(engine: AsyncEngine) -> dict[str, int]:
    async with make_sessionmaker(engine)() as session:
        rows = await session.execute(select(Notice.status, func.count()).group_by(Notice.status))
        counts = {str(status): int(count) for status, count in rows.all()}
        await session.commit()
    return counts


async def drained(engine: AsyncEngine, within: float = 30) -> None:
    """Until every notice is recorded as sent: nothing is left to send, so nothing more can
    arrive (the killed process's sends ended with it)."""
    for _ in range(int(within / 0.1)):
        if await statuses(engine) == {"sent": RECIPIENTS}:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not drained within {within} s: {await statuses(engine)}")


@pytest.mark.parametrize("latency", [0.0, 0.1], ids=["near", "100ms"])
async def test_kill_and_restart_mid_broadcast(
    database_url: str, emulator: BotApiEmulator, tmp_path: Path, latency: float
) -> None:
    emulator.latency = latency
    telegram_ids = list(range(5000, 5000 + RECIPIENTS))
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                insert(User),
                [{"telegram_id": t, "registered_at": utcnow()} for t in telegram_ids],
            )
            await outbox.enqueue_for(
                session,
                select(User.id).where(User.telegram_id.in_(telegram_ids)),
                "promoted",
                {},
                "kill-test:",
            )
        for telegram_id in telegram_ids:
            emulator.user(telegram_id)

        def delivered(emu: BotApiEmulator) -> int:
            return sum(1 for chat in telegram_ids if chat in emu.sent_times)

        log = tmp_path / "bot.log"
        bot = await start_bot(database_url, emulator, log)
        try:
            await emulator.wait_for(lambda e: delivered(e) >= 60, timeout=30)
        finally:
            bot.send_signal(signal.SIGKILL)
            await asyncio.wait_for(bot.wait(), timeout=10)  # reaped: its PID is gone
        assert bot.returncode == -signal.SIGKILL
        at_kill = delivered(emulator)
        assert at_kill < RECIPIENTS, "the broadcast was over before the kill"

        bot = await start_bot(database_url, emulator, log)
        try:
            await emulator.wait_for(lambda e: delivered(e) == RECIPIENTS, timeout=30)
            await drained(engine)
        finally:
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), timeout=15)

        got = Counter({chat: len(emulator.sent_times.get(chat, [])) for chat in telegram_ids})
        assert not [chat for chat, n in got.items() if n == 0]
        twice = [chat for chat, n in got.items() if n > 1]
        assert len(twice) <= WINDOW, (twice, log.read_text())
        assert all(got[chat] == 2 for chat in twice), (twice, log.read_text())
        assert await statuses(engine) == {"sent": RECIPIENTS}
        print(f"killed after {at_kill} delivered; sent twice: {twice}")
    finally:
        await engine.dispose()
