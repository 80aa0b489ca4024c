"""Timed work, rebuilt from the database whenever the process starts (APScheduler 3).

Scheduled broadcasts are rows in the database; the scheduler only holds a job per row, so a
restart loses nothing: `start` adds a job for every scheduled broadcast, and a periodic resync
picks up broadcasts scheduled by other processes. Starting a broadcast is idempotent, so two
processes firing the same one start it once.

Auctions have one job, "auctions", set to the earliest moment anything about lots is due (a
close, a closing-soon warning, the end of a wait for acceptance), read from the database. It
is set again after each run, at start (so a close that fell while the bot was down is done at
once), at every resync, and when an auction opens (`wake_auctions`). Each lot is settled in its
own transaction under its row lock, so two processes close a lot once.

Payout reminders have one job, "payout-reminders", set the same way to the next pay date's
PAYOUT_REMINDER_TIME (local) among payouts not yet reminded, read from the database: at start
(a reminder missed while the bot was down is sent at once), at every resync and after each
run. A run locks the due payouts, writes one notice per coordinator and pay date (keyed by
both) and marks them reminded, so two processes remind once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.models import utcnow
from bot.services import broadcasts, lots, payouts, retention
from bot.services.access import DEADLINE
from bot.services.errors import DomainError

log = logging.getLogger(__name__)

RESYNC_EVERY = timedelta(seconds=30)
PRUNE_EVERY = timedelta(hours=1)
RETRY_FAILED = timedelta(seconds=1)
PROGRAMME_TZ = ZoneInfo("Asia/Shanghai")
STOP_WAIT = timedelta(seconds=20)


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


@dataclass(frozen=True)
class Market:
    """The market's deadlines (ACCEPTANCE_HOURS, CLOSING_SOON_MINUTES)."""

    acceptance: timedelta = timedelta(hours=24)
    closing_soon: timedelta = timedelta(minutes=30)

    @classmethod
    def from_settings(cls, settings: Settings) -> Market:
        return cls(
            acceptance=timedelta(hours=settings.acceptance_hours),
            closing_soon=timedelta(minutes=settings.closing_soon_minutes),
        )


@dataclass(frozen=True)
class PayoutReminders:
    """When coordinators are reminded of a pay date (PAYOUT_REMINDER_TIME in TIMEZONE)."""

    at: time = time(9, 0)
    tz: ZoneInfo = PROGRAMME_TZ

    @classmethod
    def from_settings(cls, settings: Settings) -> PayoutReminders:
        return cls(at=settings.reminder_time, tz=settings.tz)


