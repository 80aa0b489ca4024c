"""The Dispatcher the bot polls with: a bound on updates handled at once, and a count of them.

aiogram hands each polled update to a task of its own and keeps no public handle on those
tasks. This Dispatcher counts the updates it is feeding (`feed_update`, the public entry every
update passes through, FSM lock included), so shutdown can wait for them before aiogram's
first shutdown handler closes the dialogue-state storage and its locks. It also polls with a
`tasks_concurrency_limit`, `UPDATES_AT_ONCE`: far more than the database connections, which
DbSessionMiddleware shares out (an update holds one only for its database work, not while its
replies travel to Telegram and back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.types import TelegramObject, Update

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0
# Updates handled at once: a getUpdates batch. At Telegram's 50-150 ms an update spends most of
# its time waiting for its replies; a bound near the pool's size (8) held the bot to about 60
# updates a second there, whatever the machine (`python bench/bids.py --rtt-ms 100`).
UPDATES_AT_ONCE = 100


class InFlight:
    """How many updates are being handled now, the most at once, and a wait for none."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)
        self._idle.clear()

    def leave(self) -> None:
        self.now -= 1
        if self.now == 0:
            self._idle.set()

    async def wait_idle(self, within_s: float) -> bool:
        """True when no update is in flight any more, False when `within_s` ran out first."""
        try:
            await asyncio.wait_for(self._idle.wait(), within_s)
        except TimeoutError:
            return False
        return True


class LockOnlyFSM(FSMContextMiddleware):
    """aiogram's FSM middleware, except that it does not read the dialogue state.

    aiogram's reads it (`raw_state`, for state filters) as soon as it holds the chat's lock,
    before the update's session exists: with the state in the database that was a
    transaction of its own for every update (on SQLite a BEGIN IMMEDIATE, the write lock, for
    one read). DbSessionMiddleware, which runs next, reads it inside the update's transaction
    instead, still under the chat's lock."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        context = self.resolve_event_context(data["bot"], data)
        data["fsm_storage"] = self.storage
        if context is None:
            return await handler(event, data)
        async with self.events_isolation.lock(key=context.key):
            data["state"] = context
            return await handler(event, data)


class UpdateDispatcher(Dispatcher):
    """aiogram's Dispatcher with a concurrency limit, a drain before shutdown, and the
    dialogue state read in the update's transaction (LockOnlyFSM)."""

    def __init__(self, *, update_limit: int | None = UPDATES_AT_ONCE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.update_limit = update_limit
        self.in_flight = InFlight()
        outer = self.update.outer_middleware
        if len(outer) and outer[-1] is self.fsm:  # aiogram's, the last one registered so far
            outer.unregister(self.fsm)
            self.fsm = LockOnlyFSM(self.fsm.storage, self.fsm.events_isolation, self.fsm.strategy)
            outer.register(self.fsm)

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        self.in_flight.enter()
        try:
            return await super().feed_update(bot, update, **kwargs)
        finally:
            self.in_flight.leave()

    async def drain(self, within_s: float = DRAIN_SECONDS) -> None:
        """Let updates being handled finish (a Redis lock left held stalls that chat)."""
        if not await self.in_flight.wait_idle(within_s):
            log.warning("%s updates still running after %.0f s", self.in_flight.now, within_s)

    async def emit_shutdown(self, *args: Any, **kwargs: Any) -> None:
        # Polling has stopped; updates already taken finish before any resource closes.
        await self.drain()
        await super().emit_shutdown(*args, **kwargs)

    async def start_polling(self, *bots: Bot, **kwargs: Any) -> None:
        kwargs.setdefault("tasks_concurrency_limit", self.update_limit)
        await super().start_polling(*bots, **kwargs)
