"""The per-update path: ``python bench/updates.py [--quick]``.

Many users send an update at the same moment; the figure is updates handled per second, from
the first update pushed to the last reply received (the emulator's receive times). Two bots
run, each long-polling a Bot API emulator of its own (bench/emulator_proc.py, a process
each):

- a bare aiogram echo bot (a Dispatcher with one handler answering the text, polling with
  aiogram's defaults): what the emulator, aiohttp and aiogram cost by themselves;
- farmgate (build_app, long polling, as `farmgate run` starts it), on SQLite (a file in a
  temporary folder) and then on PostgreSQL (FARMGATE_TEST_POSTGRES_URL, default
  postgresql+asyncpg://postgres@127.0.0.1:5432/test; a scratch database created and
  dropped).

The farmgate workloads are /help from registered farmers (the same users every round: user
lookup, de-duplication, dialogue state, commit, one reply with the menu keyboard) and /help
from users the bot has never seen (new ones every round: their row is created too). Each
farmgate round follows a round of the echo bot, and its ratio is taken to that round: the
load of a shared machine drifts by more than the effects measured. Figures are medians over
`rounds` (7; 2 with `--quick`, under a minute).

`NOTICE_RATE` is 1,000 here (Telegram's paid broadcasts): replies take their slot from the
notices' global pacer (bot/notices/pacing.py), and at the default 30/s that limit, not the
per-update path, would be measured (the echo bot keeps no limit; the emulator enforces none).
`--notice-rate 30` measures with the default. `--profile sqlite` writes a cProfile of that
phase; `--verbose` prints each round with this process's CPU time per update.

Other workloads (bids, say) reuse this harness: `Harness` starts an emulator, `farmgate` and
`echo_bot` run a bot against it, `Harness.feed` pushes a list of updates at once and waits
for the replies, `paired` alternates rounds of a workload with the echo bot's. Human-readable
lines first; the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import asyncpg
from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from bot import migrate
from bot.app import App, build_app, freeze_startup_heap
from bot.config import REPO_ROOT, Settings
from bot.db import make_engine, make_sessionmaker
from bot.models import Role, User, Village, utcnow
from handlers.menus import menus_refreshed

TOKEN = "123456:BENCH-token-abcdefghijklmnopqrstu"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

Update = dict[str, Any]

log = logging.getLogger("bench.updates")


# ---------------------------------------------------------------- the emulator process


class Harness:
    """The emulator process (bench/emulator_proc.py) and its control port."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        self.latency_ms = latency_ms
        self.proc: asyncio.subprocess.Process | None = None
        self.api_url = ""
        self.control_url = ""
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.emulator_proc",
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
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), timeout=10)

    async def feed(self, updates: list[Update], expect: int | None = None) -> dict[str, Any]:
        """Push the updates at once; answered once the bot sent `expect` messages more (one
        per update by default): {"seconds": first push to last reply, "latencies": [...]}."""
        assert self.http is not None
        body: dict[str, Any] = {"updates": updates}
        if expect is not None:
            body["expect"] = expect
        async with self.http.post(f"{self.control_url}/_bench/feed", json=body) as response:
            response.raise_for_status()
            result: dict[str, Any] = await response.json()
            return result


def texts(users: list[int], text: str) -> list[Update]:
    return [{"user": user, "text": text} for user in users]


@dataclass
class Round:
    rate: float  # updates per second, first push to last reply
    cpu_ms: float  # this process's CPU time (the bots run here) per update, all threads
    latencies: list[float]  # per user: seconds from their update to the first reply


async def throughput(
    harness: Harness,
    rounds: int,
    workload: Callable[[int], list[Update]],
    expect: Callable[[list[Update]], int] = len,
) -> list[Round]:
    """Each round's figures; `workload(round)` gives that round's updates."""
    figures = []
    for index in range(rounds):
        updates = workload(index)
        cpu = time.process_time()
        result = await harness.feed(updates, expect(updates))
        cpu = time.process_time() - cpu
        seconds = float(result["seconds"])
        figures.append(
            Round(len(updates) / seconds, cpu * 1000 / len(updates), result["latencies"])
        )
        log.info(
            "%d updates in %.2f s: %.0f/s, this process's CPU %.2f ms an update (%.0f%%)",
            len(updates),
            seconds,
            figures[-1].rate,
            figures[-1].cpu_ms,
            100 * cpu / seconds,
        )
    return figures


# ---------------------------------------------------------------- the bots


def echo_router() -> Router:
    """One handler answering the text: the echo bot's whole logic."""
    router = Router()

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    return router


@asynccontextmanager
async def polling(dp: Dispatcher, api_url: str) -> AsyncIterator[None]:
    """A dispatcher long-polling the emulator with aiogram's defaults, until the block ends."""
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
    started = asyncio.Event()
    dp.startup.register(lambda: started.set())
    task = asyncio.create_task(
        dp.start_polling(bot, polling_timeout=1, handle_signals=False, close_bot_session=True)
    )
    await asyncio.wait_for(started.wait(), timeout=30)
    try:
        yield
    finally:
        await asyncio.wait_for(dp.stop_polling(), timeout=10)
        await asyncio.wait_for(task, timeout=10)


