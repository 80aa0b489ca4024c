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

The price digest has one job, "price-digest", set the same way to today's PRICE_DIGEST_TIME
(local) unless today's digest was sent (or it is too late for it), else tomorrow's: at start
(a digest missed while the bot was down goes at once, the same day), at every resync and after
each run. "price-alerts" scans the reference prices every minute and at start; `wake_alerts`
runs it at once. bot/services/price_pushes.py says why both send once with two processes.

The price feed (when PRICE_FEED_URL is set) has one job, "price-feed", set to the feed state's
next attempt in the database (bot/services/price_feed.next_run): at once the first time, then
every PRICE_FEED_MINUTES, sooner while a failing feed is retried with backoff; at start, at
every resync (unless a run is under way) and after each run. A run fetches with no transaction
open and stores what came of it in one transaction under the feed state's lock, so two
processes store a price once and tell coordinators once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.models import utcnow
from bot.services import broadcasts, lots, payouts, price_feed, price_pushes, retention
from bot.services.access import DEADLINE
from bot.services.errors import DomainError
from bot.services.price_feed import FeedConfig
from bot.services.price_pushes import PushRules

log = logging.getLogger(__name__)

RESYNC_EVERY = timedelta(seconds=30)
PRUNE_EVERY = timedelta(hours=1)
RETRY_FAILED = timedelta(seconds=1)
ALERT_SCAN_EVERY = timedelta(minutes=1)
PROGRAMME_TZ = ZoneInfo("Asia/Shanghai")
STOP_WAIT = timedelta(seconds=20)
PRICE_RULES = PushRules()  # the settings' defaults


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
        price_rules: PushRules = PRICE_RULES,
        feed: FeedConfig | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.on_notices = on_notices
        self.retention = retention
        self.market = market
        self.reminders = reminders
        self.price_rules = price_rules
        self.feed = feed
        self._feed_running = False  # a run sets the job itself when it ends
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
        self.aps.add_job(
            self.run_alerts,
            "interval",
            seconds=ALERT_SCAN_EVERY.total_seconds(),
            id="price-alerts",
            next_run_time=utcnow(),
        )

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
            await self.wake_digest()
            await self.wake_feed()

    async def wake_auctions(self, not_before: datetime | None = None) -> None:
        """Set the auctions job to the next due moment in the database (now, if overdue)."""
        closing_soon = self.market.closing_soon
        await self._wake(
            "auctions", self.run_auctions, lambda s: lots.next_due(s, closing_soon), not_before
        )

    async def _wake(
        self,
        job_id: str,
        run: Callable[[], Awaitable[Any]],
        next_at: Callable[[AsyncSession], Awaitable[datetime | None]],
        not_before: datetime | None,
    ) -> None:
        """Set a one-off job to the moment `next_at` reads from the database (not before
        `not_before`, now at the earliest), or remove it when nothing is due."""
        async with self._wake_lock:
            async with self.sessionmaker() as session:
                when = await next_at(session)
                await session.commit()
            if when is None:
                with contextlib.suppress(JobLookupError):
                    self.aps.remove_job(job_id)
                return
            self.aps.add_job(
                run,
                "date",
                run_date=max(when, not_before or utcnow()),
                id=job_id,
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
        tz, at = self.reminders.tz, self.reminders.at
        await self._wake(
            "payout-reminders",
            self.run_reminders,
            lambda s: payouts.next_reminder_at(s, tz, at),
            not_before,
        )

    async def run_reminders(self) -> int:
        """Remind coordinators of every pay date whose reminder is due; then set the job for
        the next one. Returns how many notices were written."""
        tz, at = self.reminders.tz, self.reminders.at
        written = await self._write_notices(
            "payout reminders", lambda s: payouts.send_reminders(s, utcnow(), tz, at)
        )
        if self.aps.running:
            await self.wake_reminders(not_before=utcnow() + RETRY_FAILED)
        return written

    async def wake_digest(self, not_before: datetime | None = None) -> None:
        """Set the price digest's job to today's digest time if today's is still to send (now,
        if it passed: missed while the bot was down), else to tomorrow's."""
        rules = self.price_rules
        await self._wake(
            "price-digest",
            self.run_digest,
            lambda s: price_pushes.next_digest_at(s, utcnow(), rules),
            not_before,
        )

    async def run_digest(self) -> int:
        """Send today's price digest if it is due and nobody sent it; then set the job for the
        next one. Returns how many notices were written."""
        rules = self.price_rules
        written = await self._write_notices(
            "price digest", lambda s: price_pushes.digest(s, utcnow(), rules)
        )
        if self.aps.running:
            await self.wake_digest(not_before=utcnow() + RETRY_FAILED)
        return written

    async def run_alerts(self) -> int:
        """Alert subscribers of prices that moved more than PRICE_ALERT_PERCENT since they
        were last pushed. Returns how many notices were written."""
        rules = self.price_rules
        return await self._write_notices(
            "price alerts", lambda s: price_pushes.alerts(s, utcnow(), rules)
        )

    def wake_alerts(self) -> None:
        """Scan for price alerts now (after a price was stored) instead of within a minute."""
        with contextlib.suppress(JobLookupError):
            self.aps.modify_job("price-alerts", next_run_time=utcnow())

    async def _write_notices(
        self, what: str, work: Callable[[AsyncSession], Awaitable[int]]
    ) -> int:
        """Run `work` in one transaction, taking turns with the other runs; a failure is
        logged (the job is set again and tries later). Returns how many notices it wrote."""
        async with self._run_lock:
            written = 0
            try:
                async with self.sessionmaker() as session, session.begin():
                    written = await work(session)
            except Exception:
                log.exception("%s failed", what)
            if written:
                log.info("%s: %s notices", what, written)
                self.on_notices()
        return written

    async def wake_feed(self, not_before: datetime | None = None) -> None:
        """Set the price feed's job to its next attempt in the database (now, if due)."""
        if self.feed is None or self._feed_running:
            return
        every = self.feed.every

        async def next_at(session: AsyncSession) -> datetime:
            return price_feed.next_run(await price_feed.state(session), every, utcnow())

        await self._wake("price-feed", self.run_feed, next_at, not_before)

    async def run_feed(self) -> price_feed.Outcome | None:
        """Fetch the feed (no transaction open, not holding up the other jobs), then store
        what came of it; then set the job for the next attempt."""
        if self.feed is None:
            return None
        self._feed_running = True
        outcome = None
        try:
            fetched = await price_feed.fetch(self.feed)
            async with self._run_lock:
                async with self.sessionmaker() as session, session.begin():
                    outcome = await price_feed.store(session, fetched, self.feed)
        except Exception:  # tried again shortly; the next resync sets the job again
            log.exception("price feed run failed")
        finally:
            self._feed_running = False
        if outcome is not None and outcome.told:
            self.on_notices()
        if outcome is not None and len(outcome.stored) > len(outcome.held):
            self.wake_alerts()  # a live price moved: its alert need not wait for the scan
        if self.aps.running:
            # A run that could not store waits as a failed fetch would, not hammering the feed.
            retry = RETRY_FAILED if outcome is not None else price_feed.FIRST_RETRY
            await self.wake_feed(not_before=utcnow() + retry)
        return outcome

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
