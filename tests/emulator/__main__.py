"""Run the emulator standalone: ``python -m tests.emulator --port 8081 [--latency-ms 150]``."""

from __future__ import annotations

import argparse
import asyncio

from .server import BotApiEmulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Local Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=None, help="only accept this bot token")
    parser.add_argument(
        "--user", action="append", default=[], help="pre-register a user as ID[:first_name]"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0, help="delay every Bot API call, like a far Telegram"
    )
    return parser.parse_args(argv)


def emulator_from(args: argparse.Namespace) -> BotApiEmulator:
    """The sandbox emulator the command line describes (control API on, users registered)."""
    emu = BotApiEmulator(
        token=args.token,
        host=args.host,
        port=args.port,
        auto_register=True,
        control_api=True,
        latency=args.latency_ms / 1000,
    )
    for spec in args.user:
        user_id, _, name = spec.partition(":")
        emu.user(int(user_id), first_name=name or None)
    return emu


async def _serve(args: argparse.Namespace) -> None:
    emu = emulator_from(args)
    await emu.start()
    print(f"Bot API emulator listening on {emu.base_url}", flush=True)
    print(
        f"  bot:   TelegramAPIServer.from_base({emu.base_url!r})\n"
        f'  users: curl -d \'{{"text": "/start"}}\' {emu.base_url}/_emu/users/1001\n'
        f"         curl {emu.base_url}/_emu/users/1001",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()


def main() -> None:
    try:
        asyncio.run(_serve(parse_args()))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
