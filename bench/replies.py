"""Replies under a far Telegram: ``python bench/replies.py [--quick]``.

Twelve farmers, each looking at the summary of a harvest report, press Confirm at the same
moment while every Bot API call takes a 150 ms round trip. The figure is the time from the
presses until the last of the twelve has the "report is saved" message, on SQLite and on
PostgreSQL in the same run. When a bot holds SQLite's write lock across a network call the
twelve updates queue behind each other; when the lock covers only the database work they run
side by side, as they do on PostgreSQL (row locks), and the two figures come close.

The real bot (build_app, long polling) runs here; the Bot API emulator runs in its own process
(this file with ``--emulator``), where the users are driven and the times taken. The PostgreSQL
server is FARMGATE_TEST_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test);
a scratch database is created and dropped. Human-readable lines first; the last line is one
JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import asyncpg
from aiogram.fsm.storage.base import StorageKey
from aiohttp import web
from sqlalchemy.engine import make_url

from bot import migrate
from bot.app import App, build_app
from bot.config import REPO_ROOT, Settings
from bot.db import make_engine, make_sessionmaker
from bot.models import Role, User, Village, utcnow
from bot.services.harvests import HarvestDraft
from bot.storage import SqlAlchemyStorage

TOKEN = "123456:BENCH-token-abcdefghijklmnopqrstu"
BOT_ID = 123456
USERS = 12
CONFIRM = "✅ Confirm"
SAVED = "is saved"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SCRIPT = str(Path(__file__).resolve())


# ---------------------------------------------------------------- the emulator process


async def serve_emulator(latency_s: float) -> None:
    from tests.emulator import BotApiEmulator

    emu = BotApiEmulator(auto_register=True, latency=latency_s)
    await emu.start()

    async def prepare(request: web.Request) -> web.Response:
        """Each user types something; the bot answers with the summary and its buttons."""
        ids = (await request.json())["users"]

        async def one(user_id: int) -> None:
            chat = emu.user(user_id, language_code="en")
            chat.mark_read()
            await chat.send("hello")
            await chat.receive_until(lambda m: CONFIRM in m.buttons, timeout=60)

        await asyncio.gather(*(one(i) for i in ids))
        return web.json_response({"ok": True})

    async def press(request: web.Request) -> web.Response:
        """All users press Confirm at once; seconds until every one has the confirmation."""
        ids = (await request.json())["users"]
        chats = [emu.user(i) for i in ids]
        arrived: list[float] = []
        start = time.monotonic()
        for chat in chats:
            await chat.press(CONFIRM)

        async def one(chat: Any) -> None:
            await chat.receive_until(lambda m: SAVED in m.text, timeout=120)
            arrived.append(time.monotonic() - start)

        await asyncio.gather(*(one(c) for c in chats))
        return web.json_response({"seconds": max(arrived), "each": sorted(arrived)})

    control = web.Application()
    control.router.add_post("/_bench/prepare", prepare)
    control.router.add_post("/_bench/press", press)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"READY {emu.base_url} http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await emu.stop()


class Emulator:
    def __init__(self, latency_ms: float) -> None:
        self.latency_ms = latency_ms
        self.proc: asyncio.subprocess.Process | None = None
        self.api_url = ""
        self.control_url = ""
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            SCRIPT,
            "--emulator",
            "--latency-ms",
            str(self.latency_ms),
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = (await asyncio.wait_for(self.proc.stdout.readline(), timeout=30)).decode()
        if not line.startswith("READY "):
            raise RuntimeError(f"emulator did not start: {line!r}")
        _, self.api_url, self.control_url = line.split()
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=180))

    async def call(self, action: str, users: list[int]) -> dict[str, Any]:
        assert self.http is not None
        async with self.http.post(
            f"{self.control_url}/_bench/{action}", json={"users": users}
        ) as response:
            response.raise_for_status()
            result: dict[str, Any] = await response.json()
            return result

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), timeout=10)


# ---------------------------------------------------------------- the bot side


async def add_farmers(url: str, ids: list[int]) -> None:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            village = Village(name="Conggang", code="conggang")
            session.add(village)
            await session.flush()
            for telegram_id in ids:
                session.add(
                    User(
                        telegram_id=telegram_id,
                        role=Role.FARMER,
                        name=f"Farmer {telegram_id}",
                        phone="+8613800000000",
                        language="en",
                        village_id=village.id,
                        registered_at=utcnow(),
                    )
                )
    finally:
        await engine.dispose()


async def at_summary(url: str, ids: list[int]) -> None:
    """Each farmer's dialogue stands at the summary of a complete report."""
    draft = HarvestDraft(product="parchment", process="washed", variety="catimor")
    draft.quantity_g = 600_000
    engine = make_engine(url)
    try:
        storage = SqlAlchemyStorage(make_sessionmaker(engine))
        for telegram_id in ids:
            key = StorageKey(bot_id=BOT_ID, chat_id=telegram_id, user_id=telegram_id)
            await storage.set_state(key, "Harvest:summary")
            await storage.set_data(key, draft.to_state())
    finally:
        await engine.dispose()


