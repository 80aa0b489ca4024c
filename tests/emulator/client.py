# ruff: noqa: ASYNC109  (timeout= parameters are part of the public test API)
"""Test-side API: act as a Telegram user in a private chat with the bot."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .entities import utf16_len
from .models import BotMessage, Button, KeyboardButton, parse_reply_keyboard
from .signals import Notifier

if TYPE_CHECKING:
    from .server import BotApiEmulator

__all__ = ["ButtonNotFound", "Notifier", "UserChat"]

JSON = dict[str, Any]
T = TypeVar("T")

_TRANSCRIPT_LIMIT = 300
BAOSHAN = (25.11, 99.16)  # where a request_location button says the user is


class ButtonNotFound(AssertionError):
    """No button (or more than one) has the label a user pressed; the message is one line."""


class AmbiguousButton(ButtonNotFound):
    """Several buttons contain the label: waiting would not help."""


def _one(labels: list[str], text: str, exact: bool) -> str | None:
    """The label that is ``text`` (exact) or the only one containing it; None if none."""
    if exact:
        return text if text in labels else None
    partial = [label for label in labels if text in label]
    if len(partial) > 1:
        raise AmbiguousButton(f"button text {text!r} is ambiguous: {partial}")
    return partial[0] if partial else None


def _listed(labels: list[str]) -> str:
    return " ".join(f"[{label}]" for label in labels) if labels else "(none)"


class UserChat:
    """A private chat between one simulated user and the bot."""

    def __init__(
        self,
        emu: BotApiEmulator,
        user_id: int,
        *,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool | None = None,
    ) -> None:
        self.emu = emu
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.is_premium = is_premium
        self.user_dict: JSON = {}
        self.chat_dict: JSON = {}
        self._rebuild()

        self.messages: list[BotMessage] = []
        """Every message the bot sent here, in order, with edits/deletions applied."""
        self.user_messages: dict[int, JSON] = {}
        self.deleted_user_messages: set[int] = set()
        self.keyboard: list[list[KeyboardButton]] | None = None
        """The reply keyboard currently shown (last ReplyKeyboardMarkup, None after remove)."""
        self.keyboard_markup: JSON | None = None
        self.callback_answers: list[JSON] = []
        self.actions: list[str] = []
        """sendChatAction actions, in order."""
        self.errors: list[tuple[str, int, str]] = []
        """(method, status, description) of API errors the bot got for this chat."""
        self.last_update_id: int | None = None
        self.update_ids: list[int] = []
        """Ids of the updates queued for the bot from this chat, in order (redeliveries too)."""
        self.last_query_id: str | None = None
        self._by_id: dict[int, BotMessage] = {}
        self._cursor = 0
        self._next_mid = 1
        self._pending_updates = 0
        self._last_change = 0.0
        self._events: list[tuple[Any, ...]] = []
        self._changed = Notifier()

    # ------------------------------------------------------------------ identity

    @property
    def user_id(self) -> int:
        return self.id

    def _rebuild(self) -> None:
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        chat: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        for key in ("last_name", "username"):
            value = getattr(self, key)
            if value:
                user[key] = chat[key] = value
        if self.language_code:
            user["language_code"] = self.language_code
        if self.is_premium:
            user["is_premium"] = True
        self.user_dict, self.chat_dict = user, chat

    def update_profile(self, **fields: Any) -> None:
        """Change user details (None values are ignored)."""
        for key, value in fields.items():
            if value is not None:
                setattr(self, key, value)
        self._rebuild()

    # ------------------------------------------------------------------ server-side hooks

    def next_message_id(self) -> int:
        mid = self._next_mid
        self._next_mid += 1
        return mid

    def add_bot_message(self, msg: BotMessage) -> None:
        self.messages.append(msg)
        self._by_id[msg.message_id] = msg
        self.touch("out", msg)

    def bot_message(self, message_id: int) -> BotMessage | None:
        return self._by_id.get(message_id)

    def raw_message(self, message_id: int) -> JSON | None:
        """Raw dict of a live (not deleted) message in this chat, from either side."""
        msg = self._by_id.get(message_id)
        if msg is not None:
            return None if msg.deleted else msg.raw
        if message_id in self.deleted_user_messages:
            return None
        return self.user_messages.get(message_id)

    def delete_message(self, message_id: int) -> bool:
        msg = self._by_id.get(message_id)
        if msg is not None:
            if msg.deleted:
                return False
            msg.deleted = True
            self.touch("delete", msg)
            return True
        if message_id in self.user_messages and message_id not in self.deleted_user_messages:
            self.deleted_user_messages.add(message_id)
            self.touch("delete_user", message_id)
            return True
        return False

    def set_keyboard(self, markup: JSON | None) -> None:
        self.keyboard_markup = markup
        self.keyboard = None if markup is None else parse_reply_keyboard(markup)

    def touch(self, kind: str, obj: Any) -> None:
        """Record a bot-side change and wake waiters."""
        self._last_change = time.monotonic()
        if kind in {"out", "edit"}:
            self._events.append((kind, obj, obj.text, obj.inline_keyboard))
        else:
            self._events.append((kind, obj))
        self._changed.notify()
        self.emu.notify()

    def events_since(self, cursor: int) -> tuple[list[tuple[Any, ...]], int]:
        """The chat's log entries from ``cursor`` on (the transcript's events, oldest first)
        and the cursor to pass next time: a live view follows the chat with it."""
        events = self._events[cursor:]
        return events, cursor + len(events)

    def _log(self, kind: str, *args: Any) -> None:
        if kind == "error":
            self.errors.append((args[0], args[1], args[2]))
        self._events.append((kind, *args))
        self._changed.notify()

    def _delivered(self) -> None:
        self._pending_updates -= 1
        self._last_change = time.monotonic()
        self._changed.notify()

    # ------------------------------------------------------------------ acting as the user

    def _push(self, kind: str, payload: JSON, update_id: int | None) -> int:
        uid = self.emu.take_update_id(update_id)
        self.last_update_id = uid
        self.emu.push_update({"update_id": uid, kind: payload}, chat=self)
        return uid

    def _push_message(
        self,
        content: JSON,
        *,
        update_id: int | None = None,
        reply_to: BotMessage | int | None = None,
    ) -> int:
        mid = self.next_message_id()
        raw: JSON = {
            "message_id": mid,
            "from": self.user_dict,
            "chat": self.chat_dict,
            "date": int(time.time()),
        }
        if reply_to is not None:
            target_id = reply_to.message_id if isinstance(reply_to, BotMessage) else reply_to
            target = self.raw_message(target_id)
            if target is None:
                raise AssertionError(f"cannot reply to unknown message #{target_id}")
            raw["reply_to_message"] = {k: v for k, v in target.items() if k != "reply_to_message"}
        raw.update(content)
        self.user_messages[mid] = raw
        uid = self._push("message", raw, update_id)
        self._events.append(("in", raw, uid))
        return uid

    async def send(
        self,
        text: str,
        *,
        update_id: int | None = None,
        reply_to: BotMessage | int | None = None,
        entities: list[JSON] | None = None,
    ) -> int:
        """Send a text message (a leading /command gets a bot_command entity). Returns update_id."""
        content: JSON = {"text": text}
        if entities is None and text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        if entities:
            content["entities"] = entities
        return self._push_message(content, update_id=update_id, reply_to=reply_to)

    async def send_contact(
        self,
        phone_number: str,
        *,
        own: bool = True,
        first_name: str | None = None,
        last_name: str | None = None,
        user_id: int | None = None,
        update_id: int | None = None,
    ) -> int:
        """Share a contact; own=True -> this user's own (user_id = self.id)."""
        contact: JSON = {"phone_number": phone_number}
        if own:
            contact["first_name"] = first_name or self.first_name
            if last_name or self.last_name:
                contact["last_name"] = last_name or self.last_name
            contact["user_id"] = self.id
        else:
            contact["first_name"] = first_name or "Someone"
            if last_name:
                contact["last_name"] = last_name
            if user_id is not None:
                contact["user_id"] = user_id
        return self._push_message({"contact": contact}, update_id=update_id)

    async def send_location(
        self, latitude: float, longitude: float, *, update_id: int | None = None
    ) -> int:
        return self._push_message(
            {"location": {"latitude": latitude, "longitude": longitude}}, update_id=update_id
        )

    async def send_photo(
        self, caption: str | None = None, *, data: bytes | None = None, update_id: int | None = None
    ) -> int:
        """Send a photo (PNG bytes served by getFile/download; default a small generated PNG)."""
        content: JSON = {"photo": self.emu.photo_sizes(data)}
        if caption is not None:
            content["caption"] = caption
        return self._push_message(content, update_id=update_id)

    async def send_sticker(self, emoji: str = "👍", *, update_id: int | None = None) -> int:
        stored = self.emu.register_file("sticker", b"RIFF\x00\x00\x00\x00WEBPVP8 ")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._push_message({"sticker": sticker}, update_id=update_id)

    async def send_voice(
        self, duration: int = 2, *, data: bytes | None = None, update_id: int | None = None
    ) -> int:
        stored = self.emu.register_file(
            "voice", data or b"OggS\x00fake-voice", mime_type="audio/ogg"
        )
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(stored.data),
        }
        return self._push_message({"voice": voice}, update_id=update_id)

    async def send_document(
        self,
        file_name: str = "document.pdf",
        *,
        data: bytes | None = None,
        mime_type: str = "application/pdf",
        caption: str | None = None,
        update_id: int | None = None,
    ) -> int:
        stored = self.emu.register_file(
            "document", data or b"%PDF-1.4\n%fake\n", file_name=file_name, mime_type=mime_type
        )
        content: JSON = {
            "document": {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": file_name,
                "mime_type": mime_type,
                "file_size": len(stored.data),
            }
        }
        if caption is not None:
            content["caption"] = caption
        return self._push_message(content, update_id=update_id)

    async def send_raw(self, content: JSON, *, update_id: int | None = None) -> int:
        """Send a message with arbitrary content fields (merged into the Message dict)."""
        return self._push_message(dict(content), update_id=update_id)

    async def edit_sent(self, message_id: int, text: str, *, update_id: int | None = None) -> int:
        """The user edits one of their text messages (edited_message update)."""
        raw = self.user_messages.get(message_id)
        if raw is None:
            raise AssertionError(f"user message #{message_id} not found")
        raw = {**raw, "text": text, "edit_date": int(time.time())}
        self.user_messages[message_id] = raw
        return self._push("edited_message", raw, update_id)

    async def press(
        self,
        text: str | None = None,
        *,
        callback_data: str | None = None,
        message: BotMessage | int | None = None,
        update_id: int | None = None,
        force: bool = False,
    ) -> str:
        """Press an inline button; returns the callback query id.

        Looks in ``message`` or else the newest live bot message with an inline keyboard.
        Matches ``callback_data`` exactly, else ``text`` exactly, else a unique button whose
        text contains ``text``. ``force=True`` with ``callback_data`` sends it even if no
        such button exists (forged/stale press).
        """
        if text is None and callback_data is None:
            raise ValueError("press() needs text or callback_data")
        target = self._press_target(message, force)
        data = self._find_callback_data(target, text, callback_data, force)
        uid = self.emu.take_update_id(update_id)
        query_id = f"{self.id}{uid:08d}"
        raw_message: JSON = (
            dict(target.raw)
            if target is not None
            else {
                "message_id": message if isinstance(message, int) else 0,
                "date": 0,
                "chat": self.chat_dict,
            }
        )
        query: JSON = {
            "id": query_id,
            "from": self.user_dict,
            "message": raw_message,
            "chat_instance": f"-{self.id}777",
            "data": data,
        }
        self.emu.register_callback(query_id, self, target)
        self.last_query_id = query_id
        self._events.append(("press", text, data, target.message_id if target else None, uid))
        self._push("callback_query", query, uid)
        return query_id

    async def tap(self, text: str, *, phone: str | None = None, wait: float = 0) -> str | int:
        """Press any button the user sees, as in the Telegram app: an inline button of the
        newest message that has some (returns the callback query id), or a button of the reply
        keyboard shown (returns the update id): it sends its text, or the user's own contact
        for a request_contact button (``phone``, default ``self.phone``), or a location.

        An exact label wins over a partial one, an inline button over a reply-keyboard one.
        Waits up to ``wait`` seconds for such a button to be shown (the bot may still be
        answering the previous message); then ButtonNotFound, one line saying what is there.
        """
        deadline = time.monotonic() + wait
        while True:
            try:
                return await self._tap(text, phone)
            except AmbiguousButton:
                raise
            except ButtonNotFound:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise
                await self._changed.wait(remaining)

    async def _tap(self, text: str, phone: str | None) -> str | int:
        target = next(
            (m for m in reversed(self.messages) if m.inline_keyboard and not m.deleted), None
        )
        inline = (
            [b.text for row in target.inline_keyboard for b in row if b.callback_data]
            if target
            else []
        )
        reply = [b for row in self.keyboard or [] for b in row]
        for exact in (True, False):
            found = _one(inline, text, exact)
            if found is not None:
                return await self.press(found, message=target)
            label = _one([b.text for b in reply], text, exact)
            if label is not None:
                return await self.press_keyboard(label, phone=phone)
        raise ButtonNotFound(
            f"no button {text!r} in chat {self.id}: inline buttons of the newest message: "
            f"{_listed(inline)}; reply keyboard: {_listed([b.text for b in reply])}"
        )

    async def press_keyboard(self, text: str, *, phone: str | None = None) -> int:
        """Press the reply-keyboard button labelled exactly ``text``: it sends its text, or
        the user's own contact (request_contact; ``phone``, default ``self.phone``), or a
        location (request_location). Returns the update id."""
        reply = [b for row in self.keyboard or [] for b in row]
        button = next((b for b in reply if b.text == text), None)
        if button is None:
            raise ButtonNotFound(
                f"no button {text!r} on the keyboard of chat {self.id}: "
                f"{_listed([b.text for b in reply])}"
            )
        if button.request_contact:
            return await self.send_contact(phone or self.phone)
        if button.request_location:
            return await self.send_location(*BAOSHAN)
        return await self.send(button.text)

    @property
    def phone(self) -> str:
        """The number Telegram shares for this user's request_contact button."""
        return f"+86138{self.id % 10**8:08d}"

    def _press_target(self, message: BotMessage | int | None, force: bool) -> BotMessage | None:
        if isinstance(message, BotMessage):
            target: BotMessage | None = message
        elif isinstance(message, int):
            target = self._by_id.get(message)
            if target is None and not force:
                raise AssertionError(
                    f"no bot message #{message} in chat {self.id}\n" + self.transcript()
                )
        else:
            target = next(
                (m for m in reversed(self.messages) if m.inline_keyboard and not m.deleted), None
            )
            if target is None:
                raise AssertionError(
                    f"no bot message with an inline keyboard in chat {self.id}\n"
                    + self.transcript()
                )
        if target is not None and target.deleted and not force:
            raise AssertionError(f"message #{target.message_id} was deleted\n" + self.transcript())
        return target

    def _find_callback_data(
        self, target: BotMessage | None, text: str | None, data: str | None, force: bool
    ) -> str:
        buttons = [b for row in target.inline_keyboard for b in row] if target else []
        found = None
        if data is not None:
            found = next((b for b in buttons if b.callback_data == data), None)
            if found is None and force:
                return data
        elif text is not None:
            found = next((b for b in buttons if b.text == text), None)
            if found is None:
                partial = [b for b in buttons if text in b.text]
                if len(partial) > 1:
                    raise AssertionError(
                        f"button text {text!r} is ambiguous: {[b.text for b in partial]}"
                    )
                found = partial[0] if partial else None
        if found is None or found.callback_data is None:
            where = f"message #{target.message_id}" if target else "no message"
            available = target.describe_buttons() if target else "(none)"
            what = "is not a callback button" if found is not None else "not found"
            raise AssertionError(
                f"button text={text!r} callback_data={data!r} {what} in {where}; "
                f"available: {available}\n{self.transcript()}"
            )
        return found.callback_data

    def block(self, *, notify: bool = True) -> None:
        """This user blocks the bot (403 on sends; my_chat_member update if notify)."""
        self.emu.block(self.id, notify=notify)

    def unblock(self, *, notify: bool = True) -> None:
        self.emu.unblock(self.id, notify=notify)

    # ------------------------------------------------------------------ observing the bot

    @property
    def last(self) -> BotMessage | None:
        """Newest bot message (deleted ones included) or None."""
        return self.messages[-1] if self.messages else None

    @property
    def visible(self) -> list[BotMessage]:
        """Bot messages that were not deleted."""
        return [m for m in self.messages if not m.deleted]

    @property
    def unread(self) -> list[BotMessage]:
        """Bot messages receive() has not returned yet."""
        return self.messages[self._cursor :]

    def mark_read(self) -> None:
        """Skip all current messages for receive()."""
        self._cursor = len(self.messages)

    async def receive(self, timeout: float = 5.0) -> BotMessage:
        """Next bot message not yet returned by receive() (FIFO); AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while self._cursor >= len(self.messages):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"chat {self.id}: no new bot message within {timeout}s\n" + self.transcript()
                )
            await self._changed.wait(remaining)
        msg = self.messages[self._cursor]
        self._cursor += 1
        return msg

    async def receive_until(
        self, predicate: Callable[[BotMessage], Any], timeout: float = 5.0
    ) -> BotMessage:
        """Next new bot message matching predicate; non-matching new messages are skipped."""
        deadline = time.monotonic() + timeout
        skipped: list[BotMessage] = []
        while True:
            while self._cursor < len(self.messages):
                msg = self.messages[self._cursor]
                self._cursor += 1
                if predicate(msg):
                    return msg
                skipped.append(msg)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"chat {self.id}: no matching bot message within {timeout}s "
                    f"(skipped {len(skipped)})\n" + self.transcript()
                )
            await self._changed.wait(remaining)

    async def wait_for(self, predicate: Callable[[UserChat], T], timeout: float = 5.0) -> T:
        """Wait until predicate(chat) is truthy (re-checked on every change); returns it."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate(self)
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"chat {self.id}: condition not met within {timeout}s\n" + self.transcript()
                )
            await self._changed.wait(remaining)

    async def wait_callback_answer(self, query_id: str | None = None, timeout: float = 5.0) -> JSON:
        """Wait for the bot's answerCallbackQuery to ``query_id`` (default: last press)."""
        qid = query_id or self.last_query_id
        if qid is None:
            raise AssertionError("no button was pressed")
        answer = await self.wait_for(lambda c: c.emu.callback_answer(qid), timeout)
        assert answer is not None
        return answer

    async def settle(self, quiet: float = 0.3, timeout: float = 5.0) -> None:
        """Wait until the bot took all queued updates of this chat and then sent, edited or
        deleted nothing here for ``quiet`` seconds.

        A quiet time proves nothing on a slow machine: to show that nothing more arrives, wait
        for the bot to have handled the updates (``BotRunner.idle`` in tests/conftest.py) or
        for the outbox to be drained (tests/conditions.py) instead."""
        start = time.monotonic()
        deadline = start + timeout
        while True:
            now = time.monotonic()
            wait = deadline - now
            if self._pending_updates <= 0:
                quiet_left = max(self._last_change, start) + quiet - now
                if quiet_left <= 0:
                    return
                wait = min(wait, quiet_left)
            if wait <= 0:
                raise AssertionError(
                    f"chat {self.id}: not settled (quiet={quiet}s) within {timeout}s\n"
                    + self.transcript()
                )
            await self._changed.wait(wait)

    # ------------------------------------------------------------------ diagnostics

    def transcript(self) -> str:
        """Readable conversation log (user ">>", bot "<<", errors "!!")."""
        name = self.first_name + (f" @{self.username}" if self.username else "")
        lines = [f"--- chat {self.id} ({name}) ---"]
        events = self._events
        if len(events) > _TRANSCRIPT_LIMIT:
            lines.append(f"... {len(events) - _TRANSCRIPT_LIMIT} earlier events omitted")
            events = events[-_TRANSCRIPT_LIMIT:]
        for event in events:
            kind = event[0]
            if kind == "in":
                raw, uid = event[1], event[2]
                lines.append(f">> #{raw['message_id']} [upd {uid}] {_describe_user(raw)}")
            elif kind == "press":
                _, text, data, mid, uid = event
                label = f"{text!r} " if text is not None else ""
                lines.append(f">> [upd {uid}] press {label}(data={data!r}) on #{mid}")
            elif kind in {"out", "edit"}:
                msg, text, keyboard = event[1], event[2], event[3]
                head = f"<< #{msg.message_id}" if kind == "out" else f"<< edit #{msg.message_id} ->"
                bits = [head]
                if kind == "out" and msg.media:
                    bits.append(f"<{msg.media}>")
                if text is not None:
                    bits.append(repr(text))
                if keyboard:
                    bits.append("inline: " + _describe_keyboard(keyboard))
                if kind == "out" and msg.reply_keyboard is not None:
                    bits.append("keyboard: " + " ".join(f"[{t}]" for t in msg.reply_buttons))
                if kind == "out" and msg.remove_keyboard:
                    bits.append("(remove keyboard)")
                lines.append(" ".join(bits))
            elif kind == "delete":
                lines.append(f"<< delete #{event[1].message_id}")
            elif kind == "delete_user":
                lines.append(f"<< delete user message #{event[1]}")
            elif kind == "answer":
                answer = event[1]
                lines.append(
                    f"<< answer callback: text={answer.get('text')!r} "
                    f"show_alert={bool(answer.get('show_alert'))}"
                )
            elif kind == "error":
                lines.append(f"!! {event[1]} -> {event[2]} {event[3]}")
            elif kind == "drop":
                lines.append(f"!! update {event[2]} ({event[1]}) dropped: not in allowed_updates")
        if self.keyboard is not None:
            rows = " ".join(f"[{b.text}]" for row in self.keyboard for b in row)
            lines.append(f"(reply keyboard shown: {rows})")
        if self._pending_updates > 0:
            lines.append(f"({self._pending_updates} update(s) not yet fetched by the bot)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"UserChat(id={self.id}, first_name={self.first_name!r}, messages={len(self.messages)})"
        )


def _describe_keyboard(rows: list[list[Button]]) -> str:
    return " ".join(
        f"[{b.text} -> {b.callback_data if b.callback_data is not None else b.url}]"
        for row in rows
        for b in row
    )


def _describe_user(raw: JSON) -> str:
    if "text" in raw:
        return repr(raw["text"])
    for key in ("contact", "location", "photo", "sticker", "voice", "document"):
        if key in raw:
            value = raw[key]
            detail = ""
            if key == "contact":
                detail = f" {value.get('phone_number')} user_id={value.get('user_id')}"
            elif key == "location":
                detail = f" {value.get('latitude')},{value.get('longitude')}"
            caption = f" caption={raw['caption']!r}" if "caption" in raw else ""
            return f"<{key}>{detail}{caption}"
    return repr({k: v for k, v in raw.items() if k not in {"from", "chat", "date"}})
