"""The demo page: the bot's chats in a browser, several side by side, without Telegram.

The page is a phone for any number of simulated users: it talks only to the Bot API
emulator's user side (/_emu/chats, /_emu/files, /_emu/events; tests/emulator/userside.py), as
a phone talks to Telegram, so everything it shows went through the real bot. It has no
database and imports nothing of the bot but the catalogs for its own labels. This module
serves the static page (bot/demo/static/) and forwards its /api/... calls, the event stream
included, to the emulator over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiogram.utils.i18n import I18n
from aiohttp import web

from bot.config import SHIPPED_LOCALES, default_locales_dir
from bot.i18n import N_, make_i18n

__all__ = ["LABELS", "create_app", "labels"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_UPLOAD = 10 * 1024 * 1024  # a phone's photo, base64-encoded
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
PASSED_HEADERS = ("Content-Type", "Content-Disposition")

# Languages by their own names (what a reader looks for), as the bot's language picker shows.
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}

LABELS: dict[str, str] = {
    "title": N_("farmgate demo"),
    "subtitle": N_("The bot as farmers, merchants and coordinators see it, without Telegram."),
    "listening": N_("This page listens on {host} only."),
    "page_language": N_("Page language"),
    "open_chat": N_("Open a user's chat"),
    "pick_user": N_("Pick a user…"),
    "open": N_("Open"),
    "new_user": N_("New user"),
    "user_id": N_("Telegram id"),
    "name": N_("Name"),
    "user_language": N_("Their language"),
    "create": N_("Create and open"),
    "close": N_("Close"),
    "start": N_("START"),
    "message": N_("Message"),
    "send": N_("Send"),
    "attach": N_("Contact, location, photo"),
    "own_contact": N_("Share my contact"),
    "other_contact": N_("Someone else's contact"),
    "phone": N_("Phone number"),
    "contact_name": N_("Their name"),
    "send_contact": N_("Send contact"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "send_location": N_("Send location"),
    "choose_photo": N_("Choose a photo…"),
    "caption": N_("Caption"),
    "send_photo": N_("Send photo"),
    "sample_photo": N_("Send a sample photo"),
    "edited": N_("edited"),
    "download": N_("Download"),
    "photo": N_("Photo"),
    "no_chats": N_("No chat open: pick a user or make a new one."),
    "offline": N_("Connection lost: reconnecting…"),
    "failed": N_("Could not do that: {error}"),
}
"""The page's own words, by key; the bot's words come from the bot."""

FORWARDED = [
    ("GET", "/chats"),
    ("POST", "/chats"),
    ("GET", r"/chats/{user_id:\d+}"),
    ("POST", r"/chats/{user_id:\d+}/actions"),
    ("GET", "/files/{file_id:[A-Za-z0-9_-]+}"),
]
"""The emulator's user-side calls a page may make (/api/... -> /_emu/...); nothing else."""

EMULATOR = web.AppKey("emulator_url", str)
HOST_NOTE = web.AppKey("host_note", str)
TRANSLATIONS = web.AppKey("i18n", I18n)
CLIENT = web.AppKey("client", aiohttp.ClientSession)
STREAMS = web.AppKey("streams", set[asyncio.Task[Any]])


def labels(i18n: I18n, lang: str) -> dict[str, str]:
    """The label table in ``lang`` from the project's catalogs."""
    return {key: i18n.gettext(msgid, locale=lang) for key, msgid in LABELS.items()}


def create_app(emulator_url: str, *, host_note: str = "127.0.0.1") -> web.Application:
    """The page, forwarding to the emulator at ``emulator_url``; ``host_note`` is the address
    the page says it listens on (the caller binds it)."""
    app = web.Application(client_max_size=MAX_UPLOAD)
    app[EMULATOR] = emulator_url.rstrip("/")
    app[HOST_NOTE] = host_note
    app[TRANSLATIONS] = make_i18n(default_locales_dir(), SHIPPED_LOCALES[0])
    app[STREAMS] = set()
    app.cleanup_ctx.append(_client)
    app.on_shutdown.append(_end_streams)
    app.router.add_get("/", _index)
    app.router.add_static("/static/", STATIC_DIR)
    app.router.add_get("/api/page", _page)
    for method, path in FORWARDED:
        app.router.add_route(method, f"/api{path}", _forward)
    app.router.add_get("/api/events", _events)
    return app


async def _client(app: web.Application) -> AsyncIterator[None]:
    # No total timeout: the event stream stays open as long as the page does.
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=5))
    app[CLIENT] = session
    yield
    await session.close()


async def _end_streams(app: web.Application) -> None:
    """Shutting down waits for no open page: its event stream ends here."""
    for task in app[STREAMS]:
        task.cancel()


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def _page(request: web.Request) -> web.Response:
    """What the page needs to draw itself in a language: its labels, the languages, where it
    listens."""
    lang = request.query.get("lang", "")
    if lang not in SHIPPED_LOCALES:
        lang = SHIPPED_LOCALES[0]
    return web.json_response(
        {
            "lang": lang,
            "languages": [{"code": c, "name": LANGUAGE_NAMES.get(c, c)} for c in SHIPPED_LOCALES],
            "labels": labels(request.app[TRANSLATIONS], lang),
            "host": request.app[HOST_NOTE],
        }
    )


def _upstream(request: web.Request) -> str:
    """The emulator's address for this /api/... request: /_emu/... with the same query."""
    path = request.rel_url.raw_path.removeprefix("/api")
    query = request.rel_url.raw_query_string
    return f"{request.app[EMULATOR]}/_emu{path}" + (f"?{query}" if query else "")


async def _forward(request: web.Request) -> web.Response:
    if request.method == "POST" and request.content_type != "application/json":
        # Only the page's own script sends JSON: another site's form or no-cors fetch cannot,
        # and a cross-origin JSON request needs a preflight this server never grants.
        return web.json_response({"ok": False, "error": "JSON only"}, status=415)
    body = await request.read() if request.can_read_body else None
    headers = {"Content-Type": request.content_type} if body is not None else {}
    try:
        async with request.app[CLIENT].request(
            request.method, _upstream(request), data=body, headers=headers
        ) as upstream:
            payload = await upstream.read()
            passed = {h: upstream.headers[h] for h in PASSED_HEADERS if h in upstream.headers}
            return web.Response(status=upstream.status, body=payload, headers=passed)
    except aiohttp.ClientError:
        return _unreachable()


async def _events(request: web.Request) -> web.StreamResponse:
    """The emulator's event stream, passed through as it comes."""
    response = web.StreamResponse(headers=SSE_HEADERS)
    task = asyncio.current_task()
    assert task is not None
    request.app[STREAMS].add(task)
    try:
        async with request.app[CLIENT].get(_upstream(request)) as upstream:
            if upstream.status != 200:
                return _unreachable()
            await response.prepare(request)
            with contextlib.suppress(ConnectionResetError):  # the page went away
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
    except aiohttp.ClientError:  # the emulator stopped
        if not response.prepared:
            return _unreachable()
    finally:
        request.app[STREAMS].discard(task)
    return response


def _unreachable() -> web.Response:
    return web.json_response({"ok": False, "error": "the emulator does not answer"}, status=502)
