"""Fixtures: a migrated database per test (SQLite always, PostgreSQL when configured), the Bot
API emulator, and the real bot polling it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from bot import migrate
from bot.app import App, build_app
from bot.config import REPO_ROOT, Settings
from bot.db import make_engine, make_sessionmaker
from bot.i18n import compile_catalogs
from bot.models import Village
from bot.services.access import OPERATOR
from bot.services.villages import add_village
from tests.emulator.signals import Notifier

if TYPE_CHECKING:
    from tests.emulator import BotApiEmulator, UserChat

PG_ENV = "FARMGATE_TEST_POSTGRES_URL"
TOKEN = "123456:TEST-token-abcdefghijklmnopqrstu"
COORDINATOR_ID = 9000


def pytest_sessionstart(session: pytest.Session) -> None:
    compile_catalogs(REPO_ROOT / "locales")


def _pg_admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(_pg_admin_dsn(url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@contextlib.contextmanager
def pg_scratch_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for this run, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL tests skipped")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_execute(base, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_pg_execute(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "farmgate.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_migrated() -> Iterator[str]:
    with pg_scratch_database("farmgate_test") as url:
        migrate.upgrade(url)
        yield url


async def _truncate_all(url: str) -> None:
    from bot.models import Base

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    await _pg_execute(url, f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a copy of a SQLite template, or PostgreSQL truncated."""
    if request.param == "sqlite":
        path = tmp_path / "farmgate.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_migrated")
    asyncio.run(_truncate_all(url))
    return url


@pytest.fixture
async def session(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as s:
            yield s
    finally:
        await engine.dispose()


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    from tests.emulator import BotApiEmulator

    emu = BotApiEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


def bot_settings(database_url: str, emulator: BotApiEmulator) -> Settings:
    """The test bot's settings: this database, this emulator, COORDINATOR_ID configured."""
    return Settings(
        _env_file=None,
        bot_token=TOKEN,
        database_url=database_url,  # type: ignore[call-arg]
        telegram_api_url=emulator.base_url,
        coordinator_ids=frozenset({COORDINATOR_ID}),
        polling_timeout=1,
    )


@pytest.fixture
def settings(database_url: str, emulator: BotApiEmulator) -> Settings:
    return bot_settings(database_url, emulator)


class BotRunner:
    """The real bot, long-polling the emulator; can be stopped and started like a process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: App | None = None
        self._task: asyncio.Task[None] | None = None
        self.handled: Counter[int] = Counter()
        """update id -> how many times the bot finished handling it (across restarts)."""
        self._handled_signal = Notifier()

    async def start(self) -> None:
        self.app = build_app(self.settings)
        started = asyncio.Event()
        self.app.dp.startup.register(lambda: started.set())
        self._track_handled(self.app.dp)
        self._task = asyncio.create_task(
            self.app.dp.start_polling(
                self.app.bot, polling_timeout=1, handle_signals=False, close_bot_session=False
            )
        )
        await asyncio.wait_for(started.wait(), timeout=10)

    async def stop(self) -> None:
        if self.app is None or self._task is None:
            return
        with contextlib.suppress(RuntimeError):
            await asyncio.wait_for(self.app.dp.stop_polling(), timeout=10)
        await asyncio.wait_for(self._task, timeout=10)
        await self.app.close()
        self.app, self._task = None, None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def _track_handled(self, dp: Dispatcher) -> None:
        """Count each update once aiogram's feed_update returns: every middleware has run, the
        transaction is over and every reply has been sent."""
        feed_update = dp.feed_update

        async def tracked(bot: Bot, update: Update, **kwargs: Any) -> Any:
            try:
                return await feed_update(bot, update, **kwargs)
            finally:
                self.handled[update.update_id] += 1
                self._handled_signal.notify()

        dp.feed_update = tracked  # type: ignore[method-assign]

    async def idle(self, *chats: UserChat, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until the bot has handled every update these users sent so far: from then on
        nothing more comes of them (the outbox aside: see tests/conditions.py)."""
        deadline = asyncio.get_running_loop().time() + timeout

        def done() -> bool:
            return all(
                self.handled[uid] >= count
                for chat in chats
                for uid, count in Counter(chat.update_ids).items()
            )

        while not done():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(
                    f"the bot did not handle every update within {timeout}s\n"
                    + "\n".join(chat.transcript() for chat in chats)
                )
            await self._handled_signal.wait(remaining)


@pytest.fixture
async def running_bot(settings: Settings) -> AsyncIterator[BotRunner]:
    runner = BotRunner(settings)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


@pytest.fixture
async def villages(database_url: str) -> list[Village]:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            return [
                await add_village(s, OPERATOR, "Conggang", "conggang"),
                await add_village(s, OPERATOR, "Nankang", "nankang"),
            ]
    finally:
        await engine.dispose()


def _worker_redis_db(url: str) -> str:
    """Each pytest-xdist worker its own Redis database (the fixture empties it): the URL's
    database for the first worker, the ones below it for the others (Redis has 0-15)."""
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    db = base - index if base >= index else base + index
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture
async def redis_settings(settings: Settings) -> AsyncIterator[Settings]:
    """The bot's settings with dialogue state in Redis (FARMGATE_TEST_REDIS_URL, emptied)."""
    url = os.environ.get("FARMGATE_TEST_REDIS_URL")
    if not url:
        pytest.skip("FARMGATE_TEST_REDIS_URL is not set: Redis tests skipped")
    url = _worker_redis_db(url)
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    await client.flushdb()
    await client.aclose()
    yield settings.model_copy(update={"redis_url": url})
