# ruff: noqa: ASYNC109  (timeout= parameters are part of the public test API)
"""A local Telegram Bot API emulator (aiohttp) for end-to-end tests and benchmarks.

The real aiogram ``Bot`` talks to it over HTTP::

    emu = BotApiEmulator()
    await emu.start()
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))

Tests act as users through :meth:`BotApiEmulator.user` (see ``client.UserChat``).
"""

from __future__ import annotations

import asyncio
import json
import math
import mimetypes
import secrets
import struct
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from .client import Notifier, UserChat
from .entities import EntityParseError, prepare_text, utf16_len
from .models import ApiError, BotMessage, CallRecord, Upload, parse_inline_keyboard

__all__ = ["BotApiEmulator", "StoredFile", "make_png"]

JSON = dict[str, Any]
T = TypeVar("T")

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)  # everything except chat_member, message_reaction and message_reaction_count

# Fields that are always plain strings (never JSON-decoded / number-converted).
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "photo",
        "document",
        "audio",
        "voice",
        "video",
        "animation",
        "sticker",
        "video_note",
        "thumbnail",
        "file_id",
        "description",
        "short_description",
        "name",
        "title",
        "emoji",
        "language_code",
        "action",
        "secret_token",
        "ip_address",
        "phone_number",
        "first_name",
        "last_name",
        "vcard",
        "address",
        "business_connection_id",
        "message_effect_id",
        "query",
        "payload",
        "currency",
        "provider_token",
        "start_parameter",
        "question",
        "explanation",
        "custom_emoji_id",
        "error_message",
        "shipping_query_id",
        "pre_checkout_query_id",
        "game_short_name",
        "invite_link",
        "foursquare_id",
        "foursquare_type",
        "google_place_id",
        "google_place_type",
    }
)
_MEDIA_KINDS: dict[str, str] = {
    "sendphoto": "photo",
    "senddocument": "document",
    "sendvideo": "video",
    "sendaudio": "audio",
    "sendvoice": "voice",
    "sendanimation": "animation",
    "sendsticker": "sticker",
    "sendvideonote": "video_note",
}
_FILE_DIRS: dict[str, tuple[str, str]] = {
    "photo": ("photos", "png"),
    "document": ("documents", "bin"),
    "video": ("videos", "mp4"),
    "audio": ("music", "mp3"),
    "voice": ("voice", "oga"),
    "animation": ("animations", "mp4"),
    "sticker": ("stickers", "webp"),
    "video_note": ("video_notes", "mp4"),
}
_FILE_ID_PREFIX: dict[str, str] = {
    "photo": "AgACAgIAAxkBAA",
    "document": "BQACAgIAAxkBAA",
    "video": "BAACAgIAAxkBAA",
    "audio": "CQACAgIAAxkBAA",
    "voice": "AwACAgIAAxkBAA",
    "animation": "CgACAgIAAxkBAA",
    "sticker": "CAACAgIAAxkBAA",
    "video_note": "DQACAgIAAxkBAA",
}
_KIND_TITLES = {
    "photo": "Photo",
    "document": "Document",
    "video": "Video",
    "audio": "Audio",
    "voice": "Voice",
    "animation": "Animation",
    "sticker": "Sticker",
    "video_note": "VideoNote",
}
_COPY_KEYS = (
    "text",
    "entities",
    "photo",
    "document",
    "caption",
    "caption_entities",
    "sticker",
    "voice",
    "audio",
    "video",
    "animation",
    "video_note",
    "location",
    "contact",
    "venue",
    "dice",
    "poll",
)
_MEDIA_KEYS = (
    "photo",
    "document",
    "video",
    "audio",
    "voice",
    "animation",
    "sticker",
    "video_note",
    "location",
    "contact",
    "venue",
    "dice",
    "poll",
)

SEND_METHODS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendvideo",
        "sendaudio",
        "sendvoice",
        "sendanimation",
        "sendsticker",
        "sendvideonote",
        "sendmediagroup",
        "sendlocation",
        "sendcontact",
        "sendvenue",
        "senddice",
        "sendpoll",
        "copymessage",
        "forwardmessage",
    }
)
EDIT_METHODS = frozenset(
    {"editmessagetext", "editmessagecaption", "editmessagereplymarkup", "editmessagemedia"}
)
CHAT_METHODS = SEND_METHODS | EDIT_METHODS | {"sendchataction", "deletemessage", "deletemessages"}


def make_png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (40, 140, 60)) -> bytes:
    """A valid solid-colour RGB PNG."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of PNG/JPEG bytes, or None if unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            seg_len = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(w), int(h)
            i += 2 + seg_len
    return None


def _decode_field(key: str, value: str) -> Any:
    if key in _STRING_FIELDS or not value:
        return value
    first = value[0]
    if first in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if value == "true":
        return True
    if value == "false":
        return False
    if first in "-0123456789":
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


@dataclass(slots=True)
class StoredFile:
    """A file known to the emulator (uploaded by the bot or "sent" by a user)."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None

    def info(self) -> JSON:
        """The Telegram File object."""
        out: JSON = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.data:
            out["file_size"] = len(self.data)
        out["file_path"] = self.file_path
        return out


@dataclass(slots=True)
class _Queued:
    update_id: int
    update: JSON
    chat: UserChat | None
    delivered: bool = False


@dataclass(slots=True)
class _FailRule:
    chat_id: int | None
    status: int
    description: str
    retry_after: int | None
    remaining: int
    methods: frozenset[str] | None
    deliver: bool

    def error(self) -> ApiError:
        return ApiError(self.status, self.description, self.retry_after)


