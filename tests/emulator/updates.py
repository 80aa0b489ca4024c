"""The update queue and getUpdates: long polling, offsets that confirm, redelivery of what
was not confirmed, and allowed_updates."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .signals import Notifier

if TYPE_CHECKING:
    from .client import UserChat

__all__ = ["DEFAULT_UPDATE_TYPES", "UpdateQueue"]

JSON = dict[str, Any]

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
)
"""What Telegram sends without allowed_updates: all but chat_member and message reactions."""


@dataclass(slots=True)
class _Queued:
    update_id: int
    update: JSON
    chat: UserChat | None
    delivered: bool = False


class UpdateQueue:
    """Updates waiting for the bot, in order, until an offset confirms them."""

    def __init__(self, changed: Notifier) -> None:
        self.changed = changed
        """Wakes the emulator's waiters on every change."""
        self.pushed: dict[int, JSON] = {}
        self.dropped: list[JSON] = []
        self.allowed: list[str] | None = None
        self.polls_waiting = 0
        """Long polls waiting for an update (a stopped bot's last one ends at the next push)."""
        self.entries: deque[_Queued] = deque()
        self.next_id = 1
        self.stopping = False
        self._signal = Notifier()

    def take_id(self, forced: int | None = None) -> int:
        if forced is not None:
            self.next_id = max(self.next_id, forced + 1)
            return forced
        uid = self.next_id
        self.next_id += 1
        return uid

    def push(self, update: JSON, chat: UserChat | None) -> int:
        uid = update.get("update_id")
        if uid is None:
            uid = self.take_id()
            update = {"update_id": uid, **update}
        else:
            uid = self.take_id(int(uid))
        kind = next((k for k in update if k != "update_id"), "")
        self.pushed[uid] = update
        allowed = frozenset(self.allowed) if self.allowed else DEFAULT_UPDATE_TYPES
        if kind not in allowed:
            self.dropped.append(update)
            if chat is not None:
                chat._log("drop", kind, uid)
            return uid
        self.entries.append(_Queued(uid, update, chat))
        if chat is not None:
            chat._pending_updates += 1
            chat.update_ids.append(uid)
        self._signal.notify()
        self.changed.notify()
        return uid

    def stop(self) -> None:
        """Release pending long polls (and event streams waiting for a change)."""
        self.stopping = True
        self._signal.notify()
        self.changed.notify()

    def drop_pending(self) -> None:
        """deleteWebhook(drop_pending_updates=True)."""
        for entry in self.entries:
            self._forget(entry)
        self.entries.clear()

    async def get_updates(self, p: JSON, still_listening: Any) -> list[JSON]:
        """getUpdates: confirm by offset, then wait up to timeout for something to deliver."""
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed = [str(a) for a in allowed] or None
        offset = p.get("offset")
        if isinstance(offset, int):
            self._confirm(offset)
        limit = p.get("limit", 100)
        limit = min(max(int(limit), 1), 100) if isinstance(limit, int) else 100
        timeout = p.get("timeout", 0)
        timeout = float(timeout) if isinstance(timeout, int | float) else 0.0
        if not self.entries and timeout > 0 and not self.stopping:
            deadline = time.monotonic() + timeout
            self.polls_waiting += 1
            self.changed.notify()
            try:
                while not self.entries and not self.stopping:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    await self._signal.wait(remaining)
            finally:
                self.polls_waiting -= 1
                self.changed.notify()
            if not still_listening():
                return []  # the poller went away; leave updates for the next one
        batch: list[JSON] = []
        for entry in self.entries:
            if len(batch) >= limit:
                break
            if not entry.delivered:
                entry.delivered = True
                if entry.chat is not None:
                    entry.chat._delivered()
            batch.append(entry.update)
        return batch

    def _confirm(self, offset: int) -> None:
        """Forget updates acknowledged by ``offset`` (Telegram semantics, duplicate-tolerant)."""
        entries = self.entries
        if offset < 0:
            while len(entries) > -offset:
                self._forget(entries.popleft())
            return
        # Everything delivered up to the last delivered entry with id offset-1 is acknowledged
        # (handles forced duplicate/lower update ids), plus delivered entries with lower ids.
        cut = 0
        for index, entry in enumerate(entries):
            if not entry.delivered:
                break
            if entry.update_id == offset - 1:
                cut = index + 1
        for _ in range(cut):
            entries.popleft()
        while entries and entries[0].delivered and entries[0].update_id < offset:
            entries.popleft()

    @staticmethod
    def _forget(entry: _Queued) -> None:
        if not entry.delivered and entry.chat is not None:
            entry.chat._pending_updates -= 1
