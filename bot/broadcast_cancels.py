"""Whether a broadcast was cancelled, asked by the notice dispatcher before each send.

A cancel turns a broadcast's pending notices into cancelled ones, but notices a dispatcher
claimed before it are already out of the queue: the dispatcher asks here before sending each
one and drops it if its broadcast was cancelled. The answer is read from the database, again
at most every `recheck` seconds per broadcast while it is not cancelled (a cancel is final):
at 1,000 messages a second a read per message would cost more than the sends, and a tenth
of a second is shorter than a person can notice.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.models import Broadcast, BroadcastStatus


class CancelledBroadcasts:
    def __init__(self, engine: AsyncEngine, recheck: float = 0.1) -> None:
        self.engine = engine
        self.recheck = recheck
        self._cancelled: set[int] = set()
        self._checked: dict[int, float] = {}  # broadcast id -> when it was last seen going on

    async def __call__(self, broadcast_id: int) -> bool:
        if broadcast_id in self._cancelled:
            return True
        now = time.monotonic()
        if now - self._checked.get(broadcast_id, -self.recheck) < self.recheck:
            return False
        async with self.engine.connect() as conn:
            status = await conn.scalar(select(Broadcast.status).where(Broadcast.id == broadcast_id))
        if status == BroadcastStatus.CANCELLED:
            self._cancelled.add(broadcast_id)
            self._checked.pop(broadcast_id, None)
            return True
        if len(self._checked) > 10_000:  # ids of long finished broadcasts
            self._checked.clear()
        self._checked[broadcast_id] = now
        return False