class _Limits:
    """Sliding-window rate limits like Telegram's (per chat and global)."""

    def __init__(self, per_chat: float | None, global_: float | None, window: float) -> None:
        self.window = window
        self.per_chat = max(1, int(per_chat * window)) if per_chat else None
        self.global_ = max(1, int(global_ * window)) if global_ else None
        self.chat_times: dict[int, deque[float]] = {}
        self.global_times: deque[float] = deque()

    def _retry(self, times: deque[float], limit: int, now: float) -> int | None:
        edge = now - self.window
        while times and times[0] <= edge:
            times.popleft()
        if len(times) >= limit:
            return max(1, math.ceil(times[0] + self.window - now))
        return None

    def check(self, chat_id: int | None, now: float) -> int | None:
        if self.global_ is not None:
            retry = self._retry(self.global_times, self.global_, now)
            if retry is not None:
                return retry
        if self.per_chat is not None and chat_id is not None:
            times = self.chat_times.get(chat_id)
            if times is not None:
                return self._retry(times, self.per_chat, now)
        return None

    def record(self, chat_id: int, now: float) -> None:
        self.global_times.append(now)
        self.chat_times.setdefault(chat_id, deque()).append(now)


@dataclass(slots=True)
class _CallbackState:
    chat: UserChat
    message: BotMessage | None
    answer: JSON | None = None
    created: float = 0.0


Handler = Callable[[JSON], Any]
AsyncHandler = Callable[[JSON, web.Request], Awaitable[Any]]


