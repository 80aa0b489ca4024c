"""Telegram's global limit, shared by notices and replies.

Notices are paced evenly at the notice rate; every other message the bot sends (replies to
users) goes through the same sliding window on its way out (PacingMiddleware, on the Bot's
session), so in any window the two together stay within the rate, and a broadcast leaves room
for the users who chat with the bot meanwhile instead of making Telegram answer them 429.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from contextvars import ContextVar
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

# Set while the notice dispatcher sends: its requests took their slot in Pacer.acquire.
SENDING_NOTICE: ContextVar[bool] = ContextVar("sending_notice", default=False)

# The methods Telegram counts as messages sent (edits, answers and chat actions are not).
COUNTED = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendAudio",
        "sendVoice",
        "sendAnimation",
        "sendSticker",
        "sendVideoNote",
        "sendMediaGroup",
        "sendLocation",
        "sendContact",
        "sendVenue",
        "sendDice",
        "sendPoll",
        "copyMessage",
        "forwardMessage",
    }
)


class Pacer:
    """The global rate: `rate` messages in any window of `span` seconds, notices and replies
    together; notices evenly spaced, replies without waiting while there is room.

    A notice has a slot one interval after the previous one's and never goes before it. One
    that comes late (a timer waking up late: asyncio sleeps in whole milliseconds, the whole
    interval at 1,000/s; a claim; a garbage collection) keeps the schedule, so the next ones
    go at once until it is caught up: up to `catch_up` of lost time is made up instead of lost
    for good. After a longer gap (an idle outbox) the schedule restarts from now, so sending
    never starts with a burst.

    The window caps everything: no `span` ever holds more than `rate` messages. It is a little
    longer than Telegram's second (`slack`), so that the few milliseconds by which two
    requests' travel times differ never make Telegram count rate + 1 in one of its seconds.
    Notices also leave free as many slots as replies took in the last window: while users
    chat, the broadcast slows down by their share instead of using the slot the next reply
    needs. A reply waits only when the window is full (one interval at most, when notices
    alone filled it), never Telegram's retry_after.
    """

    def __init__(self, rate: float, catch_up: float = 0.05, slack: float = 0.02) -> None:
        self.interval = 1.0 / rate
        self.catch_up = catch_up
        self.span = 1.0 + slack
        self.limit = max(1, int(rate))
        self._next = 0.0
        self._sends: deque[float] = deque()  # every message of the last span, oldest first
        self._replies: deque[float] = deque()  # the replies among them

    def _forget(self, now: float) -> None:
        edge = now - self.span
        for times in (self._sends, self._replies):
            while times and times[0] <= edge:
                times.popleft()

    def _room_at(self, now: float, limit: int) -> float:
        """When the window holds fewer than `limit` messages (now, if it does already)."""
        excess = len(self._sends) - limit
        if limit <= 0:
            return now + self.interval
        if excess < 0:
            return now
        return self._sends[excess] + self.span

    async def acquire(self) -> None:
        """Wait for a notice's slot and take it."""
        while True:
            now = time.monotonic()
            self._forget(now)
            start = max(self._next, self._room_at(now, self.limit - len(self._replies)))
            if start <= now:
                break
            await asyncio.sleep(start - now)
        slot = self._next if now - self._next <= self.catch_up else now
        self._next = slot + self.interval
        self._sends.append(now)

    async def take(self) -> None:
        """A reply's slot: at once, unless the window is full."""
        while True:
            now = time.monotonic()
            self._forget(now)
            start = self._room_at(now, self.limit)
            if start <= now:
                break
            await asyncio.sleep(start - now)
        self._sends.append(now)
        self._replies.append(now)

    def pause_until(self, moment: float) -> None:
        self._next = max(self._next, moment)


class PacingMiddleware(BaseRequestMiddleware):
    """Every message the bot sends that is not a notice takes its slot from the pacer first."""

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if method.__api_method__ in COUNTED and not SENDING_NOTICE.get():
            await self.pacer.take()
        return await make_request(bot, method)
