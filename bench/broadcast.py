"""Broadcast benchmark: ``python bench/broadcast.py [--quick]``.

Drains broadcasts through the real NoticeDispatcher and the real aiogram Bot into the Bot API
emulator, which runs in its own process (bench/emulator_proc.py); every rate is measured from
the emulator's receive timestamps. Phases:

1. one broadcast to distinct users at 30 messages/s;
2. one broadcast to distinct users at 1,000 messages/s;
3. several broadcasts to the same small set of chats at 1,000/s (the one-per-second-per-chat
   limit is the bottleneck there);
4. enqueueing 100,000 recipients of one broadcast on SQLite (users created untimed first,
   then create_broadcast + commit timed);
5. phases 1 and 2 again with a 100 ms round trip to the emulator (Telegram's real distance):
   `ratio_30_rtt100`, `ratio_1000_rtt100`.

Phases 1 to 3 run with the round trip of `--rtt-ms` (default 0: the emulator answers at once).

The emulator process keeps every message and does not collect garbage (its pauses would be
charged to the bot; bench/emulator_proc.py). Human-readable lines first; the last line is one
JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import cProfile
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import migrate
from bot.config import REPO_ROOT
from bot.db import make_engine, make_sessionmaker
from bot.i18n import make_i18n
from bot.models import Notice, NoticeStatus, Role, User, Village, utcnow
from bot.notice_dispatcher import DispatcherOptions, NoticeDispatcher
from bot.services import broadcasts
from bot.services.broadcasts import Audience

TOKEN = "123456:BENCH-token-abcdefghijklmnopqrstu"
COORDINATOR_TG = 1


@dataclass
class Sizes:
    n30: int  # notices at 30/s
    n1000: int  # notices at 1,000/s
    chats: int  # chats of the per-chat phase
    per_chat: int  # notices per chat in that phase
    enqueue: int  # recipients of the enqueue phase


QUICK = Sizes(n30=150, n1000=5_000, chats=40, per_chat=4, enqueue=100_000)
FULL = Sizes(n30=900, n1000=30_000, chats=200, per_chat=5, enqueue=100_000)


class Emulator:
    """The emulator process and its control port."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.api_url = ""
        self.control_url = ""
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.emulator_proc",
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = (await asyncio.wait_for(self.proc.stdout.readline(), timeout=30)).decode()
        if not line.startswith("READY "):
            raise RuntimeError(f"emulator did not start: {line!r}")
        _, self.api_url, self.control_url = line.split()
        self.http = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), timeout=10)

    async def sent(self, since: int = 0) -> list[tuple[float, int]]:
        assert self.http is not None
        async with self.http.get(f"{self.control_url}/_bench/sent?since={since}") as response:
            rows = await response.json()
        return [(float(t), int(chat)) for t, chat in rows]

    async def count(self) -> int:
        assert self.http is not None
        async with self.http.get(f"{self.control_url}/_bench/count") as response:
            return int(await response.json())

    async def reset(self) -> None:
        assert self.http is not None
        async with self.http.post(f"{self.control_url}/_bench/reset") as response:
            await response.read()

    async def set_round_trip(self, seconds: float) -> None:
        """Every Bot API call answers this much later from now on."""
        assert self.http is not None
        url = f"{self.control_url}/_bench/latency?ms={seconds * 1000:g}"
        async with self.http.post(url) as response:
            await response.read()


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most timestamps in any half-open window [t, t + window)."""
    times = sorted(times)
    best = 0
    for i, start in enumerate(times):
        best = max(best, bisect.bisect_left(times, start + window, lo=i) - i)
    return best


def max_per_chat(log: list[tuple[float, int]]) -> int:
    by_chat: dict[int, list[float]] = {}
    for moment, chat in log:
        by_chat.setdefault(chat, []).append(moment)
    return max((max_in_window(times) for times in by_chat.values()), default=0)


def achieved_rate(log: list[tuple[float, int]]) -> float:
    times = sorted(moment for moment, _ in log)
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


async def add_users(
    engine: AsyncEngine, count: int, first_telegram_id: int, village_id: int | None
) -> None:
    """Registered farmers, inserted in bulk (not part of any timing)."""
    now = utcnow()
    rows = [
        {
            "telegram_id": first_telegram_id + i,
            "role": Role.FARMER,
            "name": f"Farmer {i}",
            "language": "zh" if i % 3 else "en",
            "village_id": village_id,
            "registered_at": now,
        }
        for i in range(count)
    ]
    async with engine.begin() as conn:
        for start in range(0, count, 10_000):
            await conn.execute(insert(User), rows[start : start + 10_000])


async def add_village(sessionmaker: async_sessionmaker[AsyncSession], name: str) -> int:
    async with sessionmaker() as session, session.begin():
        village = Village(name=name, code=name.lower())
        session.add(village)
        await session.flush()
        return village.id


async def coordinator(session: AsyncSession) -> User:
    user = await session.scalar(select(User).where(User.telegram_id == COORDINATOR_TG))
    if user is None:
        user = User(telegram_id=COORDINATOR_TG, role=Role.COORDINATOR, registered_at=utcnow())
        session.add(user)
        await session.flush()
    return user


async def announce(sessionmaker: async_sessionmaker[AsyncSession], audience: Audience) -> int:
    async with sessionmaker() as session, session.begin():
        broadcast = await broadcasts.create_broadcast(
            session,
            await coordinator(session),
            audience,
            {"": "Price update: parchment 24.50 CNY/kg", "en": "Price update (en)"},
            # Sent now from a chat, as a coordinator does: its report is that message's last
            # edit (this bench edits nothing), so no report notice joins the drain.
            progress_chat_id=COORDINATOR_TG,
            progress_message_id=1,
        )
        return broadcast.total


async def drain(
    emulator: Emulator,
    sessionmaker: async_sessionmaker[AsyncSession],
    rate: float,
    expected: int,
    profile: cProfile.Profile | None = None,
) -> list[tuple[float, int]]:
    """Run a NoticeDispatcher until the emulator received `expected` more messages."""
    await emulator.reset()
    bot = Bot(
        TOKEN,
        session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.api_url), limit=220),
        default=DefaultBotProperties(parse_mode=None),
    )
    dispatcher = NoticeDispatcher(
        bot,
        sessionmaker,
        make_i18n(REPO_ROOT / "locales", "zh"),
        DispatcherOptions(rate=rate, chat_interval=1.0),
    )
    deadline = time.monotonic() + expected / rate * 3 + 60
    if profile is not None:
        profile.enable()
    await dispatcher.start()
    try:
        while (received := await emulator.count()) < expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {received} of {expected} messages arrived in time")
            await asyncio.sleep(0.5)
    finally:
        await dispatcher.stop()
        if profile is not None:
            profile.disable()
        await bot.session.close()
    log = await emulator.sent()
    async with sessionmaker() as session:
        left = await session.scalar(
            select(func.count(Notice.id)).where(
                Notice.status.in_([NoticeStatus.PENDING, NoticeStatus.CLAIMED])
            )
        )
        await session.commit()
    if left:
        raise RuntimeError(f"{left} notices still pending after the drain")
    if len(log) != expected:
        raise RuntimeError(f"{len(log)} messages arrived, {expected} expected (duplicates?)")
    return log


async def rate_phase(
    emulator: Emulator,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    rate: float,
    count: int,
    name: str,
    figures: dict[str, Any],
    profile_path: str | None = None,
) -> list[tuple[float, int]]:
    """One broadcast to `count` new users drained at `rate`; figures under `name`."""
    village = await add_village(sessionmaker, f"Rate{name}")
    first_id = 1_000_000 * int(rate) + 100_000 * len(figures)
    await add_users(engine, count, first_id, village)
    total = await announce(sessionmaker, Audience("village", village))
    profile = cProfile.Profile() if profile_path else None
    log = await drain(emulator, sessionmaker, rate, total, profile)
    if profile is not None and profile_path:
        profile.dump_stats(profile_path)
        print(f"profile of the 1,000/s drain written to {profile_path}")
    achieved = achieved_rate(log)
    figures[f"ratio_{name}"] = round(achieved / rate, 4)
    figures[f"achieved_{name}_per_s"] = round(achieved, 1)
    figures[f"max_in_1s_at_{name}"] = max_in_window([t for t, _ in log])
    print(
        f"{total} notices at {rate:g}/s ({name}): achieved {achieved:.1f}/s "
        f"(ratio {achieved / rate:.3f}), most in any 1 s: "
        f"{figures[f'max_in_1s_at_{name}']}, per chat {max_per_chat(log)}"
    )
    return log


async def run_drains(
    emulator: Emulator, url: str, sizes: Sizes, profile_path: str | None, rtt: float
) -> dict[str, Any]:
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    figures: dict[str, Any] = {}
    logs: list[list[tuple[float, int]]] = []
    try:
        await emulator.set_round_trip(rtt)
        for rate, count, name in ((30.0, sizes.n30, "30"), (1000.0, sizes.n1000, "1000")):
            profile = profile_path if name == "1000" else None
            logs.append(
                await rate_phase(
                    emulator, engine, sessionmaker, rate, count, name, figures, profile
                )
            )

        village = await add_village(sessionmaker, "SameChats")
        await add_users(engine, sizes.chats, 5_000_000, village)
        total = 0
        for _ in range(sizes.per_chat):
            total += await announce(sessionmaker, Audience("village", village))
        started = time.monotonic()
        log = await drain(emulator, sessionmaker, 1000.0, total)
        logs.append(log)
        per_chat = max_per_chat(log)
        print(
            f"{sizes.per_chat} broadcasts to the same {sizes.chats} chats at 1000/s: "
            f"{total} messages in {time.monotonic() - started:.1f} s, "
            f"most to one chat in any 1 s: {per_chat}"
        )

        await emulator.set_round_trip(0.1)
        for rate, count, name in (
            (30.0, sizes.n30, "30_rtt100"),
            (1000.0, sizes.n1000, "1000_rtt100"),
        ):
            logs.append(
                await rate_phase(emulator, engine, sessionmaker, rate, count, name, figures)
            )
        figures["max_per_chat_per_s"] = max(max_per_chat(one) for one in logs)
    finally:
        await engine.dispose()
    return figures


async def time_enqueue(directory: str, recipients: int) -> float:
    url = f"sqlite+aiosqlite:///{directory}/enqueue.db"
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    try:
        async with sessionmaker() as session, session.begin():
            await coordinator(session)
        await add_users(engine, recipients - 1, 10_000_000, None)  # + the coordinator
        started = time.perf_counter()
        async with sessionmaker() as session, session.begin():
            broadcast = await broadcasts.create_broadcast(
                session, await coordinator(session), Audience("all"), {"": "Announcement"}
            )
            total = broadcast.total
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    if total != recipients:
        raise RuntimeError(f"{total} notices enqueued, {recipients} expected")
    print(f"enqueue {total} recipients of one broadcast on SQLite: {elapsed:.2f} s")
    return elapsed


async def main(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK if args.quick else FULL
    emulator = Emulator()
    await emulator.start()
    try:
        with tempfile.TemporaryDirectory(prefix="farmgate-bench-") as directory:
            url = args.database_url or f"sqlite+aiosqlite:///{directory}/drain.db"
            print(f"mode {'quick' if args.quick else 'full'}; database {url.split('://')[0]}")
            figures = await run_drains(emulator, url, sizes, args.profile, args.rtt_ms / 1000)
            figures["enqueue_100k_s"] = round(await time_enqueue(directory, sizes.enqueue), 3)
    finally:
        await emulator.stop()
    figures["mode"] = "quick" if args.quick else "full"
    figures["rtt_ms"] = args.rtt_ms
    figures["database"] = (args.database_url or "sqlite").split("+")[0].split(":")[0]
    return figures


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="an empty database for the drains (default: a temporary SQLite file)",
    )
    parser.add_argument("--profile", help="write cProfile stats of the 1,000/s drain here")
    parser.add_argument(
        "--rtt-ms",
        type=float,
        default=0.0,
        help="simulated Bot API round trip of phases 1-3 (5 always uses 100 ms)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    figures = asyncio.run(main(args))
    print(f"total {time.monotonic() - started:.1f} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    cli()