class BotApiEmulator:
    """In-process Telegram Bot API server plus the state the tests inspect."""

    def __init__(
        self,
        token: str | None = None,
        *,
        bot_username: str = "farmgate_test_bot",
        bot_first_name: str = "Farmgate Test Bot",
        host: str = "127.0.0.1",
        port: int = 0,
        auto_register: bool = False,
        control_api: bool = False,
        latency: float = 0.0,
        callback_ttl: float | None = None,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.host = host
        self.port = port
        self.auto_register = auto_register
        """Unknown positive chat ids become users instead of "chat not found"."""
        self.control_api = control_api
        """Expose /_emu/... HTTP routes to drive users (sandbox mode)."""
        self.latency = latency
        """Seconds added to every Bot API call before it is handled: Telegram is 50-150 ms away."""
        self.callback_ttl = callback_ttl
        """Seconds a callback query stays answerable (Telegram: about 15); None = forever."""
        self.bot_id = self._token_id(token) if token else 7000000001
        self._seen_token = token
        self._bot_from: JSON = {}
        self._refresh_bot_from()

        self.chats: dict[int, UserChat] = {}
        self.calls: list[CallRecord] = []
        self.sent_log: list[tuple[float, int]] = []
        """(monotonic time, chat_id) of every message successfully sent by the bot."""
        self.sent_times: dict[int, list[float]] = {}
        """chat_id -> monotonic times of messages successfully sent to that chat."""
        self.webhook: JSON | None = None
        self.allowed_updates: list[str] | None = None
        self.dropped_updates: list[JSON] = []
        """Updates not queued because the bot's allowed_updates excluded them."""
        self.menu_buttons: dict[int | None, JSON] = {}
        self.bot_profile: dict[tuple[str, str], str] = {}

        self.pushed: dict[int, JSON] = {}
        """update_id -> the last update pushed with that id."""
        self._queue: deque[_Queued] = deque()
        self._next_update_id = 1
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._photo_sizes: dict[str, list[JSON]] = {}
        self._file_counter = 0
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._blocked: set[int] = set()
        self._fail_rules: list[_FailRule] = []
        self._limits: _Limits | None = None
        self._callbacks: dict[str, _CallbackState] = {}
        self._media_group_counter = 0
        self._changed = Notifier()
        self._update_signal = Notifier()
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self.base_url = ""

        sync: dict[str, Handler] = {
            "getMe": self._get_me,
            "logOut": lambda p: True,
            "close": lambda p: True,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendMediaGroup": self._send_media_group,
            "sendLocation": self._send_location,
            "sendContact": self._send_contact,
            "sendChatAction": self._send_chat_action,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "setMessageReaction": lambda p: True,
            "setMyDescription": lambda p: self._set_profile("description", p),
            "setMyShortDescription": lambda p: self._set_profile("short_description", p),
            "setMyName": lambda p: self._set_profile("name", p),
            "getMyDescription": lambda p: self._get_profile("description", p),
            "getMyShortDescription": lambda p: self._get_profile("short_description", p),
            "getMyName": lambda p: self._get_profile("name", p),
        }
        for canonical, kind in (
            ("sendPhoto", "photo"),
            ("sendDocument", "document"),
            ("sendVideo", "video"),
            ("sendAudio", "audio"),
            ("sendVoice", "voice"),
            ("sendAnimation", "animation"),
            ("sendSticker", "sticker"),
            ("sendVideoNote", "video_note"),
        ):
            sync[canonical] = self._media_sender(canonical, kind)
        self._methods: dict[str, tuple[str, Handler | None, AsyncHandler | None]] = {
            name.lower(): (name, handler, None) for name, handler in sync.items()
        }
        self._methods["getupdates"] = ("getUpdates", None, self._get_updates)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind the HTTP server; sets :attr:`base_url`."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        if self.control_api:
            from .control import add_control_routes

            add_control_routes(app, self)
        self._stopping = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])
        self.base_url = f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        """Release pending long polls and shut the server down."""
        self._stopping = True
        self._update_signal.notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ test-side API

    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        *,
        is_premium: bool | None = None,
    ) -> UserChat:
        """The private chat with this user (created on first use; same id -> same object).

        Passing details for an existing user updates them.
        """
        chat = self.chats.get(user_id)
        if chat is None:
            chat = UserChat(
                self,
                user_id,
                first_name=first_name or f"User{user_id}",
                last_name=last_name,
                username=username,
                language_code=language_code,
                is_premium=is_premium,
            )
            self.chats[user_id] = chat
        else:
            chat.update_profile(
                first_name=first_name,
                last_name=last_name,
                username=username,
                language_code=language_code,
                is_premium=is_premium,
            )
        return chat

    def push_update(self, update: JSON, *, chat: UserChat | None = None) -> int:
        """Queue a raw update for getUpdates; assigns update_id unless present. Returns it."""
        uid = update.get("update_id")
        if uid is None:
            uid = self._next_update_id
            self._next_update_id += 1
            update = {"update_id": uid, **update}
        else:
            uid = int(uid)
            if uid >= self._next_update_id:
                self._next_update_id = uid + 1
        kind = next((k for k in update if k != "update_id"), "")
        self.pushed[uid] = update
        if chat is None:
            chat = self._update_chat(update.get(kind))
        allowed = (
            DEFAULT_UPDATE_TYPES if not self.allowed_updates else frozenset(self.allowed_updates)
        )
        if kind not in allowed:
            self.dropped_updates.append(update)
            if chat is not None:
                chat._log("drop", kind, uid)
            return uid
        self._queue.append(_Queued(uid, update, chat))
        if chat is not None:
            chat._pending_updates += 1
        self._update_signal.notify()
        self._changed.notify()
        return uid

    def redeliver(self, update_id: int) -> int:
        """Queue an exact copy of an update pushed earlier (same update_id and payload)."""
        update = self.pushed.get(update_id)
        if update is None:
            raise AssertionError(f"update {update_id} was never pushed")
        return self.push_update(json.loads(json.dumps(update)))

    def _update_chat(self, payload: Any) -> UserChat | None:
        if not isinstance(payload, dict):
            return None
        holder = payload.get("message") if "chat" not in payload else payload
        chat = holder.get("chat") if isinstance(holder, dict) else None
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        return self.chats.get(chat_id) if isinstance(chat_id, int) else None

    def take_update_id(self, forced: int | None = None) -> int:
        """Reserve an update id (or register a forced one)."""
        if forced is not None:
            if forced >= self._next_update_id:
                self._next_update_id = forced + 1
            return forced
        uid = self._next_update_id
        self._next_update_id += 1
        return uid

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by the bot."""
        return len(self._queue)

    def block(self, chat_id: int, *, notify: bool = False) -> None:
        """User blocked the bot: sends to this chat answer 403. notify -> my_chat_member update."""
        self._blocked.add(chat_id)
        if notify:
            self._member_update(chat_id, "member", "kicked")

    def unblock(self, chat_id: int, *, notify: bool = False) -> None:
        """Undo :meth:`block`."""
        self._blocked.discard(chat_id)
        if notify:
            self._member_update(chat_id, "kicked", "member")

    def is_blocked(self, chat_id: int) -> bool:
        return chat_id in self._blocked

    def fail_next(
        self,
        chat_id: int | None = None,
        *,
        status: int = 429,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        methods: Iterable[str] | None = None,
        deliver: bool = False,
    ) -> None:
        """Make the next ``times`` matching send calls fail.

        Matches send* / copyMessage / forwardMessage (not sendChatAction) to ``chat_id`` (any
        chat if None) unless ``methods`` names other methods. ``status=0`` drops the connection
        without a response (aiogram: TelegramNetworkError). ``deliver=True`` delivers the
        message anyway and only the response fails (lost-ack scenario).
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = {
                0: "connection dropped",
                400: "Bad Request: injected failure",
                403: "Forbidden: bot was blocked by the user",
                429: f"Too Many Requests: retry after {retry_after}",
                500: "Internal Server Error",
                502: "Bad Gateway",
                503: "Service Unavailable",
            }.get(status, f"Error {status}")
        self._fail_rules.append(
            _FailRule(
                chat_id=chat_id,
                status=status,
                description=description,
                retry_after=retry_after,
                remaining=times,
                methods=frozenset(m.lower() for m in methods) if methods else None,
                deliver=deliver,
            )
        )

    def clear_failures(self) -> None:
        """Drop pending fail_next rules (blocks stay)."""
        self._fail_rules.clear()

    def enforce_limits(
        self,
        per_chat_per_s: float | None = 1.0,
        global_per_s: float | None = 30.0,
        *,
        window: float = 1.0,
    ) -> None:
        """Answer 429 (with retry_after) to sends beyond these rates; off by default."""
        if per_chat_per_s is None and global_per_s is None:
            self._limits = None
        else:
            self._limits = _Limits(per_chat_per_s, global_per_s, window)

    def disable_limits(self) -> None:
        self._limits = None

    def commands(
        self, scope: JSON | str | None = None, language_code: str | None = None
    ) -> list[JSON]:
        """Commands last set for this scope (dict, type name or None=default) and language."""
        if isinstance(scope, str):
            scope = {"type": scope}
        return list(self._commands.get(self._commands_key(scope, language_code), []))

    def uploaded(self, file_id: str) -> bytes:
        """Bytes of a file the bot uploaded (or any file the emulator knows)."""
        stored = self._files.get(file_id)
        if stored is None:
            raise AssertionError(f"unknown file_id {file_id!r}")
        return stored.data

    def file(self, file_id: str) -> StoredFile | None:
        return self._files.get(file_id)

    def register_file(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Create a file (as if some user had sent it) and return it."""
        return self._store(kind, data, file_name=file_name, mime_type=mime_type)

    def photo_sizes(self, data: bytes | None = None) -> list[JSON]:
        """Register photo bytes and return Telegram PhotoSize dicts (smallest first)."""
        return self._new_photo(make_png(64, 48) if data is None else data)

    def callback_answer(self, query_id: str) -> JSON | None:
        """answerCallbackQuery params for this query id (None if not answered yet)."""
        state = self._callbacks.get(query_id)
        return None if state is None else state.answer

    def calls_to(self, method: str) -> list[CallRecord]:
        """All recorded calls of one method (case-insensitive)."""
        key = method.lower()
        return [c for c in self.calls if c.method.lower() == key]

    def reset_log(self) -> None:
        """Clear calls, sent_log and sent_times."""
        self.calls.clear()
        self.sent_log.clear()
        self.sent_times.clear()

    async def wait_for(self, predicate: Callable[[BotApiEmulator], T], timeout: float = 5.0) -> T:
        """Wait until predicate(emu) is truthy (re-checked on every API call/update)."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate(self)
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"condition not met within {timeout}s")
            await self._changed.wait(remaining)

    def notify(self) -> None:
        """Wake emulator-wide waiters (used by UserChat)."""
        self._changed.notify()

    # ------------------------------------------------------------------ HTTP

    @staticmethod
    def _token_id(token: str) -> int:
        head = token.split(":", 1)[0]
        return int(head) if head.isdigit() else 7000000001

    def _refresh_bot_from(self) -> None:
        self._bot_from = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        name = request.match_info["method"]
        now = time.monotonic()
        if self.token is not None and token != self.token:
            return self._error_response(ApiError(401, "Unauthorized"))
        if token != self._seen_token:
            self._seen_token = token
            self.bot_id = self._token_id(token)
            self._refresh_bot_from()
        entry = self._methods.get(name.lower())
        if entry is None:
            err = ApiError(404, "Not Found: method not found")
            self.calls.append(CallRecord(name, {}, now, None, err.status, err.description))
            self._changed.notify()
            return self._error_response(err)
        canonical, handler, async_handler = entry
        key = canonical.lower()
        if self.latency > 0 and key != "getupdates":
            await asyncio.sleep(self.latency)
            now = time.monotonic()
        record = CallRecord(canonical, {}, now, None)
        self.calls.append(record)
        try:
            params = await self._read_params(request)
            record.params = params
            chat_id = params.get("chat_id")
            if isinstance(chat_id, int):
                record.chat_id = chat_id
            rule = self._precheck(key, record.chat_id, now)
            if handler is not None:
                result = handler(params)
            else:
                assert async_handler is not None
                self._changed.notify()  # let waiters see the call before a long poll blocks
                result = await async_handler(params, request)
            if rule is not None:
                raise rule.error()
            body = json.dumps({"ok": True, "result": result}, ensure_ascii=False)
        except ApiError as err:
            record.status = err.status
            record.description = err.description
            if record.chat_id is not None:
                chat = self.chats.get(record.chat_id)
                if chat is not None:
                    chat._log("error", canonical, err.status, err.description)
            self._changed.notify()
            if err.status == 0:
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=500)
            return self._error_response(err)
        self._changed.notify()
        return web.Response(text=body, content_type="application/json")

    @staticmethod
    def _error_response(err: ApiError) -> web.Response:
        return web.json_response(err.payload(), status=err.status)

    async def _read_params(self, request: web.Request) -> JSON:
        raw: dict[str, Any] = dict(request.query) if request.query_string else {}
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError as e:
                    raise ApiError(400, "Bad Request: can't parse JSON") from e
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: JSON object expected")
                raw.update(body)
            else:
                form = await request.post()
                for k, v in form.items():
                    if isinstance(v, web.FileField):
                        raw[k] = Upload(v.filename, v.file.read(), v.content_type)
                    elif isinstance(v, bytes | bytearray):
                        raw[k] = bytes(v).decode("utf-8", "replace")
                    else:
                        raw[k] = v
        params: JSON = {}
        attached: set[str] = set()
        for k, v in raw.items():
            value: Any = v
            if isinstance(value, str):
                value = _decode_field(k, value)
                if isinstance(value, str) and value.startswith("attach://"):
                    value = self._attachment(raw, value, attached)
            params[k] = value
        media = params.get("media")
        if isinstance(media, list | dict):
            for item in media if isinstance(media, list) else [media]:
                ref = item.get("media") if isinstance(item, dict) else None
                if isinstance(ref, str) and ref.startswith("attach://"):
                    item["media"] = self._attachment(raw, ref, attached)
        for name in attached:
            params.pop(name, None)
        return params

    @staticmethod
    def _attachment(raw: dict[str, Any], ref: str, attached: set[str]) -> Upload:
        name = ref[len("attach://") :]
        upload = raw.get(name)
        if not isinstance(upload, Upload):
            raise ApiError(400, f"Bad Request: file {name!r} not found in the request")
        attached.add(name)
        return upload

    def _precheck(self, key: str, chat_id: int | None, now: float) -> _FailRule | None:
        if chat_id is not None and chat_id in self._blocked and key in CHAT_METHODS:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if self._fail_rules:
            for rule in self._fail_rules:
                if rule.chat_id is not None and rule.chat_id != chat_id:
                    continue
                if rule.methods is None:
                    if key not in SEND_METHODS:
                        continue
                elif key not in rule.methods:
                    continue
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._fail_rules.remove(rule)
                if rule.deliver:
                    return rule
                raise rule.error()
        if self._limits is not None and key in SEND_METHODS:
            retry = self._limits.check(chat_id, now)
            if retry is not None:
                raise ApiError(429, f"Too Many Requests: retry after {retry}", retry)
        return None

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if self.token is not None and request.match_info["token"] != self.token:
            raise web.HTTPUnauthorized()
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    # ------------------------------------------------------------------ updates

    async def _get_updates(self, p: JSON, request: web.Request) -> list[JSON]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = [str(a) for a in allowed] or None
        offset = p.get("offset")
        if isinstance(offset, int):
            self._confirm(offset)
        limit = p.get("limit", 100)
        limit = min(max(int(limit), 1), 100) if isinstance(limit, int) else 100
        timeout = p.get("timeout", 0)
        timeout = float(timeout) if isinstance(timeout, int | float) else 0.0
        if not self._queue and timeout > 0 and not self._stopping:
            deadline = time.monotonic() + timeout
            while not self._queue and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                await self._update_signal.wait(remaining)
            transport = request.transport
            if transport is None or transport.is_closing():
                return []  # the poller went away; leave updates for the next one
        batch: list[JSON] = []
        for entry in self._queue:
            if len(batch) >= limit:
                break
            if not entry.delivered:
                entry.delivered = True
                if entry.chat is not None:
                    entry.chat._delivered()
            batch.append(entry.update)
        return batch

    def _confirm(self, offset: int) -> None:
        """Forget updates acknowledged by ``offset`` (Telegram semantics, dup-tolerant)."""
        queue = self._queue
        if offset < 0:
            while len(queue) > -offset:
                self._drop_entry(queue.popleft())
            return
        # Everything delivered up to the last delivered entry with id offset-1 is acknowledged
        # (handles forced duplicate/lower update ids), plus delivered entries with lower ids.
        cut = 0
        for index, entry in enumerate(queue):
            if not entry.delivered:
                break
            if entry.update_id == offset - 1:
                cut = index + 1
        for _ in range(cut):
            queue.popleft()
        while queue and queue[0].delivered and queue[0].update_id < offset:
            queue.popleft()

    @staticmethod
    def _drop_entry(entry: _Queued) -> None:
        if not entry.delivered and entry.chat is not None:
            entry.chat._pending_updates -= 1

    @staticmethod
    def _member(status: str, user: JSON) -> JSON:
        """A ChatMember; a banned ("kicked") one always carries until_date (0 = forever)."""
        return {"status": status, "user": user, **({"until_date": 0} if status == "kicked" else {})}

    def _member_update(self, chat_id: int, old: str, new: str) -> None:
        chat = self.chats.get(chat_id)
        if chat is None:
            return
        member_user = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }
        now = int(time.time())
        self.push_update(
            {
                "my_chat_member": {
                    "chat": chat.chat_dict,
                    "from": chat.user_dict,
                    "date": now,
                    "old_chat_member": self._member(old, member_user),
                    "new_chat_member": self._member(new, member_user),
                }
            },
            chat=chat,
        )

    # ------------------------------------------------------------------ helpers

    def _chat(self, p: JSON, key: str = "chat_id") -> UserChat:
        cid = p.get(key)
        if cid is None or cid == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self.chats.get(cid) if isinstance(cid, int) else None
        if chat is None:
            if self.auto_register and isinstance(cid, int) and cid > 0:
                return self.user(cid)
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    @staticmethod
    def _prepare(src: Any, parse_mode: Any, entities: Any) -> tuple[str, list[JSON]]:
        text = "" if src is None else str(src)
        mode = parse_mode if isinstance(parse_mode, str) else None
        ents = entities if isinstance(entities, list) else None
        try:
            return prepare_text(text, mode, ents)
        except EntityParseError as e:
            raise ApiError(400, f"Bad Request: can't parse entities: {e}") from e

    def _caption(self, p: JSON) -> tuple[str | None, list[JSON]]:
        src = p.get("caption")
        if src is None:
            return None, []
        text, ents = self._prepare(src, p.get("parse_mode"), p.get("caption_entities"))
        if utf16_len(text) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        return text, ents

    @staticmethod
    def _validate_markup(markup: Any) -> JSON | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(
                400,
                'Bad Request: can\'t parse inline keyboard button: field "inline_keyboard" of '
                "the InlineKeyboardMarkup must be an Array of Arrays",
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: Text must be non-empty",
                    )
                if not button.keys() - {"text", "icon_custom_emoji_id", "style"}:
                    raise ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard",
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _reply_target(self, chat: UserChat, p: JSON) -> tuple[int | None, JSON | None]:
        params = p.get("reply_parameters")
        mid: Any = None
        allow = False
        if isinstance(params, dict):
            mid = params.get("message_id")
            allow = bool(params.get("allow_sending_without_reply"))
        elif p.get("reply_to_message_id") is not None:
            mid = p.get("reply_to_message_id")
            allow = bool(p.get("allow_sending_without_reply"))
        if mid is None:
            return None, None
        source = chat.raw_message(int(mid))
        if source is None:
            if allow:
                return None, None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return int(mid), {k: v for k, v in source.items() if k != "reply_to_message"}

    def _deliver(
        self,
        chat: UserChat,
        method: str,
        p: JSON,
        content: JSON,
        *,
        source: str | None = None,
        media: str | None = None,
        file_id: str | None = None,
        file_name: str | None = None,
        extra: JSON | None = None,
    ) -> BotMessage:
        """Record a new bot message in ``chat`` (after validation) and return it."""
        markup = self._validate_markup(p.get("reply_markup"))
        reply_id, reply_raw = self._reply_target(chat, p)
        mid = chat.next_message_id()
        mono = time.monotonic()
        raw: JSON = {
            "message_id": mid,
            "from": self._bot_from,
            "chat": chat.chat_dict,
            "date": int(time.time()),
        }
        if reply_raw is not None:
            raw["reply_to_message"] = reply_raw
        if extra:
            raw.update(extra)
        raw.update(content)
        caption = content.get("caption")
        msg = BotMessage(
            message_id=mid,
            chat_id=chat.id,
            date=raw["date"],
            method=method,
            raw=raw,
            text=content.get("text", caption) or "",
            caption=caption,
            source=source,
            parse_mode=p.get("parse_mode"),
            entities=content.get("entities") or content.get("caption_entities") or [],
            media=media,
            file_id=file_id,
            file_bytes=self._files[file_id].data if file_id in self._files else None,
            file_name=file_name,
            reply_markup=markup,
            reply_to_message_id=reply_id,
            sent_at=mono,
        )
        if markup is not None:
            if "inline_keyboard" in markup:
                raw["reply_markup"] = markup
                msg.inline_keyboard = parse_inline_keyboard(markup)
            elif "keyboard" in markup:
                chat.set_keyboard(markup)
                msg.reply_keyboard = chat.keyboard
            elif markup.get("remove_keyboard"):
                msg.remove_keyboard = True
                chat.set_keyboard(None)
            elif markup.get("force_reply"):
                msg.force_reply = True
        chat.add_bot_message(msg)
        self.sent_log.append((mono, chat.id))
        times = self.sent_times.get(chat.id)
        if times is None:
            self.sent_times[chat.id] = [mono]
        else:
            times.append(mono)
        if self._limits is not None:
            self._limits.record(chat.id, mono)
        return msg

    def _bot_message(self, p: JSON, *, for_edit: bool = True) -> tuple[UserChat, BotMessage]:
        if p.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._chat(p)
        mid = p.get("message_id")
        msg = chat.bot_message(mid) if isinstance(mid, int) else None
        if msg is None or msg.deleted:
            if for_edit and isinstance(mid, int) and chat.raw_message(mid) is not None:
                raise ApiError(400, "Bad Request: message can't be edited")
            raise ApiError(400, "Bad Request: message to edit not found")
        return chat, msg

    # ------------------------------------------------------------------ files

    def _store(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        ext: str | None = None,
        size: tuple[int, int] | None = None,
    ) -> StoredFile:
        self._file_counter += 1
        n = self._file_counter
        folder, default_ext = _FILE_DIRS.get(kind, ("files", "bin"))
        if ext is None:
            ext = file_name.rsplit(".", 1)[1] if file_name and "." in file_name else default_ext
        if mime_type is None or mime_type == "application/octet-stream":
            guessed = mimetypes.guess_type(f"x.{ext}")[0]
            mime_type = guessed or mime_type
        stored = StoredFile(
            file_id=f"{_FILE_ID_PREFIX.get(kind, 'BQACAgIAAxkBAA')}{n:06d}{secrets.token_hex(8)}",
            file_unique_id=f"AQAD{n:06d}{kind[:2]}",
            kind=kind,
            data=data,
            file_path=f"{folder}/file_{n}.{ext}",
            file_name=file_name,
            mime_type=mime_type,
            width=size[0] if size else None,
            height=size[1] if size else None,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _new_photo(self, data: bytes) -> list[JSON]:
        width, height = image_size(data) or (800, 600)
        side = max(width, height, 1)
        scales = [s for s in (90, 320, 800) if s < side] + [min(side, 1280)]
        sizes: list[JSON] = []
        for target in scales:
            ratio = target / side
            w, h = max(1, round(width * ratio)), max(1, round(height * ratio))
            stored = self._store(
                "photo", data, ext="jpg" if data[:2] == b"\xff\xd8" else "png", size=(w, h)
            )
            entry: JSON = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": w,
                "height": h,
            }
            if data:
                entry["file_size"] = max(1, len(data) * target // side)
            sizes.append(entry)
        for entry in sizes:
            self._photo_sizes[entry["file_id"]] = sizes
        return sizes

    def _input_file(self, kind: str, value: Any, file_name: str | None = None) -> StoredFile:
        """Resolve an InputFile value (upload, URL or file_id) to a stored file."""
        if isinstance(value, Upload):
            mime = value.content_type
            return self._store(
                kind, value.data, file_name=file_name or value.filename, mime_type=mime
            )
        if isinstance(value, str) and value:
            if value.startswith(("http://", "https://")):
                name = value.rsplit("/", 1)[-1] or None
                return self._store(kind, b"", file_name=name)
            stored = self._files.get(value)
            if stored is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            if stored.kind != kind and not (kind == "document" and stored.kind != "photo"):
                raise ApiError(
                    400,
                    f"Bad Request: can't use file of type {_KIND_TITLES.get(stored.kind, 'File')}"
                    f" as {_KIND_TITLES.get(kind, 'File')}",
                )
            return stored
        raise ApiError(400, f"Bad Request: there is no {kind} in the request")

    def _media_content(self, kind: str, value: Any, p: JSON) -> tuple[JSON, str]:
        """Build the message field for a media kind; returns (content, main file_id)."""
        if kind == "photo":
            if isinstance(value, str) and value in self._photo_sizes:
                sizes = self._photo_sizes[value]
            elif isinstance(value, Upload):
                sizes = self._new_photo(value.data)
            else:
                stored = self._input_file("photo", value)
                sizes = self._photo_sizes.get(stored.file_id) or self._new_photo(stored.data)
            return {"photo": sizes}, sizes[-1]["file_id"]
        stored = self._input_file(kind, value)
        obj: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.data:
            obj["file_size"] = len(stored.data)
        duration = p.get("duration")
        duration = duration if isinstance(duration, int) else 1
        if kind in {"document", "audio", "animation", "video"}:
            if stored.file_name:
                obj["file_name"] = stored.file_name
            if stored.mime_type:
                obj["mime_type"] = stored.mime_type
        if kind in {"video", "animation"}:
            obj.update(
                width=p.get("width") or 640, height=p.get("height") or 360, duration=duration
            )
        elif kind in {"audio", "voice"}:
            obj["duration"] = duration
            if kind == "voice":
                obj["mime_type"] = "audio/ogg"
        elif kind == "video_note":
            obj.update(length=p.get("length") or 240, duration=duration)
        elif kind == "sticker":
            obj.update(type="regular", width=512, height=512, is_animated=False, is_video=False)
            if p.get("emoji"):
                obj["emoji"] = p["emoji"]
        return {kind: obj}, stored.file_id

    # ------------------------------------------------------------------ methods

    def _get_me(self, p: JSON) -> JSON:
        return {
            **self._bot_from,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _set_webhook(self, p: JSON) -> bool:
        url = p.get("url") or ""
        self.webhook = dict(p) if url else None
        if p.get("drop_pending_updates"):
            self._queue.clear()
        if isinstance(p.get("allowed_updates"), list):
            self.allowed_updates = list(p["allowed_updates"]) or None
        return True

    def _delete_webhook(self, p: JSON) -> bool:
        self.webhook = None
        if p.get("drop_pending_updates"):
            for entry in self._queue:
                self._drop_entry(entry)
            self._queue.clear()
        return True

    def _get_webhook_info(self, p: JSON) -> JSON:
        info: JSON = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.allowed_updates:
            info["allowed_updates"] = self.allowed_updates
        return info

    def _send_message(self, p: JSON) -> JSON:
        chat = self._chat(p)
        source = p.get("text")
        text, entities = self._prepare(source, p.get("parse_mode"), p.get("entities"))
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        preview = p.get("link_preview_options")
        if isinstance(preview, dict):
            content["link_preview_options"] = preview
        msg = self._deliver(chat, "sendMessage", p, content, source=str(source))
        return msg.raw

    def _media_sender(self, method: str, kind: str) -> Handler:
        def send(p: JSON) -> JSON:
            chat = self._chat(p)
            caption, caption_entities = self._caption(p)
            content, file_id = self._media_content(kind, p.get(kind), p)
            if caption:
                content["caption"] = caption
                if caption_entities:
                    content["caption_entities"] = caption_entities
            stored = self._files.get(file_id)
            msg = self._deliver(
                chat,
                method,
                p,
                content,
                source=p.get("caption"),
                media=kind,
                file_id=file_id,
                file_name=stored.file_name if stored else None,
            )
            return msg.raw

        return send

    def _send_media_group(self, p: JSON) -> list[JSON]:
        chat = self._chat(p)
        media = p.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media in the album (2-10)")
        self._media_group_counter += 1
        group_id = str(13000000000000000 + self._media_group_counter)
        prepared: list[tuple[str, JSON, str, JSON]] = []
        for item in media:
            if not isinstance(item, dict):
                raise ApiError(400, "Bad Request: can't parse InputMedia JSON object")
            kind = str(item.get("type", "photo"))
            caption, entities = self._caption(item)
            content, file_id = self._media_content(kind, item.get("media"), item)
            if caption:
                content["caption"] = caption
                if entities:
                    content["caption_entities"] = entities
            prepared.append((kind, content, file_id, item))
        result = []
        for kind, content, file_id, item in prepared:
            params = {**p, "parse_mode": item.get("parse_mode")}
            params.pop("reply_markup", None)
            msg = self._deliver(
                chat,
                "sendMediaGroup",
                params,
                content,
                source=item.get("caption"),
                media=kind,
                file_id=file_id,
                extra={"media_group_id": group_id},
            )
            result.append(msg.raw)
        return result

    def _send_location(self, p: JSON) -> JSON:
        chat = self._chat(p)
        lat, lon = p.get("latitude"), p.get("longitude")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            raise ApiError(400, "Bad Request: wrong latitude/longitude specified")
        content = {"location": {"latitude": float(lat), "longitude": float(lon)}}
        return self._deliver(chat, "sendLocation", p, content, media="location").raw

    def _send_contact(self, p: JSON) -> JSON:
        chat = self._chat(p)
        contact = {
            k: p[k] for k in ("phone_number", "first_name", "last_name", "vcard") if p.get(k)
        }
        if not contact.get("phone_number") or not contact.get("first_name"):
            raise ApiError(400, "Bad Request: phone number and first name must be non-empty")
        return self._deliver(chat, "sendContact", p, {"contact": contact}, media="contact").raw

    def _send_chat_action(self, p: JSON) -> bool:
        chat = self._chat(p)
        action = p.get("action")
        if not action:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        chat.actions.append(str(action))
        return True

    def _source_message(self, p: JSON) -> JSON:
        source_chat = self._chat(p, "from_chat_id")
        mid = p.get("message_id")
        raw = source_chat.raw_message(mid) if isinstance(mid, int) else None
        if raw is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        return raw

    def _copy_like(self, p: JSON, method: str, raw: JSON, extra: JSON | None) -> BotMessage:
        chat = self._chat(p)
        content = {k: raw[k] for k in _COPY_KEYS if k in raw}
        if method == "copyMessage" and "caption" in p:
            caption, entities = self._caption(p)
            content.pop("caption_entities", None)
            if caption:
                content["caption"] = caption
                if entities:
                    content["caption_entities"] = entities
            else:
                content.pop("caption", None)
        media = next((k for k in _MEDIA_KEYS if k in content), None)
        file_id: str | None = None
        if media == "photo":
            file_id = content["photo"][-1]["file_id"]
        elif media is not None and isinstance(content[media], dict):
            file_id = content[media].get("file_id")
        params = (
            p if method == "copyMessage" else {k: v for k, v in p.items() if k != "reply_markup"}
        )
        return self._deliver(
            chat,
            method,
            params,
            content,
            source=content.get("text"),
            media=media,
            file_id=file_id,
            extra=extra,
        )

    def _copy_message(self, p: JSON) -> JSON:
        msg = self._copy_like(p, "copyMessage", self._source_message(p), None)
        return {"message_id": msg.message_id}

    def _forward_message(self, p: JSON) -> JSON:
        raw = self._source_message(p)
        origin: JSON = {
            "type": "user",
            "sender_user": raw.get("from", {}),
            "date": raw.get("date", 0),
        }
        return self._copy_like(p, "forwardMessage", raw, {"forward_origin": origin}).raw

    def _apply_markup_edit(self, msg: BotMessage, markup: JSON | None) -> None:
        if markup is not None and "inline_keyboard" in markup:
            msg.raw["reply_markup"] = markup
            msg.inline_keyboard = parse_inline_keyboard(markup)
        else:
            msg.raw.pop("reply_markup", None)
            msg.inline_keyboard = []
        msg.reply_markup = markup

    def _finish_edit(self, chat: UserChat, msg: BotMessage) -> JSON:
        msg.edits += 1
        msg.edited_at = time.monotonic()
        msg.raw["edit_date"] = int(time.time())
        chat.touch("edit", msg)
        return msg.raw

    def _edit_message_text(self, p: JSON) -> JSON:
        chat, msg = self._bot_message(p)
        if msg.media is not None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        source = p.get("text")
        text, entities = self._prepare(source, p.get("parse_mode"), p.get("entities"))
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        markup = self._validate_markup(p.get("reply_markup"))
        if (
            text == msg.raw.get("text")
            and entities == msg.raw.get("entities", [])
            and (markup if markup and "inline_keyboard" in markup else None)
            == msg.raw.get("reply_markup")
        ):
            raise ApiError(400, NOT_MODIFIED)
        msg.history.append(msg.text)
        msg.text, msg.source, msg.entities = text, str(source), entities
        msg.parse_mode = p.get("parse_mode")
        msg.raw["text"] = text
        if entities:
            msg.raw["entities"] = entities
        else:
            msg.raw.pop("entities", None)
        self._apply_markup_edit(msg, markup)
        return self._finish_edit(chat, msg)

    def _edit_message_caption(self, p: JSON) -> JSON:
        chat, msg = self._bot_message(p)
        if msg.media is None or msg.media in {"location", "contact", "sticker", "dice"}:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, entities = self._caption(p)
        markup = self._validate_markup(p.get("reply_markup"))
        if (
            caption == msg.raw.get("caption")
            and entities == msg.raw.get("caption_entities", [])
            and (markup if markup and "inline_keyboard" in markup else None)
            == msg.raw.get("reply_markup")
        ):
            raise ApiError(400, NOT_MODIFIED)
        msg.history.append(msg.text)
        msg.caption = caption
        msg.text = caption or ""
        msg.source, msg.entities = p.get("caption"), entities
        for key, value in (("caption", caption), ("caption_entities", entities)):
            if value:
                msg.raw[key] = value
            else:
                msg.raw.pop(key, None)
        self._apply_markup_edit(msg, markup)
        return self._finish_edit(chat, msg)

    def _edit_message_reply_markup(self, p: JSON) -> JSON:
        chat, msg = self._bot_message(p)
        markup = self._validate_markup(p.get("reply_markup"))
        new = markup if markup and "inline_keyboard" in markup else None
        if new == msg.raw.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        msg.history.append(msg.text)
        self._apply_markup_edit(msg, markup)
        return self._finish_edit(chat, msg)

    def _delete_message(self, p: JSON) -> bool:
        chat = self._chat(p)
        mid = p.get("message_id")
        if not isinstance(mid, int) or not chat.delete_message(mid):
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    def _delete_messages(self, p: JSON) -> bool:
        chat = self._chat(p)
        ids = p.get("message_ids")
        if not isinstance(ids, list) or not ids:
            raise ApiError(400, "Bad Request: message identifiers are not specified")
        for mid in ids:
            if isinstance(mid, int):
                chat.delete_message(mid)
        return True

    def _answer_callback_query(self, p: JSON) -> bool:
        query_id = str(p.get("callback_query_id", ""))
        state = self._callbacks.get(query_id)
        if state is None or state.answer is not None:
            raise ApiError(400, QUERY_INVALID)
        if self.callback_ttl is not None and time.monotonic() - state.created > self.callback_ttl:
            raise ApiError(400, QUERY_INVALID)
        answer = {k: v for k, v in p.items()}
        state.answer = answer
        state.chat.callback_answers.append(answer)
        state.chat.touch("answer", answer)
        return True

    def register_callback(self, query_id: str, chat: UserChat, message: BotMessage | None) -> None:
        """Make ``query_id`` answerable (used by UserChat.press)."""
        self._callbacks[query_id] = _CallbackState(chat, message, created=time.monotonic())

    def expire_callbacks(self) -> None:
        """Make every callback query pressed so far too old to answer, as after a backlog."""
        for state in self._callbacks.values():
            state.created = float("-inf")

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        if not scope or (isinstance(scope, dict) and scope.get("type") == "default"):
            scope_key = "default"
        else:
            scope_key = json.dumps(scope, sort_keys=True)
        return scope_key, str(language_code or "")

    def _set_my_commands(self, p: JSON) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if (
                not (1 <= len(name) <= 32)
                or not name.replace("_", "a").isalnum()
                or name.lower() != name
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not command.get("description"):
                raise ApiError(400, "Bad Request: command description is empty")
        key = self._commands_key(p.get("scope"), p.get("language_code"))
        if commands:
            self._commands[key] = [dict(c) for c in commands]
        else:
            self._commands.pop(key, None)
        return True

    def _get_my_commands(self, p: JSON) -> list[JSON]:
        return list(
            self._commands.get(self._commands_key(p.get("scope"), p.get("language_code")), [])
        )

    def _delete_my_commands(self, p: JSON) -> bool:
        self._commands.pop(self._commands_key(p.get("scope"), p.get("language_code")), None)
        return True

    def _set_chat_menu_button(self, p: JSON) -> bool:
        chat_id = p.get("chat_id")
        if chat_id is not None:
            self._chat(p)
        button = p.get("menu_button")
        self.menu_buttons[chat_id if isinstance(chat_id, int) else None] = (
            button if isinstance(button, dict) else {"type": "default"}
        )
        return True

    def _get_chat_menu_button(self, p: JSON) -> JSON:
        chat_id = p.get("chat_id")
        key = chat_id if isinstance(chat_id, int) else None
        return self.menu_buttons.get(key) or self.menu_buttons.get(None) or {"type": "commands"}

    def _get_file(self, p: JSON) -> JSON:
        stored = self._files.get(str(p.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return stored.info()

    def _get_chat(self, p: JSON) -> JSON:
        chat = self._chat(p)
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return {
            **chat.chat_dict,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    def _set_profile(self, field_name: str, p: JSON) -> bool:
        self.bot_profile[(field_name, str(p.get("language_code") or ""))] = str(
            p.get(field_name) or ""
        )
        return True

    def _get_profile(self, field_name: str, p: JSON) -> JSON:
        value = self.bot_profile.get((field_name, str(p.get("language_code") or "")), "")
        if field_name == "name" and not value:
            value = self.bot_first_name
        return {field_name: value}
