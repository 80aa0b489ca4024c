"""Timed work, rebuilt from the database whenever the process starts (APScheduler 3).

Scheduled broadcasts are rows in the database; the scheduler only holds a job per row, so a
restart loses nothing: `start` adds a job for every scheduled broadcast, and a periodic resync
picks up broadcasts scheduled by other processes. Starting a broadcast is idempotent, so two
processes firing the same one start it once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.models import utcnow
from bot.services import broadcasts, retention

log = logging.getLogger(__name__)

RESYNC_EVERY = timedelta(seconds=30)
PRUNE_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class Retention:
    """How long finished notices and handled update ids are kept (NOTICE_RETENTION_DAYS,
    UPDATE_RETENTION_DAYS). Telegram redelivers an update for at most a day."""

    notices: timedelta = timedelta(days=30)
    update_ids: timedelta = timedelta(days=2)

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        return cls(
            notices=timedelta(days=settings.notice_retention_days),
            update_ids=timedelta(days=settings.update_retention_days),
        )


class Scheduler:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        on_notices: Callable[[], None] = lambda: None,
        retention: Retention = Retention(),
    ) -> None:
        self.sessionmaker = sessionmaker
        self.on_notices = on_notices
        self.retention = retention
        self.aps = AsyncIOScheduler(
            timezone="UTC",
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )

    async def start(self) -> None:
        self.aps.start()
        self.aps.add_job(
            self.resync,
            "interval",
            seconds=RESYNC_EVERY.total_seconds(),
            id="resync",
            next_run_time=utcnow(),
        )
        self.aps.add_job(self.prune, "interval", seconds=PRUNE_EVERY.total_seconds(), id="prune")

    async def stop(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)

    async def resync(self) -> None:
        """One job per scheduled broadcast in the database, at its time."""
        async with self.sessionmaker() as session:
            rows = await broadcasts.scheduled(session)
            await session.commit()
        for broadcast in rows:
            assert broadcast.scheduled_at is not None
            self.schedule_broadcast(broadcast.id, broadcast.scheduled_at)

    def schedule_broadcast(self, broadcast_id: int, when: datetime) -> None:
        self.aps.add_job(
            self.fire_broadcast,
            "date",
            run_date=when,
            args=[broadcast_id],
            id=f"broadcast:{broadcast_id}",
            replace_existing=True,
        )

    def unschedule_broadcast(self, broadcast_id: int) -> None:
        try:
            self.aps.remove_job(f"broadcast:{broadcast_id}")
        except JobLookupError:
            pass

    async def fire_broadcast(self, broadcast_id: int) -> None:
        async with self.sessionmaker() as session, session.begin():
            started = await broadcasts.start_broadcast(session, broadcast_id)
        if started:
            log.info("scheduled broadcast %s started", broadcast_id)
            self.on_notices()

    async def prune(self) -> dict[str, int]:
        """Delete finished notices and handled update ids older than their retention."""
        now = utcnow()
        counts = {
            "notices": await self._prune_all(retention.prune_notices, now - self.retention.notices),
            "update_ids": await self._prune_all(
                retention.prune_update_ids, now - self.retention.update_ids
            ),
        }
        if any(counts.values()):
            log.info("pruned %(notices)s notices and %(update_ids)s update ids", counts)
        return counts

    async def _prune_all(
        self, prune: Callable[[AsyncSession, datetime, int], Awaitable[int]], before: datetime
    ) -> int:
        total = 0
        while True:
            async with self.sessionmaker() as session, session.begin():
                deleted = await prune(session, before, retention.BATCH)
            total += deleted
            if deleted < retention.BATCH:
                return total