@asynccontextmanager
async def echo_bot(api_url: str) -> AsyncIterator[None]:
    """A bare aiogram echo bot: aiogram's defaults, no middleware, no database."""
    dp = Dispatcher()
    dp.include_router(echo_router())
    async with polling(dp, api_url):
        yield


@asynccontextmanager
async def farmgate(api_url: str, database_url: str, **settings: Any) -> AsyncIterator[App]:
    """The real bot as `farmgate run` builds it, long polling the emulator."""
    app = build_app(
        Settings(
            _env_file=None,
            bot_token=TOKEN,
            database_url=database_url,  # type: ignore[call-arg]
            telegram_api_url=api_url,
            polling_timeout=1,
            **settings,
        )
    )
    freeze_startup_heap()  # as run_polling does
    started = asyncio.Event()
    app.dp.startup.register(lambda: started.set())
    task = asyncio.create_task(
        app.dp.start_polling(
            app.bot, polling_timeout=1, handle_signals=False, close_bot_session=False
        )
    )
    await asyncio.wait_for(started.wait(), timeout=30)
    await asyncio.wait_for(menus_refreshed(), timeout=300)  # not part of any update
    try:
        yield app
    finally:
        await asyncio.wait_for(app.dp.stop_polling(), timeout=10)
        await asyncio.wait_for(task, timeout=10)
        await app.close()