class Scheduler:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        on_notices: Callable[[], None] = lambda: None,
        retention: Retention = Retention(),
        market: Market = Market(),
        reminders: PayoutReminders = PayoutReminders(),
    ) -> None:
        self.sessionmaker = sessionmaker
        self.on_notices = on_notices
        self.retention = retention
        self.market = market
        self.reminders = reminders
        self.aps = AsyncIOScheduler(
            timezone="UTC",
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        # Reading the next due moment and setting the job is one step: a run's rescheduling
        # that read the database before a new auction committed must not set the job after
        # the handler's wake did (the new lot would wait for the next resync).
        self._wake_lock = asyncio.Lock()
        # Runs take turns; a wake during a run queues one more instead of being dropped.
        self._run_lock = asyncio.Lock()

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
        """Stop the timed jobs. A run of the auctions, a resync (or a wake) in progress finishes
        first, within STOP_WAIT: APScheduler cancels running jobs, and cancelled inside a
        transaction a close is lost and its connection left holding SQLite's write lock or
        PostgreSQL's row locks while the engine is disposed of (a resync cancelled at a stop
        just after the start, as a prompt Ctrl-C does, was logged as a failed job)."""
        if not self.aps.running:
            return
        self.aps.pause()  # no new runs from here on
        try:
            async with asyncio.timeout(STOP_WAIT.total_seconds()):
                async with self._run_lock, self._wake_lock:
                    self.aps.shutdown(wait=False)
        except TimeoutError:
            log.warning("an auctions run did not finish within %s; stopped anyway", STOP_WAIT)
            self.aps.shutdown(wait=False)

    async def resync(self) -> None:
        """One job per scheduled broadcast in the database, at its time; the auctions job at
        the next moment a lot is due. A run of its own (`stop` waits for it)."""
        async with self._run_lock:
            async with self.sessionmaker() as session:
                rows = await broadcasts.scheduled(session)
                await session.commit()
            for broadcast in rows:
                assert broadcast.scheduled_at is not None
                self.schedule_broadcast(broadcast.id, broadcast.scheduled_at)
            await self.wake_auctions()
            await self.wake_reminders()

    async def wake_auctions(self, not_before: datetime | None = None) -> None:
        """Set the auctions job to the next due moment in the database (now, if overdue)."""
        async with self._wake_lock:
            async with self.sessionmaker() as session:
                when = await lots.next_due(session, self.market.closing_soon)
                await session.commit()
            if when is None:
                with contextlib.suppress(JobLookupError):
                    self.aps.remove_job("auctions")
                return
            self.aps.add_job(
                self.run_auctions,
                "date",
                run_date=max(when, not_before or utcnow()),
                id="auctions",
                replace_existing=True,
                max_instances=2,
            )

    async def run_auctions(self) -> dict[str, int]:
        """Everything about lots that is due: closing-soon warnings, closes, acceptances that
        ran out. Then the job is set for the next due moment."""
        async with self._run_lock:
            return await self._run_auctions()

    async def _run_auctions(self) -> dict[str, int]:
        now = utcnow()
        done = {"warned": 0, "closed": 0, "expired": 0}
        async with self.sessionmaker() as session, session.begin():
            done["warned"] = await lots.warn_closing_soon(session, now, self.market.closing_soon)
            closing = await lots.due_closes(session, now)
            expiring = await lots.due_acceptances(session, now)
        for lot_id in closing:
            try:
                async with self.sessionmaker() as session, session.begin():
                    closed = await lots.close_lot(session, lot_id, now, self.market.acceptance)
                done["closed"] += closed is not None
            except Exception:  # one lot's failure must not keep the others open
                log.exception("closing lot %s failed; tried again shortly", lot_id)
        for lot_id in expiring:
            try:
                async with self.sessionmaker() as session, session.begin():
                    await lots.decide_sale(session, DEADLINE, lot_id, accept=False, now=now)
                done["expired"] += 1
            except DomainError:  # a coordinator answered meanwhile, or another process did
                pass
            except Exception:
                log.exception("ending the wait for acceptance of lot %s failed", lot_id)
        if any(done.values()):
            log.info("auctions: %(warned)s warned, %(closed)s closed, %(expired)s expired", done)
            self.on_notices()
        if self.aps.running:
            # Not sooner than a second from now: a lot that failed is retried, not spun on.
            await self.wake_auctions(not_before=utcnow() + RETRY_FAILED)
        return done

    async def wake_reminders(self, not_before: datetime | None = None) -> None:
        """Set the payout reminders' job to the next pay date's reminder time (now, if it
        passed: missed while the bot was down)."""
        async with self._wake_lock:
            async with self.sessionmaker() as session:
                when = await payouts.next_reminder_at(session, self.reminders.tz, self.reminders.at)
                await session.commit()
            if when is None:
                with contextlib.suppress(JobLookupError):
                    self.aps.remove_job("payout-reminders")
                return
            self.aps.add_job(
                self.run_reminders,
                "date",
                run_date=max(when, not_before or utcnow()),
                id="payout-reminders",
                replace_existing=True,
                max_instances=2,
            )

    async def run_reminders(self) -> int:
        """Remind coordinators of every pay date whose reminder is due; then set the job for
        the next one. Returns how many notices were written."""
        async with self._run_lock:
            written = 0
            try:
                async with self.sessionmaker() as session, session.begin():
                    written = await payouts.send_reminders(
                        session, utcnow(), self.reminders.tz, self.reminders.at
                    )
            except Exception:  # tried again shortly; the next resync sets the job again
                log.exception("payout reminders failed")
            if written:
                log.info("payout reminders: %s notices", written)
                self.on_notices()
        if self.aps.running:
            await self.wake_reminders(not_before=utcnow() + RETRY_FAILED)
        return written

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
