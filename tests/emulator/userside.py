"""The users' side of the emulator as JSON, for a page in a browser (bot/demo/page.py).

What a phone shows and does, nothing more: the chats, each one's messages as they look now
(edits applied, deleted ones gone, text cut into typed parts by its entities so a page can
render it without HTML), the reply keyboard under the input field, the files in messages,
the actions a user can take, and a stream of changes (server-sent events)::

    GET  /_emu/chats                        {"chats": [chat summary, ...]}
    POST /_emu/chats                        {"id": 1001, "first_name": "Li", "language_code": "zh"}
    GET  /_emu/chats/{id}                   summary + "messages" + "keyboard"
    POST /_emu/chats/{id}/actions           one of:
         {"text": "/start"}
         {"inline": {"message_id": 7, "callback_data": "lang:en"}}   an inline button
         {"reply": "📦 Report harvest"}                             a reply-keyboard button
         {"contact": {"phone": "+86...", "own": false, "first_name": "Wang"}}
         {"location": {"latitude": 25.11, "longitude": 99.16}}
         {"photo": {"caption": "beans", "data": "<base64>"}}           no data: a sample photo
    GET  /_emu/files/{file_id}              the file's bytes (photos inline, documents attached)
    GET  /_emu/events[?chat=id]             text/event-stream: one JSON object per event

A button is pressed by its identity (an inline button by its message and callback data, a
reply button by its exact text), never by a guess. A request that cannot be done is answered
400 with {"ok": false, "error": one line}.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from .files import png_size

if TYPE_CHECKING:
    from .client import UserChat
    from .models import BotMessage, KeyboardButton
    from .server import BotApiEmulator

__all__ = ["add_user_side_routes", "text_parts"]

JSON = dict[str, Any]

KEEPALIVE = 15.0
"""Seconds between comments on an idle event stream, so proxies and browsers keep it open."""
MAX_NAME = 64


def add_user_side_routes(app: web.Application, emu: BotApiEmulator) -> None:
    """Register the JSON user side (/_emu/chats, /_emu/files, /_emu/events) on ``app``."""

    async def chats(request: web.Request) -> web.Response:
        return _ok({"chats": [summary(chat) for chat in emu.chats.values()]})

    async def create(request: web.Request) -> web.Response:
        try:
            body = await _body(request)
            user_id = _user_id(body.get("id"))
            name = str(body.get("first_name") or "").strip()
            if not name or len(name) > MAX_NAME:
                raise ValueError(f"a name of 1 to {MAX_NAME} characters is needed")
            language = body.get("language_code")
            chat = emu.user(user_id, first_name=name, language_code=str(language or "") or None)
        except ValueError as e:
            return _refused(e)
        return _ok(summary(chat))

    async def one(request: web.Request) -> web.Response:
        chat = _existing(emu, request)
        return _ok(conversation(chat))

    async def act(request: web.Request) -> web.Response:
        chat = _existing(emu, request)
        try:
            result = await _perform(chat, await _body(request))
        except (AssertionError, ValueError, TypeError, KeyError) as e:
            return _refused(e)
        return _ok({"ok": True, "result": result})

    async def download(request: web.Request) -> web.Response:
        stored = emu.file(request.match_info["file_id"])
        if stored is None:
            raise web.HTTPNotFound(text="no such file")
        mime = stored.mime_type or (
            "image/png" if png_size(stored.data) else "application/octet-stream"
        )
        name = stored.file_name or f"{stored.kind}-{stored.file_unique_id}"
        disposition = "inline" if mime.startswith("image/") else "attachment"
        return web.Response(
            body=stored.data,
            content_type=mime,
            headers={"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}"},
        )

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):  # the page went away
            await _stream(emu, response, request.query.get("chat"))
        return response

    app.router.add_get("/_emu/chats", chats)
    app.router.add_post("/_emu/chats", create)
    app.router.add_get("/_emu/chats/{user_id}", one)
    app.router.add_post("/_emu/chats/{user_id}/actions", act)
    app.router.add_get("/_emu/files/{file_id}", download)
    app.router.add_get("/_emu/events", events)


async def _stream(emu: BotApiEmulator, response: web.StreamResponse, only: str | None) -> None:
    """Every change from now on, as events, until the emulator stops."""
    # From now on: what a page loaded before connecting it sees as it was.
    cursors = {chat_id: chat.events_since(0)[1] for chat_id, chat in emu.chats.items()}
    await response.write(_sse({"type": "ready"}))
    while not emu.updates.stopping:
        sent = False
        for chat in list(emu.chats.values()):
            if only is not None and str(chat.id) != only:
                continue
            if chat.id not in cursors:
                cursors[chat.id] = 0
                await response.write(_sse({"type": "chat", "chat": summary(chat)}))
                sent = True
            entries, cursors[chat.id] = chat.events_since(cursors[chat.id])
            for entry in entries:
                event = live_event(chat, entry)
                if event is not None:
                    await response.write(_sse(event))
                    sent = True
        # A pass that wrote nothing awaited nothing: no change can slip in before the wait.
        if not sent and not await emu.changed(KEEPALIVE):
            await response.write(b": keepalive\n\n")


# ---------------------------------------------------------------------- what a phone shows


def summary(chat: UserChat) -> JSON:
    """Who the user is: enough for a picker."""
    return {
        "id": chat.id,
        "first_name": chat.first_name,
        "language_code": chat.language_code,
        "phone": chat.phone,
        "message_count": len(chat.visible) + len(chat.user_messages),
    }


def conversation(chat: UserChat) -> JSON:
    """The chat as its user sees it now: both sides' live messages in order, the keyboard."""
    shown: list[JSON] = [bot_message(m) for m in chat.visible]
    shown += [
        user_message(raw)
        for mid, raw in chat.user_messages.items()
        if mid not in chat.deleted_user_messages
    ]
    shown.sort(key=lambda m: int(m["id"]))
    return {**summary(chat), "messages": shown, "keyboard": keyboard(chat.keyboard)}


