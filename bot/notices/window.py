"""The sends in flight: as many as the rate times the round trip needs, never more than a cap.

One request at a time caps the rate at 1 / (round trip + commit): under 20 a second with
Telegram 50 ms away. A window of sends in flight, each recorded as its answer returns, reaches
the rate; its size follows the measured round trip (send to outcome recorded, a moving
average), with half as much again for its variation and two spare, so it holds no more unrecorded
sends than the rate needs: those are what a kill can send twice. Until the first answer the
round trip is taken to be `first_guess` (Telegram from far away), so the first messages do not
go one at a time.
"""

from __future__ import annotations

import asyncio
import math


class Window:
    def __init__(
        self, rate: float, cap: int, smoothing: float = 0.2, first_guess: float = 0.1
    ) -> None:
        self.rate = rate
        self.cap = max(1, cap)
        self.smoothing = smoothing
        self.round_trip = first_guess  # seconds: a moving average of the measured ones
        self._measured = False
        self.in_flight = 0
        self._changed = asyncio.Condition()

    @property
    def size(self) -> int:
        needed = math.ceil(self.rate * self.round_trip * 1.5) + 2
        return max(1, min(self.cap, needed))

    async def enter(self) -> None:
        """Wait for room, then count one more send in flight."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.size)
            self.in_flight += 1

    async def leave(self, took: float | None) -> None:
        """One send's outcome is recorded (took: its round trip; None: not measured)."""
        if took is not None:
            if not self._measured:
                self.round_trip, self._measured = took, True
            else:
                self.round_trip += self.smoothing * (took - self.round_trip)
        async with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    async def drained(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight == 0)
