"""The `farmgate` command: run the bot, migrate the database, set up villages, see the
programme's figures, export its data, and try it all in a browser (`farmgate demo`)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

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


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
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


def figures_lines(f: Any) -> list[str]:
    """The figures in plain English for the operator's terminal (docs/figures.md)."""
    from bot.services.exports import cny, kg
    from bot.services.figures import Figures

    assert isinstance(f, Figures)
    span = f.span
    if span.start is not None and span.end is not None:
        last = (span.end - timedelta(days=1)).date()
        period = f"{span.period.value} ({span.start.date()} to {last})"
    else:
        period = "all"
    average = f.average_fen_per_kg
    lines = [f"period: {period}", f"farmers registered: {f.farmers}"]
    lines += [f"  {v.village}: {v.farmers}" for v in f.farmers_by_village]
    lines += [
        f"harvest reported: {kg(f.reported_grams)} kg (reports: {f.reports})",
        f"lots: {f.lots_opened} opened, {f.lots_sold} sold, {f.lots_unsold} unsold",
        f"sold: {kg(f.sold_grams)} kg for CNY {cny(f.sales_fen)} "
        f"(CNY {cny(f.invoiced_fen)} of it invoiced)",
        f"average price: {'CNY ' + cny(average) + '/kg' if average is not None else '-'}",
        f"merchants: {f.merchants_approved} approved, {f.merchants_active} active",
        f"payouts: {f.payouts_scheduled} scheduled (CNY {cny(f.payouts_scheduled_fen)}), "
        f"{f.payouts_paid} paid (CNY {cny(f.payouts_paid_fen)})",
        f"disputed payouts: {f.payouts_disputed} (open disputes: {f.disputes_open})",
    ]
    return lines


def figures_json(f: Any) -> dict[str, Any]:
    """The figures as JSON: integers as stored (grams, fen), periods as ISO 8601."""
    from bot.services.figures import Figures

    assert isinstance(f, Figures)
    data = dataclasses.asdict(f)
    span = f.span
    data["span"] = {
        "period": span.period.value,
        "start": span.start.isoformat() if span.start else None,
        "end": span.end.isoformat() if span.end else None,
    }
    data["average_fen_per_kg"] = f.average_fen_per_kg
    return data


def cmd_stats(settings: Settings, args: argparse.Namespace) -> None:
    from bot.models import utcnow
    from bot.services.access import OPERATOR
    from bot.services.figures import figures
    from bot.services.periods import Period, span

    migrate(settings)
    period = span(Period(args.period), utcnow(), settings.tz, settings.season_start)

    async def show(session: object) -> None:
        found = await figures(session, OPERATOR, period)  # type: ignore[arg-type]
        if args.json:
            print(json.dumps(figures_json(found), ensure_ascii=False, indent=2))
        else:
            print("\n".join(figures_lines(found)))

    asyncio.run(_with_session(settings, show))


def cmd_export(settings: Settings, args: argparse.Namespace) -> None:
    from bot.services.access import OPERATOR
    from bot.services.exports import export_to_dir

    migrate(settings)
    directory = Path(args.directory)
    if directory.exists() and not directory.is_dir():
        raise Fatal(f"{directory} is a file, not a directory: give a directory for the CSV files")

    async def write(session: object) -> None:
        written = await export_to_dir(session, OPERATOR, directory, settings.tz)  # type: ignore[arg-type]
        for path, rows in written:
            print(f"{path}\t{rows} rows")

    try:
        asyncio.run(_with_session(settings, write))
    except OSError as exc:
        raise Fatal(f"cannot write the CSV files into {directory}: {exc.strerror or exc}") from None


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
    stats = sub.add_parser("stats", help="the programme's figures (docs/figures.md)")
    stats.add_argument(
        "--period",
        choices=["month", "season", "all"],
        default="season",
        help="this month, this season (from SEASON_START) or everything (default: season)",
    )
    stats.add_argument("--json", action="store_true", help="print JSON (grams and fen)")
    export = sub.add_parser("export", help="write every table as a CSV file (docs/export.md)")
    export.add_argument("directory", help="where to write the files (created if missing)")
    demo = sub.add_parser(
        "demo",
        help="try the bot in a browser: a web page to chat as any user, with the bot and a "
        "local Bot API emulator (no Telegram, no token; run from a checkout)",
    )
    demo.add_argument(
        "--seed",
        action="store_true",
        help="start with a small programme: villages, farmers with reports, approved "
        "merchants, an open auction with bids, a sold lot with payouts scheduled",
    )
    demo.add_argument(
        "--db",
        metavar="PATH",
        type=Path,
        help="keep the programme in this SQLite file (default: a temporary one, deleted at the "
        "end); the chats start empty each time",
    )
    demo.add_argument("--port", type=int, default=8080, help="the page's port (default 8080)")
    demo.add_argument(
        "--emulator-port", type=int, default=8081, help="the emulator's port (default 8081)"
    )
    demo.add_argument(
        "--host",
        default="127.0.0.1",
        help="the page's address (default 127.0.0.1: this computer only)",
    )
    return top


COMMANDS = {
    "run": cmd_run,
    "db": cmd_db,
    "village": cmd_village,
    "stats": cmd_stats,
    "export": cmd_export,
}


def cmd_demo(args: argparse.Namespace) -> None:
    """The demo reads no settings: its token, database and Bot API address are its own."""
    from bot.demo.run import Options, cmd_demo

    # The bot's INFO lines (every update handled) would bury the demo's own.
    logging.getLogger().setLevel(logging.WARNING)
    cmd_demo(Options(args.seed, args.db, args.port, args.emulator_port, args.host))


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        if args.command == "demo":
            cmd_demo(args)
            return
        settings = load_settings()
        _secrets[:] = secrets_of(settings)
        redact_logging(_secrets, LOG_FORMAT)
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
