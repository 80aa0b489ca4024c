# ruff: noqa: ASYNC109  (timeout= parameters are part of the public test API)
"""A local Telegram Bot API emulator (aiohttp) for end-to-end tests, benchmarks and a sandbox.

The real aiogram ``Bot`` talks to it over HTTP::

    emu = BotApiEmulator()
    await emu.start()
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))

Tests act as users through :meth:`BotApiEmulator.user` (see ``client.UserChat``). Only the
methods farmgate calls are emulated (:attr:`BotApiEmulator.emulated_methods`), with what real
Telegram does that the bot must survive: a round trip (``latency``), callback queries that
expire (``callback_ttl``), 429 beyond its limits (``enforce_limits``), blocked users and
injected failures (``fail_next``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiohttp import web

from .callbacks import CallbackQueries
from .client import UserChat
from .commands import CommandMenus
from .faults import Faults, RateLimits
from .files import FileStore, StoredFile, make_png
from .messages import Messages
from .models import ApiError, BotMessage, CallRecord
from .params import read_params
from .signals import Notifier
from .updates import UpdateQueue

__all__ = ["BotApiEmulator", "StoredFile", "make_png"]

JSON = dict[str, Any]
T = TypeVar("T")
Method = Callable[[JSON, web.Request], Awaitable[Any]]


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
        """Seconds added to every Bot API call but getUpdates: Telegram is 50-150 ms away."""
        self.bot_id = self._token_id(token) if token else 7000000001
        self.base_url = ""

        self.chats: dict[int, UserChat] = {}
        self.calls: list[CallRecord] = []
        self.sent_log: list[tuple[float, int]] = []
        """(monotonic time, chat_id) of every message successfully sent by the bot."""
        self.sent_times: dict[int, list[float]] = {}
        """chat_id -> monotonic times of messages successfully sent to that chat."""

        self._changed = Notifier()
        self.updates = UpdateQueue(self._changed)
        self.callbacks = CallbackQueries(callback_ttl)
        self.files = FileStore()
        self.faults = Faults()
        self.menus = CommandMenus()
        self.messages = Messages(self)
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, tuple[str, Method]] = {
            name.lower(): (name, method)
            for name, method in {
                "getMe": self._sync(lambda p: self.bot_user(full=True)),
                "deleteWebhook": self._sync(self._delete_webhook),
                "getUpdates": self._get_updates,
                "sendMessage": self._sync(self.messages.send_message),
                "sendPhoto": self._sync(self.messages.send_photo),
                "sendMediaGroup": self._sync(self.messages.send_media_group),
                "sendDocument": self._sync(self.messages.send_document),
                "editMessageText": self._sync(self.messages.edit_message_text),
                "editMessageReplyMarkup": self._sync(self.messages.edit_message_reply_markup),
                "deleteMessage": self._sync(self.messages.delete_message),
                "answerCallbackQuery": self._sync(self.callbacks.answer),
                "setMyCommands": self._sync(self.menus.set),
                "deleteMyCommands": self._sync(self.menus.delete),
            }.items()
        }

    @property
    def emulated_methods(self) -> list[str]:
        """The Bot API methods emulated; any other answers 404 like an unknown method."""
        return [name for name, _method in self._methods.values()]

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind the HTTP server; sets :attr:`base_url`."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        if self.control_api:
            from .control import add_control_routes
            from .userside import add_user_side_routes

            add_control_routes(app, self)
            add_user_side_routes(app, self)
        self.updates.stopping = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.base_url = f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        """Release pending long polls and shut the server down."""
        self.updates.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ users and updates

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
            self._changed.notify()  # a page lists the new chat
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
        if chat is None:
            chat = self._update_chat(update)
        return self.updates.push(update, chat)

    def redeliver(self, update_id: int) -> int:
        """Queue an exact copy of an update pushed earlier (same update_id and payload)."""
        update = self.updates.pushed.get(update_id)
        if update is None:
            raise AssertionError(f"update {update_id} was never pushed")
        return self.push_update(json.loads(json.dumps(update)))

    def take_update_id(self, forced: int | None = None) -> int:
        """Reserve an update id (or register a forced one)."""
        return self.updates.take_id(forced)

    @property
    def pushed(self) -> dict[int, JSON]:
        """update_id -> the last update pushed with that id."""
        return self.updates.pushed

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by the bot."""
        return len(self.updates.entries)

    @property
    def polls_waiting(self) -> int:
        """getUpdates calls waiting in a long poll right now."""
        return self.updates.polls_waiting

    @property
    def allowed_updates(self) -> list[str] | None:
        """The bot's allowed_updates from its last getUpdates (None: Telegram's default)."""
        return self.updates.allowed

    @property
    def dropped_updates(self) -> list[JSON]:
        """Updates not queued because the bot's allowed_updates excluded them."""
        return self.updates.dropped

    def _update_chat(self, update: JSON) -> UserChat | None:
        payload = next((v for k, v in update.items() if k != "update_id"), None)
        if not isinstance(payload, dict):
            return None
        holder = payload.get("message") if "chat" not in payload else payload
        chat = holder.get("chat") if isinstance(holder, dict) else None
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        return self.chats.get(chat_id) if isinstance(chat_id, int) else None

    def block(self, chat_id: int, *, notify: bool = False) -> None:
        """User blocked the bot: sends to this chat answer 403. notify -> my_chat_member update."""
        self.faults.blocked.add(chat_id)
        if notify:
            self._member_update(chat_id, "member", "kicked")

    def unblock(self, chat_id: int, *, notify: bool = False) -> None:
        """Undo :meth:`block`."""
        self.faults.blocked.discard(chat_id)
        if notify:
            self._member_update(chat_id, "kicked", "member")

    def is_blocked(self, chat_id: int) -> bool:
        return chat_id in self.faults.blocked

    def _member_update(self, chat_id: int, old: str, new: str) -> None:
        chat = self.chats.get(chat_id)
        if chat is None:
            return

        def member(status: str) -> JSON:
            # A banned ("kicked") member always carries until_date (0 = forever).
            extra = {"until_date": 0} if status == "kicked" else {}
            return {"status": status, "user": self.bot_user(), **extra}

        update = {
            "chat": chat.chat_dict,
            "from": chat.user_dict,
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        self.push_update({"my_chat_member": update}, chat=chat)

    # ------------------------------------------------------------------ Telegram's behaviour

    @property
    def callback_ttl(self) -> float | None:
        """Seconds a callback query stays answerable (Telegram: about 15); None = forever."""
        return self.callbacks.ttl

    @callback_ttl.setter
    def callback_ttl(self, value: float | None) -> None:
        self.callbacks.ttl = value

    def register_callback(self, query_id: str, chat: UserChat, message: BotMessage | None) -> None:
        """Make ``query_id`` answerable (used by UserChat.press)."""
        self.callbacks.register(query_id, chat, message)

    def expire_callbacks(self) -> None:
        """Make every callback query pressed so far too old to answer, as after a backlog."""
        self.callbacks.expire()

    def callback_answer(self, query_id: str) -> JSON | None:
        """answerCallbackQuery params for this query id (None if not answered yet)."""
        return self.callbacks.answer_of(query_id)

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
        """Make the next ``times`` matching calls fail.

        Matches sendMessage / sendPhoto / sendDocument to ``chat_id`` (any chat if None)
        unless ``methods`` names other methods. ``status=0`` drops the connection without a
        response (aiogram: TelegramNetworkError). ``deliver=True`` delivers the message anyway
        and only the response fails (lost-ack scenario).
        """
        self.faults.fail_next(
            chat_id,
            status=status,
            retry_after=retry_after,
            description=description,
            times=times,
            methods=methods,
            deliver=deliver,
        )

    def clear_failures(self) -> None:
        """Drop pending fail_next rules (blocks stay)."""
        self.faults.rules.clear()

    def enforce_limits(
        self,
        per_chat_per_s: float | None = 1.0,
        global_per_s: float | None = 30.0,
        *,
        window: float = 1.0,
    ) -> None:
        """Answer 429 (with retry_after) to sends beyond these rates; off by default."""
        if per_chat_per_s is None and global_per_s is None:
            self.faults.limits = None
        else:
            self.faults.limits = RateLimits(per_chat_per_s, global_per_s, window)

    def disable_limits(self) -> None:
        self.faults.limits = None

    # ------------------------------------------------------------------ inspection

    def commands(
        self, scope: JSON | str | None = None, language_code: str | None = None
    ) -> list[JSON]:
        """Commands last set for this scope (dict, type name or None=default) and language."""
        if isinstance(scope, str):
            scope = {"type": scope}
        return self.menus.get(scope, language_code)

    def uploaded(self, file_id: str) -> bytes:
        """Bytes of a file the bot uploaded (or any file the emulator knows)."""
        stored = self.files.files.get(file_id)
        if stored is None:
            raise AssertionError(f"unknown file_id {file_id!r}")
        return stored.data

    def file(self, file_id: str) -> StoredFile | None:
        return self.files.files.get(file_id)

    def register_file(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Create a file (as if some user had sent it) and return it."""
        return self.files.store(kind, data, file_name=file_name, mime_type=mime_type)

    def photo_sizes(self, data: bytes | None = None) -> list[JSON]:
        """Register photo bytes and return Telegram PhotoSize dicts (smallest first)."""
        return self.files.new_photo(make_png(64, 48) if data is None else data)

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

    async def changed(self, timeout: float) -> bool:
        """Wait for the next change anywhere (a message, an update, an API call); False if
        none came within ``timeout`` seconds."""
        return await self._changed.wait(timeout)

    def notify(self) -> None:
        """Wake emulator-wide waiters (used by UserChat)."""
        self._changed.notify()

    # ------------------------------------------------------------------ used by the methods

    def bot_user(self, *, full: bool = False) -> JSON:
        """The bot as a User object (getMe's answer with ``full``)."""
        user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }
        if full:
            user.update(
                can_join_groups=True,
                can_read_all_group_messages=False,
                supports_inline_queries=False,
                can_connect_to_business=False,
                has_main_web_app=False,
            )
        return user

    def chat_of(self, p: JSON) -> UserChat:
        """The chat a call names in chat_id, or 400 "chat not found"."""
        cid = p.get("chat_id")
        if cid is None or cid == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self.chats.get(cid) if isinstance(cid, int) else None
        if chat is None:
            if self.auto_register and isinstance(cid, int) and cid > 0:
                return self.user(cid)
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def record_sent(self, chat_id: int, at: float) -> None:
        """A message was delivered to a chat: logs, timestamps and the rate limits."""
        self.sent_log.append((at, chat_id))
        self.sent_times.setdefault(chat_id, []).append(at)
        self.faults.sent(chat_id, at)

    def _delete_webhook(self, p: JSON) -> bool:
        if p.get("drop_pending_updates"):
            self.updates.drop_pending()
        return True

    async def _get_updates(self, p: JSON, request: web.Request) -> list[JSON]:
        self._changed.notify()  # let waiters see the call before the long poll blocks

        def still_listening() -> bool:
            transport = request.transport
            return transport is not None and not transport.is_closing()

        return await self.updates.get_updates(p, still_listening)

    # ------------------------------------------------------------------ HTTP

    @staticmethod
    def _sync(handler: Callable[[JSON], Any]) -> Method:
        async def method(p: JSON, request: web.Request) -> Any:
            return handler(p)

        return method

    @staticmethod
    def _token_id(token: str) -> int:
        head = token.split(":", 1)[0]
        return int(head) if head.isdigit() else 7000000001

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        name = request.match_info["method"]
        if self.token is not None and token != self.token:
            return self._error_response(ApiError(401, "Unauthorized"))
        self.bot_id = self._token_id(token)
        entry = self._methods.get(name.lower())
        if entry is None:
            err = ApiError(404, "Not Found: method not found")
            self.calls.append(
                CallRecord(name, {}, time.monotonic(), None, err.status, err.description)
            )
            self._changed.notify()
            return self._error_response(err)
        canonical, method = entry
        key = canonical.lower()
        if self.latency > 0 and key != "getupdates":
            await asyncio.sleep(self.latency)
        now = time.monotonic()
        record = CallRecord(canonical, {}, now, None)
        self.calls.append(record)
        try:
            params = await read_params(request)
            record.params = params
            chat_id = params.get("chat_id")
            if isinstance(chat_id, int):
                record.chat_id = chat_id
            delivered_then_fail = self.faults.check(key, record.chat_id, now)
            result = await method(params, request)
            if delivered_then_fail is not None:
                raise delivered_then_fail.error()
            body = json.dumps({"ok": True, "result": result}, ensure_ascii=False)
        except ApiError as err:
            record.status = err.status
            record.description = err.description
            chat = self.chats.get(record.chat_id) if record.chat_id is not None else None
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
