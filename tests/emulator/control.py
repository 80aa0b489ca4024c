"""Tiny HTTP control API for sandbox mode: drive simulated users with curl.

POST /_emu/users/{user_id} with a JSON body, one of::

    {"text": "/start"}                 {"contact": "+8613800000000"}
    {"location": [25.1, 99.2]}         {"photo": "optional caption"}
    {"press": "Confirm"}               {"callback_data": "x:y"}

"press" works on any button the user sees: an inline button, or a reply-keyboard button (its
text is sent; a request_contact button shares the user's own contact, "phone" to choose the
number). A press waits up to 10 s ("wait" to change) for its button to be shown, so a session
pasted at once works. {"press": "Close", "message": 55} presses an inline button of an older
message (#55 in the transcript). Optional "first_name"/"language_code" keys set the user's profile.
GET /_emu/users/{user_id} returns the chat transcript; GET /_emu lists chats. A request that
cannot be done is answered 400 with one readable line of plain text (UTF-8).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .client import UserChat
    from .server import BotApiEmulator

__all__ = ["add_control_routes"]

# A press waits this long for its button to be shown: pasted one after another, commands
# arrive faster than the bot answers.
PRESS_WAIT = 10.0


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
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            user_id = request.match_info["user_id"]
            if not user_id.isdigit():
                raise ValueError(f"the user id must be a number, not {user_id!r}")
            chat = emu.user(
                int(user_id),
                first_name=body.get("first_name"),
                language_code=body.get("language_code"),
            )
            result = await _perform(chat, body)
        except (AssertionError, ValueError, TypeError, KeyError) as e:
            return _refused(e)
        return web.json_response({"ok": True, "result": result}, dumps=_dumps)

    app.router.add_get("/_emu", index)
    app.router.add_get("/_emu/users/{user_id}", transcript)
    app.router.add_post("/_emu/users/{user_id}", act)


async def _perform(chat: UserChat, body: dict[str, Any]) -> Any:
    if "text" in body:
        return await chat.send(str(body["text"]))
    if "contact" in body:
        return await chat.send_contact(str(body["contact"]))
    if "location" in body:
        lat, lon = body["location"]
        return await chat.send_location(float(lat), float(lon))
    if "photo" in body:
        return await chat.send_photo(body["photo"])
    if "callback_data" in body:
        return await chat.press(callback_data=str(body["callback_data"]))
    if "press" in body and "message" in body:  # a button of an older message: "#55" in the chat
        return await chat.press(str(body["press"]), message=int(str(body["message"]).lstrip("#")))
    if "press" in body:
        phone = body.get("phone")
        return await chat.tap(
            str(body["press"]),
            phone=str(phone) if phone else None,
            wait=float(body.get("wait", PRESS_WAIT)),
        )
    raise ValueError(
        'unknown action: send one of "text", "press", "contact", "location", "photo", '
        '"callback_data"'
    )


def _refused(error: Exception) -> web.Response:
    """One readable line (no transcript, no \\u escapes): what could not be done."""
    if isinstance(error, json.JSONDecodeError):
        line = f"the body is not JSON: {error.msg}"
    else:
        line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return web.Response(status=400, text=line + "\n", content_type="text/plain", charset="utf-8")


def _dumps(value: Any) -> str:
    """Readable in a terminal: UTF-8 as it is, and a line of its own."""
    return json.dumps(value, ensure_ascii=False) + "\n"