def keyboard(rows: list[list[KeyboardButton]] | None) -> list[list[JSON]] | None:
    """The reply keyboard under the input field (None: the normal keyboard)."""
    if rows is None:
        return None
    return [
        [
            {
                "text": b.text,
                "request_contact": b.request_contact,
                "request_location": b.request_location,
            }
            for b in row
        ]
        for row in rows
    ]


def bot_message(msg: BotMessage) -> JSON:
    """A message the bot sent, edits applied."""
    out: JSON = {
        "id": msg.message_id,
        "from": "bot",
        "date": msg.date,
        "parts": text_parts(msg.text, msg.entities),
        "edited": msg.edits > 0,
        "edits": msg.edits,
        "deleted": msg.deleted,
        "inline_keyboard": [
            [{"text": b.text, "callback_data": b.callback_data, "url": b.url} for b in row]
            for row in msg.inline_keyboard
        ],
    }
    if msg.media in {"photo", "document"} and msg.file_id:
        out["media"] = msg.media
        out["file"] = {"file_id": msg.file_id, "file_name": msg.file_name}
    if msg.reply_to_message_id is not None:
        out["reply_to"] = msg.reply_to_message_id
    return out


def user_message(raw: JSON) -> JSON:
    """A message the user sent."""
    text = str(raw.get("text", raw.get("caption")) or "")
    out: JSON = {
        "id": raw["message_id"],
        "from": "user",
        "date": raw.get("date", 0),
        "parts": text_parts(text, raw.get("entities") or raw.get("caption_entities") or []),
        "edited": "edit_date" in raw,
        "edits": 0,
        "deleted": False,
        "inline_keyboard": [],
    }
    if "photo" in raw:
        out["media"] = "photo"
        out["file"] = {"file_id": raw["photo"][-1]["file_id"], "file_name": None}
    elif "document" in raw:
        document = raw["document"]
        out["media"] = "document"
        out["file"] = {"file_id": document["file_id"], "file_name": document.get("file_name")}
    elif "contact" in raw:
        contact = raw["contact"]
        out["media"] = "contact"
        out["contact"] = {
            "phone_number": contact.get("phone_number"),
            "first_name": contact.get("first_name"),
            "user_id": contact.get("user_id"),
        }
    elif "location" in raw:
        out["media"] = "location"
        out["location"] = dict(raw["location"])
    elif "sticker" in raw:
        out["parts"] = text_parts(str(raw["sticker"].get("emoji", "")), [])
    return out


