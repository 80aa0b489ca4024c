"""The `farmgate` command: run the bot, migrate the database, set up villages."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn

from pydantic import ValidationError

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from bot.redaction import redact, redact_logging, safe_url, secrets_of
from bot.services.errors import DomainError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The secrets of the loaded settings, masked in every line this command prints.
_secrets: list[str] = []


class Fatal(Exception):
    """A problem the operator fixes in configuration: printed as one line, no traceback."""


def fail(message: str) -> NoReturn:
    print(redact(f"farmgate: {message}", _secrets), file=sys.stderr)
    raise SystemExit(1)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        fail(f"{name}: {first['msg']}")


def _database_problem(settings: Settings, exc: BaseException) -> str:
    return (
        f"cannot use the database at DATABASE_URL={safe_url(settings.database_url)!r} "
        f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
        "check that it is running and the URL is right"
    )


def migrate(settings: Settings, revision: str = "head", down: bool = False) -> None:
    from bot import migrate as m

    try:
        if down:
            m.downgrade(settings.database_url, revision)
        else:
            m.upgrade(settings.database_url, revision)
    except Exception as exc:  # every driver raises its own kind; the operator needs one line
        raise Fatal(_database_problem(settings, exc)) from exc


async def _check_bot(app: object) -> None:
    from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError

    from bot.app import App

    assert isinstance(app, App)
    url = app.settings.telegram_api_url
    try:
        me = await app.bot.get_me()
    except TelegramUnauthorizedError:
        raise Fatal(f"the Bot API at {url} rejected BOT_TOKEN; check the token") from None
    except (TelegramNetworkError, OSError) as exc:
        raise Fatal(
            f"cannot reach the Bot API at TELEGRAM_API_URL={url!r} ({exc}); "
            "check the address or start a local Bot API server"
        ) from None
    logging.getLogger("farmgate").info("running as @%s", me.username)


async def _run(settings: Settings) -> None:
    from bot.app import build_app, run_polling

    app = build_app(settings)
    try:
        await _check_bot(app)
    except Fatal:
        await app.close()
        raise
    await run_polling(app)


def cmd_run(settings: Settings, _args: argparse.Namespace) -> None:
    problem = settings.token_problem()
    if problem:
        raise Fatal(problem)
    migrate(settings)
    asyncio.run(_run(settings))


def cmd_db(settings: Settings, args: argparse.Namespace) -> None:
    if args.action == "upgrade":
        migrate(settings, args.revision or "head")
        print("database is up to date")
    else:
        migrate(settings, args.revision or "-1", down=True)
        print(f"database downgraded to {args.revision or '-1'}")


async def _with_session(settings: Settings, work: Callable[..., Awaitable[None]]) -> None:
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await work(session)
    finally:
        await engine.dispose()


def cmd_village(settings: Settings, args: argparse.Namespace) -> None:
    from bot.services import villages
    from bot.services.access import OPERATOR

    migrate(settings)

    async def add(session: object) -> None:
        village = await villages.add_village(session, OPERATOR, args.name, args.code)  # type: ignore[arg-type]
        print(
            f"added village {village.name!r} (code {village.code}): "
            f"registration deep link /start v_{village.code}"
        )

    async def show(session: object) -> None:
        rows = await villages.list_villages(session)  # type: ignore[arg-type]
        if not rows:
            print("no villages yet: add one with `farmgate village add NAME`")
        for village in rows:
            print(f"{village.id}\t{village.code}\t{village.name}")

    try:
        asyncio.run(_with_session(settings, add if args.action == "add" else show))
    except DomainError as exc:
        raise Fatal(f"village not added: {exc.reason.replace('_', ' ')}") from None


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="farmgate", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (long polling); applies migrations first")
    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "downgrade"])
    db.add_argument("revision", nargs="?", help="target revision (default head / one step)")
    village = sub.add_parser("village", help="villages (collection points)")
    vsub = village.add_subparsers(dest="action", required=True)
    add = vsub.add_parser("add", help="add a village")
    add.add_argument("name")
    add.add_argument("--code", help="deep-link code (letters, digits, - and _)")
    vsub.add_parser("list", help="list villages and their codes")
    return top


COMMANDS = {"run": cmd_run, "db": cmd_db, "village": cmd_village}


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = load_settings()
    _secrets[:] = secrets_of(settings)
    redact_logging(_secrets, LOG_FORMAT)
    try:
        COMMANDS[args.command](settings, args)
    except Fatal as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        pass
    except Exception:
        # Through logging, so the traceback is masked like every other line.
        logging.getLogger("farmgate").exception("farmgate %s stopped", args.command)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
