"""The demo page in headless Chromium: the emulator, the real bot (SQLite) and the page on free
ports, one browser for the module (tests/browser/chromium.py says what it needs)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from aiohttp import web

from bot.db import make_engine, make_sessionmaker
from bot.demo.page import create_app
from bot.models import Village
from bot.services.access import OPERATOR
from bot.services.villages import add_village
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import BotRunner, bot_settings
from tests.emulator import BotApiEmulator

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WAIT_MS = 20_000  # the longest a step waits for the page (notices leave a second apart a chat)


@dataclass
class Demo:
    """What a browser test drives and looks into."""

    emulator: BotApiEmulator
    bot: BotRunner
    sessions: async_sessionmaker[AsyncSession]
    """The bot's database, for what a test sets up behind the page (a lot opens)."""
    url: str
    browser: BrowserContext
    village: Village


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Demo]:
    from playwright.async_api import async_playwright

    where = tmp_path_factory.mktemp("demo")
    shutil.copy(sqlite_template, where / "farmgate.db")
    database_url = f"sqlite+aiosqlite:///{where / 'farmgate.db'}"
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        village = await add_village(session, OPERATOR, "Conggang", "conggang")
        await add_village(session, OPERATOR, "Nankang", "nankang")

    emulator = BotApiEmulator(control_api=True, auto_register=True)
    await emulator.start()
    bot = BotRunner(bot_settings(database_url, emulator))
    await bot.start()
    page_runner = web.AppRunner(create_app(emulator.base_url), shutdown_timeout=1.0)
    await page_runner.setup()
    await web.TCPSite(page_runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{page_runner.addresses[0][1]}/"
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch_persistent_context(
                str(where / "profile"),  # a fresh user-data-dir
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1200, "height": 860},
            )
            browser.set_default_timeout(WAIT_MS)
            try:
                yield Demo(emulator, bot, sessions, url, browser, village)
            finally:
                await browser.close()
    finally:
        await page_runner.cleanup()
        await bot.stop()
        await emulator.stop()
        await engine.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the screenshots the browser tests saved (they record them as user properties,
    which reach this process from xdist workers too)."""
    paths = dict.fromkeys(
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        for name, value in getattr(report, "user_properties", [])
        if name == "screenshot"
    )
    if paths:
        terminalreporter.write_sep("-", "demo page screenshots")
        for path in paths:
            terminalreporter.write_line(path)