def text_parts(text: str, entities: list[JSON]) -> list[JSON]:
    """``text`` cut at its entities: [{"text": ...}, {"text": ..., "type": "bold"}, ...].

    Offsets count UTF-16 code units, as Telegram's do; a page shows each part as plain text
    (a class per type), so nothing the bot or a user typed is ever read as HTML."""
    if not text:
        return []
    units = text.encode("utf-16-le")
    total = len(units) // 2

    def cut(start: int, end: int) -> str:
        return units[2 * start : 2 * end].decode("utf-16-le", errors="replace")

    parts: list[JSON] = []
    position = 0
    for entity in sorted(entities, key=lambda e: (int(e["offset"]), -int(e["length"]))):
        start = int(entity["offset"])
        end = min(total, start + int(entity["length"]))
        if start < position or start >= end:  # nested or empty: the outer one is shown
            continue
        if start > position:
            parts.append({"text": cut(position, start)})
        part: JSON = {"text": cut(start, end), "type": str(entity["type"])}
        if entity.get("url"):
            part["url"] = str(entity["url"])
        parts.append(part)
        position = end
    if position < total:
        parts.append({"text": cut(position, total)})
    return parts


def live_event(chat: UserChat, entry: tuple[Any, ...]) -> JSON | None:
    """One log entry of a chat as a page's event (None: nothing a phone would show)."""
    kind = entry[0]
    base: JSON = {"chat": chat.id, "keyboard": keyboard(chat.keyboard)}
    if kind == "in":
        return {**base, "type": "message", "message": user_message(entry[1])}
    if kind in {"out", "edit"}:
        message: BotMessage = entry[1]
        return {**base, "type": "message", "message": bot_message(message)}
    if kind == "delete":
        return {**base, "type": "delete", "message_id": entry[1].message_id}
    if kind == "delete_user":
        return {**base, "type": "delete", "message_id": entry[1]}
    if kind == "answer" and entry[1].get("text"):
        answer = entry[1]
        return {
            **base,
            "type": "answer",
            "text": str(answer["text"]),
            "show_alert": bool(answer.get("show_alert")),
        }
    return None


# ---------------------------------------------------------------------- what a user does


async def _perform(chat: UserChat, body: JSON) -> Any:
    if "text" in body:
        text = str(body["text"])
        if not text.strip():
            raise ValueError("an empty message cannot be sent")
        return await chat.send(text)
    if "inline" in body:
        target = body["inline"]
        return await chat.press(
            callback_data=str(target["callback_data"]), message=int(target["message_id"])
        )
    if "reply" in body:
        return await chat.press_keyboard(str(body["reply"]))
    if "contact" in body:
        contact = body["contact"]
        own = bool(contact.get("own", True))
        phone = str(contact.get("phone") or (chat.phone if own else ""))
        if not phone.strip():
            raise ValueError("a contact needs a phone number")
        name = contact.get("first_name")
        return await chat.send_contact(phone, own=own, first_name=str(name) if name else None)
    if "location" in body:
        place = body["location"]
        return await chat.send_location(float(place["latitude"]), float(place["longitude"]))
    if "photo" in body:
        photo = body["photo"]
        caption = photo.get("caption") or None
        data = photo.get("data")
        try:
            raw = base64.b64decode(str(data), validate=True) if data else None
        except binascii.Error as e:
            raise ValueError("the photo is not base64") from e
        return await chat.send_photo(caption, data=raw)
    raise ValueError(
        'unknown action: send one of "text", "inline", "reply", "contact", "location", "photo"'
    )


# ---------------------------------------------------------------------- HTTP helpers


def _existing(emu: BotApiEmulator, request: web.Request) -> UserChat:
    try:
        user_id = _user_id(request.match_info["user_id"])
    except ValueError as e:
        raise web.HTTPBadRequest(text=str(e)) from e
    chat = emu.chats.get(user_id)
    if chat is None:
        raise web.HTTPNotFound(text=f"no chat with user {user_id}")
    return chat


def _user_id(value: Any) -> int:
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or not 0 < int(text) < 2**52:
        raise ValueError(f"a user id is a positive number, not {text!r}")
    return int(text)


async def _body(request: web.Request) -> JSON:
    try:
        body = await request.json()
    except json.JSONDecodeError as e:
        raise ValueError(f"the body is not JSON: {e.msg}") from e
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _ok(value: JSON) -> web.Response:
    return web.json_response(value, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def _refused(error: Exception) -> web.Response:
    line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return web.json_response({"ok": False, "error": line}, status=400)


def _sse(event: JSON) -> bytes:
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()
