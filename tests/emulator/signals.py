"""A wake-all signal for waiters on emulator state (messages, updates, handled updates)."""

from __future__ import annotations

import asyncio
from contextlib import suppress

__all__ = ["Notifier"]


class Notifier:
    """Wake-all signal: waiters block until the next notify() (no lost wake-ups in asyncio)."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    async def wait(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait for the next notify(); False on timeout."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            async with asyncio.timeout(timeout):
                await fut
            return True
        except TimeoutError:
            return False
        finally:
            if not fut.done():
                fut.cancel()
                with suppress(ValueError):
                    self._waiters.remove(fut)
