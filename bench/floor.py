"""What issue 8's throughput target allows: ``python bench/floor.py [--quick]``.

The target is a ratio: farmgate's updates per second over a bare aiogram echo bot's, on the
same emulator. This bench measures the least any bot with a database can do per update,
on the same harness as bench/updates.py (300 users at once, rounds paired with echo rounds):

- ``commit``: the echo bot plus one database transaction per update, the de-duplication
  record every update needs (INSERT the update id into processed_updates, COMMIT), through
  SQLAlchemy's AsyncSession as farmgate uses it (bot.db.make_engine: SQLite through
  bot/sqlite_driver.py, PostgreSQL through asyncpg), then the echo. No user lookup, no
  dialogue state, no handler logic.
- ``core``: the same through SQLAlchemy Core's AsyncConnection, without the ORM Session.
- ``asyncpg`` (PostgreSQL only): the same INSERT through the bare driver (a pool, autocommit),
  no SQLAlchemy at all.

If ``commit`` alone is below 0.5 of echo, no design that keeps an ORM session on every
update (and commits what a user did before replying) reaches 0.5. Human-readable lines first; the
last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from aiogram import BaseMiddleware, Dispatcher
from aiogram.types import TelegramObject, Update
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from bench.updates import (
    Echo,
    Harness,
    Paired,
    echo_router,
    median,
    paired,
    polling,
    scratch_postgres,
    texts,
)
from bench.updates import echo_bot as bare_echo_bot
from bot import migrate
from bot.db import make_engine, make_sessionmaker
from bot.models import ProcessedUpdate

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class Recorded(BaseMiddleware):
    """One transaction per update, committed before the handler replies."""

    def __init__(self, record: Callable[[int], Awaitable[None]]) -> None:
        self.record = record

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        await self.record(event.update_id)
        return await handler(event, data)


@asynccontextmanager
async def recording_bot(
    api_url: str, record: Callable[[int], Awaitable[None]]
) -> AsyncIterator[None]:
    """The echo bot, each update recorded by `record` before the echo."""
    dp = Dispatcher()
    dp.update.outer_middleware(Recorded(record))
    dp.include_router(echo_router())
    async with polling(dp, api_url):
        yield


@asynccontextmanager
async def sqlalchemy_bot(api_url: str, database_url: str, *, orm: bool) -> AsyncIterator[None]:
    """INSERT + COMMIT through SQLAlchemy as farmgate's engine is configured: in an AsyncSession
    (`orm`, as farmgate does it) or on Core's AsyncConnection, without the session."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    statement = insert(ProcessedUpdate)

    async def in_session(update_id: int) -> None:
        async with sessions() as session, session.begin():
            await session.execute(statement, {"update_id": update_id})

    async def on_connection(update_id: int) -> None:
        async with engine.begin() as connection:
            await connection.execute(statement, {"update_id": update_id})

    try:
        async with recording_bot(api_url, in_session if orm else on_connection):
            yield
    finally:
        await engine.dispose()


@asynccontextmanager
async def asyncpg_bot(api_url: str, database_url: str) -> AsyncIterator[None]:
    """The same INSERT through a bare asyncpg pool (autocommit)."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)

    async def record(update_id: int) -> None:
        await pool.execute(
            "INSERT INTO processed_updates (update_id, processed_at) VALUES ($1, now())",
            update_id,
        )

    try:
        async with recording_bot(api_url, record):
            yield
    finally:
        await pool.close()


async def measure(
    harness: Harness,
    echo: Echo,
    rounds: int,
    users: list[int],
    bot: Callable[[], Any],
) -> Paired:
    async with bot():
        await harness.feed(texts(users[:50], "warm"))
        return await paired(harness, echo, rounds, lambda _: texts(users, "hello"))


def line(name: str, result: Paired) -> str:
    return (
        f"{name:<28} {median(result.rates):6.0f}/s  {result.cpu_ms:5.2f} ms CPU an update  "
        f"(echo {median(result.echo_rates):.0f}/s, {result.echo_cpu_ms:.2f} ms)  "
        f"ratio {result.ratio:.2f}"
    )


def bots(api_url: str, url: str, database: str) -> list[tuple[str, str, Callable[[], Any]]]:
    """(label, figure name, bot) for each way of recording an update on this database."""
    found = [
        ("SQLAlchemy commit", "commit", lambda: sqlalchemy_bot(api_url, url, orm=True)),
        ("Core commit", "core", lambda: sqlalchemy_bot(api_url, url, orm=False)),
    ]
    if database == "postgres":
        found.append(("bare asyncpg", "asyncpg", lambda: asyncpg_bot(api_url, url)))
    return found


async def measure_all(
    harness: Harness, echo: Echo, rounds: int, url: str, database: str, figures: dict[str, Any]
) -> None:
    people = [200_000 + i for i in range(len(echo.users))]
    await asyncio.to_thread(migrate.upgrade, url)
    name = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[database]
    for label, key, bot in bots(harness.api_url, url, database):
        result = await measure(harness, echo, rounds, people, bot)
        print(line(f"{name}, {label}:", result), flush=True)
        figures[f"ratio_{key}_{database}"] = result.ratio
        figures[f"{key}_per_s_{database}"] = median(result.rates)
        figures.setdefault("echo_rates", []).extend(result.echo_rates)


async def main(users: int, rounds: int) -> dict[str, Any]:
    harness, echo = Harness(), Echo(users)
    await harness.start()
    await echo.harness.start()
    figures: dict[str, Any] = {"users": users, "rounds": rounds}
    try:
        async with bare_echo_bot(echo.harness.api_url):
            await echo.harness.feed(texts(echo.users[:50], "hello"))  # warm-up
            with tempfile.TemporaryDirectory() as directory:
                url = f"sqlite+aiosqlite:///{directory}/floor.db"
                await measure_all(harness, echo, rounds, url, "sqlite", figures)
            async with scratch_postgres("bench_floor") as url:
                await measure_all(harness, echo, rounds, url, "postgres", figures)
    finally:
        await echo.harness.stop()
        await harness.stop()
    figures["echo_per_s"] = median(figures.pop("echo_rates"))
    return figures


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (under a minute)")
    parser.add_argument("--users", type=int, default=300, help="users sending at once")
    parser.add_argument("--rounds", type=int, help="rounds per bot (default 7, quick 2)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = asyncio.run(main(args.users, args.rounds or (2 if args.quick else 7)))
    print(json.dumps(figures))


if __name__ == "__main__":
    cli()
