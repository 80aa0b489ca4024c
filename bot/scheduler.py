"""Timed work, rebuilt from the database whenever the process starts (APScheduler 3).

Scheduled broadcasts are rows in the database; the scheduler only holds a job per row, so a
restart loses nothing: `start` adds a job for every scheduled broadcast, and a periodic resync
picks up broadcasts scheduled by other processes. Starting a broadcast is idempotent, so two
processes firing the same one start it once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import ProcessedUpdate, utcnow
from bot.services import broadcasts

log = logging.getLogger(__name__)

RESYNC_EVERY = timedelta(seconds=30)
KEEP_UPDATE_IDS = timedelta(days=2)  # Telegram redelivers for at most a day


class Scheduler:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        on_notices: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.on_notices = on_notices
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
        self.aps.add_job(self.prune_update_ids, "interval", hours=1, id="prune-updates")

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

    async def prune_update_ids(self) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                delete(ProcessedUpdate).where(
                    ProcessedUpdate.processed_at < utcnow() - KEEP_UPDATE_IDS
                )
            )
