"""The Bot API emulator in its own process, for benchmarks: ``python -m bench.emulator_proc``.

Besides the Bot API it serves, on a second port, ``GET /_bench/count`` (messages received
since the last reset), ``GET /_bench/sent?since=N`` (the receive log from entry N on:
``[[monotonic_time, chat_id], ...]``), ``POST /_bench/reset`` and ``POST /_bench/latency?ms=N``
(the simulated round trip from now on; ``--latency-ms`` at start), ``POST /_bench/feed``
(users send updates to the bot, all at once; answered when the bot's replies are in, see
`feed`), and prints ``READY <api_url> <control_url>`` once both listen.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from typing import Any

from aiohttp import web

from tests.emulator import BotApiEmulator


async def feed(emu: BotApiEmulator, body: dict[str, Any]) -> dict[str, Any]:
    """Push every update of `body["updates"]` at once and wait until the bot has sent
    `body["expect"]` messages more (default: one per update; `timeout` seconds at most).

    An update is ``{"user": id, "text": "..."}`` (a leading /command is marked as one) or
    ``{"user": id, "press": "callback data"}`` (a press on the user's newest message with
    buttons; with ``"message": 0, "force": true`` a button the user was never shown);
    ``"language_code"`` sets a new user's client language. Answers the seconds from
    the first push to the last expected message and, per user, the seconds until the
    first message after their update, and `started` (this process's monotonic clock at the
    first push, the clock of ``/_bench/sent``). Counting messages in the receive log keeps the wait
    O(1) per API call, so the emulator's own CPU does not grow with the number of users."""
    updates: list[dict[str, Any]] = body["updates"]
    expect = int(body.get("expect", len(updates)))
    start_len = len(emu.sent_log)
    pushed: dict[int, float] = {}
    start = time.monotonic()
    for item in updates:
        chat = emu.user(int(item["user"]), language_code=item.get("language_code", "en"))
        pushed.setdefault(chat.id, time.monotonic())
        if "press" in item:
            await chat.press(
                callback_data=item["press"],
                message=item.get("message"),
                force=bool(item.get("force")),
            )
        else:
            await chat.send(item["text"])
    await emu.wait_for(
        lambda e: len(e.sent_log) >= start_len + expect, timeout=float(body.get("timeout", 120))
    )
    first: dict[int, float] = {}
    end = start
    for at, chat_id in emu.sent_log[start_len:]:
        end = max(end, at)
        if chat_id in pushed and chat_id not in first:
            first[chat_id] = at - pushed[chat_id]
    return {"seconds": end - start, "latencies": sorted(first.values()), "started": start}


async def serve(host: str, latency: float) -> None:
    # The emulator keeps every message it receives; its full garbage collections grew with
    # that and stood it still for up to 0.1 s, which showed up as the bot's gaps. Telegram
    # does not pause like that, so this stand-in does not collect (reference counting still
    # frees nearly everything; a benchmark run is bounded).
    gc.disable()
    emu = BotApiEmulator(host=host, auto_register=True, latency=latency)
    await emu.start()

    async def sent(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response(emu.sent_log[since:])

    async def count(request: web.Request) -> web.Response:
        return web.json_response(len(emu.sent_log))

    async def reset(request: web.Request) -> web.Response:
        emu.reset_log()
        return web.json_response({"ok": True})

    async def set_latency(request: web.Request) -> web.Response:
        emu.latency = float(request.query["ms"]) / 1000
        return web.json_response({"ok": True})

    async def feed_updates(request: web.Request) -> web.Response:
        return web.json_response(await feed(emu, await request.json()))

    control = web.Application()
    control.router.add_get("/_bench/count", count)
    control.router.add_get("/_bench/sent", sent)
    control.router.add_post("/_bench/reset", reset)
    control.router.add_post("/_bench/latency", set_latency)
    control.router.add_post("/_bench/feed", feed_updates)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"READY {emu.base_url} http://{host}:{port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await emu.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="simulated round trip")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.host, args.latency_ms / 1000))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
