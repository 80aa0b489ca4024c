"""`farmgate demo`: the Bot API emulator, the real bot and the demo page in one process.

The emulator (tests/emulator) stands in for Telegram: the bot long-polls it with a sandbox
token, so no BOT_TOKEN, no network and no .env are used, and nothing is sent to Telegram. The
page talks only to the emulator's user side (/_emu/users/<id>), as a phone would. The emulator
lives in the checkout's tests/, not in the installed package: the demo runs from a checkout
(the README installs it editable) and says so in one line otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import func, select

from bot.cli import Fatal, load_settings, migrate
from bot.config import REPO_ROOT
from bot.db import make_engine, make_sessionmaker
from bot.models import ProcessedUpdate, User

if TYPE_CHECKING:
    from tests.emulator import BotApiEmulator

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Person:
    """Someone in the demo as it prints them: Telegram id, name, and role or what they have."""

    tid: int
    name: str
    role: str


@dataclass(frozen=True)
class Options:
    seed: bool
    db: Path | None
    port: int
    emulator_port: int
    host: str


def use_checkout(root: Path = REPO_ROOT) -> None:
    """Make the checkout's tests/ and bench/ importable (the emulator and the seeding's
    conversations live there), or stop with one line when farmgate is not run from one."""
    if not (root / "tests" / "emulator" / "__init__.py").is_file():
        raise Fatal(
            "the demo runs from a checkout of farmgate (its Bot API emulator is in "
            "tests/emulator/): clone the repository and install it with "
            "`pip install -e .` there"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


@contextlib.contextmanager
def database(path: Path | None, seed: bool) -> Iterator[str]:
    """The SQLite URL: of PATH (kept), or of a file in a temporary folder removed at the end."""
    if path is not None:
        if seed and path.exists():
            raise Fatal(
                f"--seed fills a new programme, and {path} exists: remove it, choose another "
                "--db, or leave out --seed to go on with it"
            )
        yield f"sqlite+aiosqlite:///{path.resolve()}"
        return
    with tempfile.TemporaryDirectory(prefix="farmgate-demo-") as folder:
        yield f"sqlite+aiosqlite:///{folder}/demo.db"


def cmd_demo(options: Options) -> None:
    use_checkout()
    # SIGTERM stops the demo as Ctrl-C does (the temporary database removed) until the event
    # loop takes both signals over.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with database(options.db, options.seed) as url:
        # The demo's own settings: never the token, database or Redis of the environment.
        migrate(load_settings(_env_file=None, database_url=url))
        asyncio.run(serve(options, url))


async def kept(url: str) -> tuple[int, list[Person]]:
    """What a kept database says about the chats the emulator starts without: the newest update
    the bot handled (a new emulator numbers its updates after it, or the bot would take them
    for redeliveries and ignore them) and its people, named as Telegram would name them."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            last = await session.scalar(select(func.max(ProcessedUpdate.update_id)))
            users = await session.execute(
                select(User.telegram_id, User.name, User.company, User.role).order_by(
                    User.telegram_id
                )
            )
            people = [
                Person(
                    tid,
                    company or name or f"User{tid}",
                    role.value if role else "not registered yet",
                )
                for tid, name, company, role in users.all()
            ]
    finally:
        await engine.dispose()
    return int(last or 0), people


def port_problem(what: str, option: str, exc: OSError) -> Fatal:
    return Fatal(f"cannot listen for the {what} ({exc.strerror or exc}): choose another {option}")


@contextlib.asynccontextmanager
async def emulator_up(emu: BotApiEmulator) -> AsyncIterator[None]:
    try:
        await emu.start()
    except OSError as exc:
        raise port_problem("Bot API emulator", "--emulator-port", exc) from None
    try:
        yield
    finally:
        await emu.stop()


@contextlib.asynccontextmanager
async def page_up(runner: web.AppRunner, host: str, port: int) -> AsyncIterator[str]:
    """The page served on host:port; yields its address (the port chosen when 0)."""
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise port_problem("page", "--port", exc) from None
        yield f"http://{host}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def serve(options: Options, url: str) -> None:
    """Everything started, in one event loop, until SIGINT or SIGTERM; then stopped in reverse."""
    from bench.updates import farmgate
    from bot.demo import seed
    from bot.demo.page import create_app
    from tests.emulator.__main__ import emulator_from, parse_args

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    emu = emulator_from(parse_args(["--port", str(options.emulator_port)]))
    last_update, people = await kept(url)
    emu.take_update_id(last_update)
    people = [p for p in people if p.tid != seed.COORDINATOR] + seed.cast(options.seed)
    for person in people:
        emu.user(person.tid, first_name=person.name)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(emulator_up(emu))
        runner = web.AppRunner(create_app(emu.base_url, host_note=options.host), access_log=None)
        page = await stack.enter_async_context(page_up(runner, options.host, options.port))
        await stack.enter_async_context(
            farmgate(
                emu.base_url,
                url,
                coordinator_ids=frozenset({seed.COORDINATOR}),
                redis_url=None,
                payout_days=0,  # payouts due the day they are collected: /due lists them
            )
        )
        print(f"bot running against the Bot API emulator at {emu.base_url}", flush=True)
        if options.seed and not await until_stopped(seed.seed(emu, url), stop):
            return
        print(banner(options, url, page, emu.base_url, people), flush=True)
        await stop.wait()
        print("stopping the demo", flush=True)


async def until_stopped(work: Coroutine[None, None, None], stop: asyncio.Event) -> bool:
    """Run `work` unless Ctrl-C comes first (then it is cancelled): True when it finished."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if task.done():
        task.result()  # a seeding step that failed stops the demo with its reason
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    print("stopping the demo", flush=True)
    return False


def banner(options: Options, url: str, page: str, emulator: str, people: list[Person]) -> str:
    where = (
        f"It listens on {options.host} only: only this computer can open it."
        if options.host in LOOPBACK
        else f"It listens on {options.host}: anyone who can reach this computer can open it "
        "and act as any user."
    )
    db = url.removeprefix("sqlite+aiosqlite:///")
    fate = "kept" if options.db else "deleted when the demo stops"
    lines = [
        "",
        f"farmgate demo: open {page}",
        f"  {where}",
        f"  The bot talks to a Bot API emulator on this computer ({emulator}), never to Telegram.",
        f"  Database: {db} ({fate})",
        "  Users (Telegram ids):",
    ]
    lines += [f"    {p.tid}  {p.name}: {p.role}" for p in sorted(people, key=lambda p: p.tid)]
    lines.append("    any other id: someone new, who registers with /start")
    if not options.seed:
        lines.append("  `farmgate demo --seed` starts with a small programme filled in.")
    lines.append("  Ctrl-C stops it.")
    return "\n".join(lines)