async def start_bot(settings: Settings) -> tuple[App, asyncio.Task[None]]:
    app = build_app(settings)
    started = asyncio.Event()
    app.dp.startup.register(lambda: started.set())
    task = asyncio.create_task(
        app.dp.start_polling(
            app.bot, polling_timeout=1, handle_signals=False, close_bot_session=False
        )
    )
    await asyncio.wait_for(started.wait(), timeout=30)
    return app, task


async def stop_bot(app: App, task: asyncio.Task[None]) -> None:
    await asyncio.wait_for(app.dp.stop_polling(), timeout=10)
    await asyncio.wait_for(task, timeout=10)
    await app.close()


async def measure(emu: Emulator, url: str, ids: list[int], rounds: int) -> list[float]:
    await asyncio.to_thread(migrate.upgrade, url)
    await add_farmers(url, ids)
    settings = Settings(
        _env_file=None,
        bot_token=TOKEN,
        database_url=url,  # type: ignore[call-arg]
        telegram_api_url=emu.api_url,
        polling_timeout=1,
    )
    app, task = await start_bot(settings)
    times = []
    try:
        for _ in range(rounds):
            await at_summary(url, ids)
            await emu.call("prepare", ids)
            result = await emu.call("press", ids)
            times.append(float(result["seconds"]))
    finally:
        await stop_bot(app, task)
    return times


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg(url: str, statement: str) -> None:
    conn = await asyncpg.connect(_admin_dsn(url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    rounds = 2 if args.quick else 5
    emu = Emulator(args.latency_ms)
    await emu.start()
    figures: dict[str, Any] = {"users": USERS, "rtt_ms": args.latency_ms, "rounds": rounds}
    try:
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite+aiosqlite:///{directory}/bench.db"
            times = await measure(emu, url, [1000 + i for i in range(USERS)], rounds)
        print(f"SQLite:     {', '.join(f'{t:.2f}' for t in times)} s", flush=True)
        figures["sqlite_s"] = round(statistics.median(times), 3)

        base = os.environ.get("FARMGATE_TEST_POSTGRES_URL", DEFAULT_PG)
        name = f"bench_replies_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        await _pg(base, f'CREATE DATABASE "{name}"')
        try:
            url = make_url(base).set(database=name).render_as_string(hide_password=False)
            times = await measure(emu, url, [2000 + i for i in range(USERS)], rounds)
        finally:
            await _pg(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"PostgreSQL: {', '.join(f'{t:.2f}' for t in times)} s", flush=True)
        figures["postgres_s"] = round(statistics.median(times), 3)
    finally:
        await emu.stop()
    figures["sqlite_over_postgres"] = round(figures["sqlite_s"] / figures["postgres_s"], 2)
    return figures


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (under a minute)")
    parser.add_argument("--latency-ms", type=float, default=150, help="Bot API round trip")
    parser.add_argument("--emulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.emulator:
        try:
            asyncio.run(serve_emulator(args.latency_ms / 1000))
        except KeyboardInterrupt:
            pass
        return
    figures = asyncio.run(main(args))
    print(
        f"{USERS} users press Confirm at once, {args.latency_ms:.0f} ms round trip: "
        f"SQLite {figures['sqlite_s']:.2f} s, PostgreSQL {figures['postgres_s']:.2f} s, "
        f"ratio {figures['sqlite_over_postgres']:.2f}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    cli()
