"""The global rate of notices: evenly paced, and never more than the rate in any second."""

from __future__ import annotations

import asyncio
import time
from collections import deque


class Pacer:
    """The global rate: messages 1/rate apart, and never more than `rate` in any second.

    Each message has a slot one interval after the previous one's and never goes before it.
    A message that comes late (a timer waking up late: asyncio sleeps in whole milliseconds,
    the whole interval at 1,000/s; a claim; a garbage collection) keeps the schedule, so the
    next ones go at once until it is caught up: up to `catch_up` of lost time is made up
    instead of lost for good. After a longer gap (an idle outbox) the schedule restarts from
    now, so sending never starts with a burst. The sliding one-second window caps what
    catching up can add: no second ever holds more than `rate` messages.
    """

    def __init__(self, rate: float, catch_up: float = 0.05) -> None:
        self.interval = 1.0 / rate
        self.catch_up = catch_up
        self._next = 0.0
        self._recent: deque[float] = deque(maxlen=max(1, int(rate)))

    async def acquire(self) -> None:
        now = time.monotonic()
        wait = self._next - now
        recent = self._recent
        if len(recent) == recent.maxlen:
            wait = max(wait, recent[0] + 1.0 - now)
        if wait > 0:
            await asyncio.sleep(wait)
            now = time.monotonic()
        slot = self._next if now - self._next <= self.catch_up else now
        self._next = slot + self.interval
        recent.append(now)

    def pause_until(self, moment: float) -> None:
        self._next = max(self._next, moment)