@asynccontextmanager
async def scratch_postgres(prefix: str) -> AsyncIterator[str]:
    """An empty database on the server at FARMGATE_TEST_POSTGRES_URL, dropped after."""
    base = os.environ.get("FARMGATE_TEST_POSTGRES_URL", DEFAULT_PG)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    await run(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        await run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def add_farmers(url: str, telegram_ids: list[int]) -> None:
    """Registered farmers, written in bulk (not timed)."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            village = Village(name="Conggang", code="conggang")
            session.add(village)
            await session.flush()
            now = utcnow()
            await session.execute(
                insert(User),
                [
                    {
                        "telegram_id": telegram_id,
                        "role": Role.FARMER,
                        "name": f"Farmer {telegram_id}",
                        "phone": "+8613800000000",
                        "language": "en",
                        "village_id": village.id,
                        "registered_at": now,
                    }
                    for telegram_id in telegram_ids
                ],
            )
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- the run


@dataclass
class Options:
    users: int
    rounds: int
    notice_rate: float
    profile: str | None  # "sqlite" or "postgres": cProfile that phase's measured rounds
    profile_out: str
    databases: list[str]  # which of "sqlite", "postgres" to measure (both for the figures)
    settings: dict[str, str]  # more settings of the bot (--set KEY=VALUE)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


@dataclass
class Paired:
    """Rounds of one workload, each right after a round of the echo bot: the machine's load
    drifts (other jobs on the same cores), so each round is compared with its own echo."""

    rounds: list[Round]
    echo: list[Round]

    @property
    def rates(self) -> list[float]:
        return [r.rate for r in self.rounds]

    @property
    def echo_rates(self) -> list[float]:
        return [r.rate for r in self.echo]

    @property
    def ratio(self) -> float:
        pairs = zip(self.rates, self.echo_rates, strict=True)
        return round(statistics.median(rate / echo for rate, echo in pairs), 3)

    @property
    def cpu_ms(self) -> float:
        return round(statistics.median(r.cpu_ms for r in self.rounds), 2)

    @property
    def echo_cpu_ms(self) -> float:
        return round(statistics.median(r.cpu_ms for r in self.echo), 2)


class Echo:
    """The echo bot on an emulator of its own, running beside farmgate's (idle meanwhile),
    so that its rounds can alternate with farmgate's."""

    def __init__(self, users: int) -> None:
        self.harness = Harness()
        self.users = [10_000 + i for i in range(users)]

    async def round(self) -> Round:
        (measured,) = await throughput(self.harness, 1, lambda _: texts(self.users, "hello"))
        return measured


def _shifted(workload: Callable[[int], list[Update]], index: int, _: int) -> list[Update]:
    return workload(index)


async def paired(
    harness: Harness, echo: Echo, rounds: int, workload: Callable[[int], list[Update]]
) -> Paired:
    result = Paired([], [])
    for index in range(rounds):
        result.echo.append(await echo.round())
        result.rounds += await throughput(harness, 1, functools.partial(_shifted, workload, index))
    return result


async def help_rounds(
    harness: Harness, echo: Echo, url: str, options: Options
) -> tuple[Paired, Paired]:
    """/help from registered farmers and from new users, on one database."""
    n = options.users
    farmers = [100_000 + i for i in range(n)]
    await asyncio.to_thread(migrate.upgrade, url)
    await add_farmers(url, farmers)

    def newcomers(index: int) -> list[Update]:
        return texts([1_000_000 + index * n + i for i in range(n)], "/help")

    async with farmgate(harness.api_url, url, notice_rate=options.notice_rate, **options.settings):
        await harness.feed(texts(farmers[:50], "/help"))  # warm-up: connections, caches
        await harness.feed(texts([900_000 + i for i in range(50)], "/help"))
        profiler = cProfile.Profile() if options.profile and options.profile in url else None
        if profiler is not None:
            profiler.enable()
        registered = await paired(harness, echo, options.rounds, lambda _: texts(farmers, "/help"))
        new = await paired(harness, echo, options.rounds, newcomers)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(options.profile_out)
            print(f"profile written to {options.profile_out}", flush=True)
    return registered, new


def _line(name: str, registered: Paired, new: Paired) -> str:
    def one(paired: Paired) -> str:
        return (
            f"{median(paired.rates):.0f}/s, {paired.cpu_ms:.2f} ms CPU an update (echo "
            f"{median(paired.echo_rates):.0f}/s, {paired.echo_cpu_ms:.2f} ms; ratio "
            f"{paired.ratio:.2f})"
        )

    return f"{name} /help {one(registered)}; from new users {one(new)}"


async def main(options: Options) -> dict[str, Any]:
    harness = Harness()
    echo = Echo(options.users)
    await harness.start()
    await echo.harness.start()
    figures: dict[str, Any] = {
        "users": options.users,
        "rounds": options.rounds,
        "notice_rate": options.notice_rate,
    }
    echo_rates: list[float] = []
    try:
        async with echo_bot(echo.harness.api_url):
            await echo.harness.feed(texts(echo.users[:50], "hello"))  # warm-up
            if "sqlite" in options.databases:
                with tempfile.TemporaryDirectory() as directory:
                    url = f"sqlite+aiosqlite:///{directory}/bench.db"
                    registered, new = await help_rounds(harness, echo, url, options)
                print(_line("SQLite:    ", registered, new), flush=True)
                figures["help_per_s_sqlite"] = median(registered.rates)
                figures["help_new_per_s_sqlite"] = median(new.rates)
                figures["cpu_ms_sqlite"], figures["cpu_ms_echo"] = (
                    registered.cpu_ms,
                    new.echo_cpu_ms,
                )
                figures["ratio_sqlite"], figures["ratio_new_sqlite"] = registered.ratio, new.ratio
                echo_rates += registered.echo_rates + new.echo_rates

            if "postgres" in options.databases:
                async with scratch_postgres("bench_updates") as url:
                    registered, new = await help_rounds(harness, echo, url, options)
                print(_line("PostgreSQL:", registered, new), flush=True)
                figures["help_per_s_postgres"] = median(registered.rates)
                figures["help_new_per_s_postgres"] = median(new.rates)
                figures["cpu_ms_postgres"] = registered.cpu_ms
                figures["ratio_postgres"] = registered.ratio
                figures["ratio_new_postgres"] = new.ratio
                echo_rates += registered.echo_rates + new.echo_rates
    finally:
        await echo.harness.stop()
        await harness.stop()
    figures["echo_per_s"] = median(echo_rates)
    return figures


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (under a minute)")
    parser.add_argument("--users", type=int, default=300, help="users sending at once")
    parser.add_argument("--rounds", type=int, help="rounds per workload (default 7, quick 2)")
    parser.add_argument("--notice-rate", type=float, default=1000.0, help="NOTICE_RATE")
    parser.add_argument("--profile", choices=["sqlite", "postgres"], help="cProfile one phase")
    parser.add_argument("--profile-out", default="updates.prof", help="where its stats go")
    parser.add_argument(
        "--databases", default="sqlite,postgres", help="measure only these (profiling)"
    )
    parser.add_argument(
        "--set", action="append", default=[], help="a bot setting, KEY=VALUE (lower case)"
    )
    parser.add_argument("--verbose", action="store_true", help="each round, with CPU used")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.verbose:
        log.setLevel(logging.INFO)
    options = Options(
        users=args.users,
        rounds=args.rounds or (2 if args.quick else 7),
        notice_rate=args.notice_rate,
        profile=args.profile,
        profile_out=args.profile_out,
        databases=args.databases.split(","),
        settings=dict(item.split("=", 1) for item in args.set),
    )
    figures = asyncio.run(main(options))
    if options.databases != ["sqlite", "postgres"]:
        print(json.dumps(figures))
        return
    print(
        f"{options.users} users at once: echo {figures['echo_per_s']:.0f}/s; /help on SQLite "
        f"{figures['help_per_s_sqlite']:.0f}/s (ratio {figures['ratio_sqlite']:.2f}), on "
        f"PostgreSQL {figures['help_per_s_postgres']:.0f}/s (ratio "
        f"{figures['ratio_postgres']:.2f}); from new users {figures['ratio_new_sqlite']:.2f}, "
        f"{figures['ratio_new_postgres']:.2f}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    cli()
