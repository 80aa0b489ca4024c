"""PLACEHOLDER for the demo page (branch demo-page builds the real one): one GET / route, so
`farmgate demo` can be run and tested before it is merged."""

from __future__ import annotations

from aiohttp import web


def create_app(emulator_url: str, *, host_note: str = "127.0.0.1") -> web.Application:
    async def index(_request: web.Request) -> web.Response:
        return web.Response(text=f"demo page (emulator {emulator_url}, {host_note})\n")

    app = web.Application()
    app.router.add_get("/", index)
    return app
