"""Tiny HTTP control API for sandbox mode: drive simulated users with curl.

POST /_emu/users/{user_id} with a JSON body, one of::

    {"text": "/start"}                 {"contact": "+8613800000000"}
    {"location": [25.1, 99.2]}         {"photo": "optional caption"}
    {"press": "Confirm"}               {"callback_data": "x:y"}

optional "first_name"/"language_code" keys set the user's profile.
GET /_emu/users/{user_id} returns the chat transcript; GET /_emu lists chats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .server import BotApiEmulator

__all__ = ["add_control_routes"]


def add_control_routes(app: web.Application, emu: BotApiEmulator) -> None:
    """Register /_emu/... routes on ``app``."""

    async def index(request: web.Request) -> web.Response:
        chats = {
            str(chat.id): {"first_name": chat.first_name, "bot_messages": len(chat.messages)}
            for chat in emu.chats.values()
        }
        return web.json_response({"base_url": emu.base_url, "chats": chats})

    async def transcript(request: web.Request) -> web.Response:
        chat = emu.user(int(request.match_info["user_id"]))
        return web.Response(text=chat.transcript() + "\n")

    async def act(request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        chat = emu.user(
            int(request.match_info["user_id"]),
            first_name=body.get("first_name"),
            language_code=body.get("language_code"),
        )
        result: Any
        try:
            if "text" in body:
                result = await chat.send(str(body["text"]))
            elif "contact" in body:
                result = await chat.send_contact(str(body["contact"]))
            elif "location" in body:
                lat, lon = body["location"]
                result = await chat.send_location(float(lat), float(lon))
            elif "photo" in body:
                result = await chat.send_photo(body["photo"])
            elif "press" in body or "callback_data" in body:
                result = await chat.press(
                    body.get("press"), callback_data=body.get("callback_data")
                )
            else:
                return web.json_response({"ok": False, "error": "unknown action"}, status=400)
        except AssertionError as e:
            return web.json_response({"ok": False, "error": str(e)}, status=400)
        return web.json_response({"ok": True, "result": result})

    app.router.add_get("/_emu", index)
    app.router.add_get("/_emu/users/{user_id}", transcript)
    app.router.add_post("/_emu/users/{user_id}", act)
