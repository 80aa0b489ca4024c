"""`farmgate demo --seed` as someone trying farmgate meets it: one command starts the bot, the
emulator and the page, fills a small programme through the bot, says where to look and who is
who; every role then has something in its chat (seen through the emulator's user side, as the
page sees it, never the database); Ctrl-C stops it all and leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.cli import Fatal
from bot.config import REPO_ROOT
from bot.demo.run import use_checkout
from tests.test_cli import _one_clear_line, farmgate

START_TIMEOUT = 60.0  # start, migrate and seed (about 10 s here)
REPLY_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0


class Demo:
    """The running command: its printed lines, and its page and emulator addresses."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    async def line_with(self, marker: str) -> str:
        """Read printed lines until one contains `marker` (bounded)."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {marker!r} within {START_TIMEOUT} s:\n" + "\n".join(
                self.lines
            )
            try:
                raw = await asyncio.wait_for(self.proc.stdout.readline(), remaining)
            except TimeoutError:
                raise AssertionError(
                    f"no {marker!r} within {START_TIMEOUT} s:\n" + "\n".join(self.lines)
                ) from None
            assert raw, "the demo ended:\n" + "\n".join(self.lines)
            self.lines.append(raw.decode().rstrip("\n"))
            if marker in self.lines[-1]:
                return self.lines[-1]

    async def stop(self) -> None:
        """Ctrl-C: the demo stops in bounded time, exits 0, and prints no traceback."""
        self.proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
        assert self.proc.stderr is not None
        errors = (await self.proc.stderr.read()).decode()
        assert code == 0, errors
        assert "Traceback" not in errors, errors


@contextlib.asynccontextmanager
async def running(workdir: Path, *options: str) -> AsyncIterator[Demo]:
    """`farmgate demo` on free ports in `workdir`, killed if the test did not stop it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "demo", "--port", "0", "--emulator-port", "0", *options),
        cwd=workdir,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield Demo(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    # A .env with a real bot's settings is there, and must not be used.
    (tmp_path / ".env").write_text(
        "BOT_TOKEN=987654:REAL-token-abcdefghijklmnopqrstu\n"
        "TELEGRAM_API_URL=http://127.0.0.1:1\n"
        f"DATABASE_URL=sqlite+aiosqlite:///{tmp_path / 'real.db'}\n"
    )
    async with running(tmp_path, "--seed") as demo:
        yield demo


async def chat_shows(http: aiohttp.ClientSession, user: str, text: str) -> str:
    """The user's chat as the emulator shows it, once it contains `text` (bounded)."""
    deadline = time.monotonic() + REPLY_TIMEOUT
    while True:
        async with http.get(user) as response:
            chat = await response.text()
        if text in chat:
            return chat
        assert time.monotonic() < deadline, (
            f"{text!r} not in the chat within {REPLY_TIMEOUT} s:\n{chat}"
        )
        await asyncio.sleep(0.1)


def leftovers(database: Path, workdir: Path) -> list[str]:
    """The demo's database (while its temporary folder is there), and any file it made in the
    folder it ran in (where the .env is)."""
    kept = [str(database)] if database.parent.exists() else []
    return kept + sorted(p.name for p in workdir.iterdir() if p.name != ".env")


@pytest.mark.timeout(120)
async def test_demo_seeds_every_role_and_stops_on_ctrl_c(demo: Demo, tmp_path: Path) -> None:
    emulator = (await demo.line_with("Bot API emulator at")).split(" at ")[1]
    page = (await demo.line_with("farmgate demo: open ")).split("open ")[1]
    where = await demo.line_with("It listens on")
    assert "127.0.0.1 only" in where
    database = Path((await demo.line_with("Database: ")).split("Database: ")[1].split(" (")[0])
    assert leftovers(database, tmp_path) == [str(database)]  # the .env's database is unused
    await demo.line_with("Ctrl-C stops it")
    printed = "\n".join(demo.lines)
    for who in ("1000  Coordinator Zhao: coordinator", "1001  李伟: farmer", "2002  Mekong"):
        assert who in printed
    assert re.search(r"seeding|farmers registered", printed)

    users = f"{emulator}/_emu/users"
    async with aiohttp.ClientSession() as http:
        async with http.get(page) as response:
            assert response.status == 200
        async with http.get(f"{emulator}/_emu") as response:
            chats = (await response.json())["chats"]
        assert {"1000", "1001", "1006", "2001", "2002"} <= set(chats)
        assert chats["2001"]["first_name"] == "保山咖啡贸易有限公司"

        # A merchant: approved, the open auction in /lots.
        await http.post(f"{users}/2002", json={"text": "/lots"})
        await chat_shows(http, f"{users}/2002", "Lots open for bids (1)")
        # A farmer of the sold lot: a payout scheduled, in 💴 Payouts.
        await http.post(f"{users}/1003", json={"press": "💴 Payouts"})
        await chat_shows(http, f"{users}/1003", "to be paid")
        # The prices the coordinator set, as a farmer of the other village asks for them.
        await http.post(f"{users}/1006", json={"press": "📈 Prices"})
        await chat_shows(http, f"{users}/1006", "Parchment · ungraded: CN¥24.50/kg")
        # The coordinator: the sold lot's payouts to mark paid in /due.
        await http.post(f"{users}/1000", json={"text": "/due"})
        await chat_shows(http, f"{users}/1000", "Mark all due paid")

    await demo.stop()
    assert leftovers(database, tmp_path) == []


async def test_a_kept_database_goes_on_where_it_stopped(tmp_path: Path) -> None:
    """The chats start empty each time, but the bot answers (the new emulator numbers its
    updates after those the bot handled, which it would ignore as redelivered) where the
    dialogue stopped, and the people it knows are named."""
    async with running(tmp_path, "--db", "kept.db") as demo:
        users = (await demo.line_with("Bot API emulator at")).split(" at ")[1] + "/_emu/users"
        await demo.line_with("Ctrl-C stops it")
        async with aiohttp.ClientSession() as http:
            await http.post(f"{users}/1001", json={"text": "/start"})
            await http.post(f"{users}/1001", json={"press": "English"})
            await http.post(f"{users}/1001", json={"press": "🌱 I grow coffee"})
            await http.post(f"{users}/1001", json={"text": "Li Wei"})
            await chat_shows(http, f"{users}/1001", "📱")
        await demo.stop()
    async with running(tmp_path, "--db", "kept.db") as demo:
        users = (await demo.line_with("Bot API emulator at")).split(" at ")[1] + "/_emu/users"
        await demo.line_with("1001  User1001: not registered yet")
        await demo.line_with("Ctrl-C stops it")
        async with aiohttp.ClientSession() as http:
            # The dialogue goes on at the same step: the phone number, then the village.
            await http.post(f"{users}/1001", json={"contact": "+86 138 0000 1001"})
            await chat_shows(http, f"{users}/1001", "No village has been set up yet")
        await demo.stop()


def test_seed_refuses_a_database_that_exists(tmp_path: Path) -> None:
    (tmp_path / "kept.db").write_bytes(b"")
    result = farmgate("demo", "--seed", "--db", "kept.db", env={}, cwd=tmp_path)
    _one_clear_line(result, "--seed", "kept.db")


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = farmgate("demo", "--port", port, "--emulator-port", "0", env={}, cwd=tmp_path)
    _one_clear_line(result, "page", "--port")


def test_outside_a_checkout_the_demo_says_so(tmp_path: Path) -> None:
    with pytest.raises(Fatal, match="checkout"):
        use_checkout(tmp_path)


# Installed by '.[test]' only (pyproject.toml), so absent after the README's first command.
TEST_ONLY = ("pytest", "hypothesis", "playwright", "zxingcpp")


def test_the_demo_runs_without_the_test_extras() -> None:
    """The README's first command installs farmgate without '.[test]': nothing the demo and its
    seed import may need pytest (or another test-only package)."""
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in TEST_ONLY)
    code = f"import sys; {blocked}; import bot.demo.run, bot.demo.seed, bot.demo.page"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
