"""The Bot API emulator in its own process, for benchmarks: ``python -m bench.emulator_proc``.

Besides the Bot API it serves, on a second port, ``GET /_bench/count`` (messages received
since the last reset), ``GET /_bench/sent?since=N`` (the receive log from entry N on:
``[[monotonic_time, chat_id], ...]``), ``POST /_bench/reset`` and ``POST /_bench/latency?ms=N``
(the simulated round trip from now on; ``--latency-ms`` at start), and prints
``READY <api_url> <control_url>`` once both listen.
"""

from __future__ import annotations

import argparse
import asyncio
import gc

from aiohttp import web

from tests.emulator import BotApiEmulator


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

    control = web.Application()
    control.router.add_get("/_bench/count", count)
    control.router.add_get("/_bench/sent", sent)
    control.router.add_post("/_bench/reset", reset)
    control.router.add_post("/_bench/latency", set_latency)
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
