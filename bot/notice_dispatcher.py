"""Delivers the outbox to Telegram: the one place that sends what services wrote.

Sends overlap: a window of them is in flight (as many as the rate times the measured round
trip needs, at most `max_in_flight`), and each outcome is recorded (its own small
transaction) as its answer returns. Killing the process therefore leaves at most the window
unrecorded: after a restart those are the only messages that can be sent twice.

This module runs the loop (claim a batch, pace, send, record) and decides what each of
Telegram's answers means; the parts live in bot/notices/: claims (batches claimed, unused
claims returned), pacing (the global rate, shared with replies), window (the sends in
flight), sending (one request and its immediate retries), outcomes (the writers that record
them, only under a claim still held), liveness (worker ids, the SQLite lock) and progress
(broadcast progress messages). Per-chat spacing lives in users.next_notice_at, shared by
every process: a claim reserves the recipient until its lease ends, and recording the
outcome sets when the next message to that chat may go (the end of this send plus the chat
interval), in the same transaction. README, "Performance", has the figures these choices are
measured by.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.broadcast_cancels import CancelledBroadcasts
from bot.broadcast_progress import ProgressReporter, ProgressView
from bot.db import is_sqlite
from bot.models import Broadcast, NoticeStatus, utcnow
from bot.notice_texts import DEFAULT_PROGRAMME, Rendered, UnknownNotice, render
from bot.notices import liveness
from bot.notices.claims import Claimed, Claims
from bot.notices.outcomes import Held, OutcomeWriter, SqliteWriter, make_writer
from bot.notices.pacing import SENDING_NOTICE, Pacer
from bot.notices.sending import TRANSIENT, is_transient, send
from bot.notices.window import Window
from bot.outbox import mark_blocked

__all__ = ["Claimed", "DispatcherOptions", "NoticeDispatcher", "Pacer", "ProgressView"]

log = logging.getLogger(__name__)


@dataclass
class DispatcherOptions:
    rate: float = 30.0  # messages per second, all chats together
    chat_interval: float = 1.0  # seconds between two messages to one chat
    lease: float = 60.0  # how long a claim is kept by a process that may have died
    idle: float = 0.25  # how often an empty outbox is looked at again
    progress_every: float = 2.0  # how often live broadcast progress is edited
    cancel_recheck: float = 0.1  # how stale "not cancelled" may be when a broadcast's notice goes
    max_attempts: int = 8  # transient failures before a notice is given up as failed
    network_retries: int = 3  # immediate attempts of one send on a network error or 5xx
    request_timeout: float = 10.0  # one HTTP request to the Bot API
    unauthorized_pause: float = 60.0  # sending stops this long when the token is refused
    max_in_flight: int = 200  # sends awaiting their answer, at most (a kill resends these)
    programme: str = DEFAULT_PROGRAMME  # named in every announcement's heading
    timezone: str = "Asia/Shanghai"  # the programme's zone: times in notices are shown in it


# How much sending one claim takes, in seconds at the configured rate.
CLAIM_SPAN = 0.5


def claim_batch(rate: float) -> int:
    """How many notices one claim takes: half a second of sending, at most 500.

    This bounds how long a personal notice waits behind a broadcast. Claims read personal
    notices first, and the next claim begins as soon as every notice of the current batch
    has its slot in the pacer. So a personal notice written while a broadcast drains has
    at most one batch of broadcast notices ahead of it: half a second (15 messages at
    30/s), plus the sends already in flight (the window: started before it was written,
    they only wait for their answer), plus its chat's interval when that chat had a notice
    a moment ago. Batches of a whole second took twice as long at 30/s. Smaller batches buy
    little more: each claim is one transaction, and at 1,000/s the cap of 500 already
    means two claims a second."""
    return max(1, min(500, math.ceil(rate * CLAIM_SPAN)))


_heap = {"frozen": False}


def _freeze_startup_heap() -> None:
    """What exists when the first dispatcher starts (modules, models, catalogs, the app) lives
    as long as the process: collected once and frozen, the garbage collector's full passes no
    longer walk it. They stopped sending for up to 0.24 s at a time at 1,000/s with sends in
    flight. Once per process, so that later garbage is still collected."""
    if not _heap["frozen"]:
        gc.collect()
        gc.freeze()
        _heap["frozen"] = True


class NoticeDispatcher:
    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        i18n: I18n,
        options: DispatcherOptions | None = None,
        *,
        progress_view: ProgressView | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.i18n = i18n
        self.options = options or DispatcherOptions()
        self._host_tag = liveness.host_tag()
        self.worker_id = (worker_id or liveness.new_worker_id(self._host_tag))[:64]
        self.batch = claim_batch(self.options.rate)
        self.pacer = Pacer(self.options.rate)
        self.window = Window(self.options.rate, self.options.max_in_flight)
        # A claim is used only while a send started now still ends inside its lease.
        self._send_budget = self.options.network_retries * (self.options.request_timeout + 2.0)
        self._claim_use = self.options.lease - self._send_budget
        if self._claim_use < 1.0:
            raise ValueError("the lease must outlast the longest send (retries x timeout)")
        self._engine: AsyncEngine = sessionmaker.kw["bind"]
        self.sqlite = is_sqlite(str(self._engine.url))
        database = self._engine.url.database or "" if self.sqlite else ""
        if database in ("", ":memory:") or database.startswith("file:"):
            database = ""  # not a plain file: no lock, writes through the engine
        self._lock = liveness.SqliteLock(database) if database else None
        self._writer: OutcomeWriter = make_writer(self._engine, database)
        self.claims = Claims(
            self._engine,
            self.worker_id,
            sqlite=self.sqlite,
            host_tag=self._host_tag,
            lease=self.options.lease,
            chat_interval=self.options.chat_interval,
            # On a SQLite file, claims go through the outcome writer's own connection.
            transact=self._writer.transact if isinstance(self._writer, SqliteWriter) else None,
        )
        self._cancelled = CancelledBroadcasts(self._engine, self.options.cancel_recheck)
        self._progress = ProgressReporter(bot, sessionmaker, i18n, progress_view, self.wake)
        self._paused_until = 0.0
        self._broadcasts: dict[int, Broadcast] = {}
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._claim_round = 0  # claims begun
        self._idle_round = 0  # the last claim that found nothing, with nothing in flight
        self._became_idle = asyncio.Event()
        self._running = False
        self._active = False  # sends: not waiting for another dispatcher's database lock

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        _freeze_startup_heap()
        self._stop.clear()
        liveness.LIVE_WORKERS.add(self.worker_id)
        self._running = True
        self._active = self._lock is None or self._lock.acquire()
        if self._active:
            await self._take_over()
        else:
            log.warning(
                "another notice dispatcher uses %s; this one waits until it stops",
                self._engine.url.database,
            )
        self._tasks = [
            asyncio.create_task(self._run(), name="notice-dispatcher"),
            # Always: it also finishes broadcasts, with or without a progress view.
            asyncio.create_task(self._progress_loop(), name="notice-progress"),
        ]

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._running:
            self._running = self._active = False
            await self._writer.close()
            if self._lock is not None:
                self._lock.release()
            liveness.LIVE_WORKERS.discard(self.worker_id)

    def wake(self) -> None:
        """New notices were written: look now instead of at the next idle tick."""
        self._wake.set()

    async def _take_over(self) -> None:
        """Claims nobody will use go back to the queue: on SQLite (the lock says this is the
        only dispatcher) all of them, else those of dead processes and expired leases."""
        released = await self.release_claims(all_of_them=self.sqlite)
        if released:
            log.info("%s claimed notices returned to the queue", released)

    async def release_claims(self, *, all_of_them: bool = False) -> int:
        """Return claims to the queue: all of them when this is the only dispatcher (SQLite),
        else those whose lease ran out or whose process is known to be dead."""
        return await self.claims.release(all_of_them=all_of_them)

    async def claim(self) -> list[Claimed]:
        """Claim up to half a second's worth of due notices (personal ones first), at most
        one per recipient."""
        return await self.claims.claim(self.batch)

    # ------------------------------------------------------------------ delivery loop

    async def _run(self) -> None:
        while not self._active and not self._stop.is_set():
            await self._sleep(max(1.0, self.options.idle))
            assert self._lock is not None
            if self._lock.acquire():
                log.info("notice dispatcher takes over %s", self._engine.url.database)
                with contextlib.suppress(Exception):
                    await self._take_over()
                self._active = True
        last_release = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    if not self.sqlite and time.monotonic() - last_release > self.options.lease / 4:
                        await self.release_claims()
                        last_release = time.monotonic()
                    await self._respect_pause()
                    if self._stop.is_set():
                        break
                    self._wake.clear()  # a wake() from now on is not lost
                    self._claim_round += 1
                    claim_round = self._claim_round
                    batch = await self.claim()
                    if not batch:
                        if self.window.in_flight == 0:
                            self._idle_round = claim_round
                            self._became_idle.set()
                        await self._idle()
                        continue
                    await self.deliver_batch(batch)
                except Exception:  # the loop outlives any one failure; the database keeps state
                    log.exception("notice dispatcher iteration failed")
                    with contextlib.suppress(Exception):
                        # Every outcome in, what this dispatcher still claims is unsent.
                        await self.window.drained()
                        await self.claims.requeue_mine()
                    await self._sleep(max(1.0, self.options.idle))
        finally:
            await self.window.drained()  # the sends in flight end and are recorded

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self.options.idle)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, unless the dispatcher is stopped meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def wait_idle(self, within: float = 10.0) -> None:
        """Until a claim that began after this call found nothing due, with no send in flight
        (TimeoutError after `within` seconds): what tests wait on instead of a quiet time."""
        since = self._claim_round
        self.wake()
        async with asyncio.timeout(within):
            while self._idle_round <= since:
                self._became_idle.clear()
                await self._became_idle.wait()

    async def deliver_batch(self, batch: list[Claimed]) -> None:
        """Start each notice's send as the window and the pacer allow; the outcomes are
        recorded as the answers return, while the next batch is claimed and sent."""
        usable_until = time.monotonic() + self._claim_use
        for index, notice in enumerate(batch):
            await self.window.enter()
            await self.pacer.acquire()
            stopping = self._stop.is_set() or time.monotonic() > usable_until
            pause = self._paused_until - time.monotonic()
            if stopping or pause > 0:
                # Stopping, the claim too old to be sure a send would end inside the lease,
                # or Telegram asked us to wait (no claim is held longer than the pause): the
                # rest goes back to the queue, for this process or another.
                await self.window.leave(None)
                await self._requeue([n.id for n in batch[index:]], delay=max(0.0, pause))
                return
            # Asked right before the send starts: not before waiting for room in the window.
            rendered = None
            if not await self._skip_cancelled(notice):
                rendered = await self._render(notice)
            if rendered is None:
                await self.window.leave(None)
                continue
            task = asyncio.create_task(self._deliver(notice, rendered))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _respect_pause(self) -> None:
        delay = self._paused_until - time.monotonic()
        if delay > 0:
            await self._sleep(delay)

    def _pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        self.pacer.pause_until(self._paused_until)

    async def _skip_cancelled(self, notice: Claimed) -> bool:
        """A notice of a cancelled broadcast is not sent, even one claimed before the cancel:
        it is recorded as cancelled (neither sent nor failed) and its recipient is free."""
        if notice.broadcast_id is None or not await self._cancelled(notice.broadcast_id):
            return False
        await self._record(
            notice, {"status": NoticeStatus.CANCELLED, "lease_until": None}, utcnow()
        )
        return True

    async def _render(self, notice: Claimed) -> Rendered | None:
        """The notice's text in its recipient's language; None (recorded as failed) when it
        cannot be rendered."""
        locale = notice.locale or self.i18n.default_locale
        try:
            return render(
                notice.kind,
                notice.payload,
                locale,
                self.i18n,
                await self._broadcast(notice.broadcast_id),
                programme=self.options.programme,
                tz=ZoneInfo(self.options.timezone),
            )
        except UnknownNotice as exc:
            await self._finish(notice, NoticeStatus.FAILED, error=f"cannot render: {exc}")
            return None

    async def _deliver(self, notice: Claimed, rendered: Rendered) -> None:
        """One send in the window: its request, its outcome, then its place is free."""
        SENDING_NOTICE.set(True)  # this task's requests took their slot in the pacer
        started = time.monotonic()
        took: float | None = None
        try:
            if await self.deliver(notice, rendered):
                took = time.monotonic() - started
        except Exception:
            log.exception("notice %s: outcome not recorded", notice.id)
            with contextlib.suppress(Exception):
                await self._requeue([notice.id], delay=0)
        finally:
            await self.window.leave(took)

    async def deliver(self, notice: Claimed, rendered: Rendered) -> bool:
        """Send one notice and record the outcome; False when Telegram asked us to wait."""
        try:
            await send(
                self.bot,
                notice.chat_id,
                rendered,
                request_timeout=self.options.request_timeout,
                attempts=self.options.network_retries,
            )
        except TelegramRetryAfter as exc:
            log.warning("Telegram asked to wait %ss", exc.retry_after)
            self._pause(exc.retry_after)
            await self._requeue([notice.id], delay=exc.retry_after)
            return False
        except TelegramForbiddenError:
            async with self.sessionmaker() as session, session.begin():
                await mark_blocked(session, notice.recipient_id)
        except TelegramUnauthorizedError as exc:
            # The token was revoked: nothing can be sent; keep everything for a new one.
            log.error("the Bot API refused the token (%s); sending paused", exc.message)
            self._pause(self.options.unauthorized_pause)
            await self._requeue([notice.id], delay=self.options.unauthorized_pause)
            return False
        except TelegramBadRequest as exc:
            await self._finish(notice, NoticeStatus.FAILED, error=exc.message)
        except TRANSIENT as exc:
            if is_transient(exc):
                await self._retry_later(notice, str(exc))
            else:
                await self._finish(notice, NoticeStatus.FAILED, error=str(exc))
        except TelegramAPIError as exc:
            await self._finish(notice, NoticeStatus.FAILED, error=str(exc))
        except Exception as exc:  # a bug or an unreadable answer: do not send it again
            log.exception("notice %s: unexpected failure", notice.id)
            await self._finish(notice, NoticeStatus.FAILED, error=f"unexpected: {exc!r}")
        else:
            await self._finish(notice, NoticeStatus.SENT)
        return True

    async def _broadcast(self, broadcast_id: int | None) -> Broadcast | None:
        if broadcast_id is None:
            return None
        cached = self._broadcasts.get(broadcast_id)
        if cached is None:
            async with self.sessionmaker() as session:
                cached = await session.get(Broadcast, broadcast_id)
                await session.commit()
            if cached is not None:
                self._broadcasts[broadcast_id] = cached
        return cached

    def _next_for_chat(self) -> datetime:
        return utcnow() + timedelta(seconds=self.options.chat_interval)

    async def _finish(
        self, notice: Claimed, status: NoticeStatus, error: str | None = None
    ) -> None:
        values: dict[str, Any] = {"status": status, "lease_until": None}
        if status == NoticeStatus.SENT:
            values["sent_at"] = utcnow()
        if error is not None:
            values["last_error"] = error[:500]
        await self._record(notice, values)

    async def _retry_later(self, notice: Claimed, error: str) -> None:
        attempts = notice.attempts + 1
        if attempts >= self.options.max_attempts:
            await self._finish(notice, NoticeStatus.FAILED, error=error)
            return
        backoff = min(600.0, 5.0 * 2 ** (attempts - 1))
        values: dict[str, Any] = {
            "status": NoticeStatus.PENDING,
            "attempts": attempts,
            "last_error": error[:500],
            "claimed_by": None,
            "lease_until": None,
            "next_attempt_at": utcnow() + timedelta(seconds=backoff),
        }
        await self._record(notice, values)

    async def _record(
        self, notice: Claimed, values: dict[str, Any], user_next: datetime | None = None
    ) -> None:
        """Write an outcome, and when the recipient's next notice may go, if this dispatcher
        still holds the claim (bot/notices/outcomes.py); else it changes nothing."""
        held = Held(notice.id, self.worker_id, notice.lease_until)
        if not await self._writer.record(
            held, values, notice.recipient_id, user_next or self._next_for_chat()
        ):
            log.warning(
                "notice %s: claim lost before its outcome (%s) came back; not recorded",
                notice.id,
                values["status"],
            )

    async def _requeue(self, ids: list[int], delay: float) -> None:
        await self.claims.requeue(ids, delay)

    # ------------------------------------------------------------------ broadcast progress

    async def _progress_loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self._active:  # a waiting dispatcher (SQLite) leaves it to the other
                    await self.report_progress()
            except Exception:
                log.exception("broadcast progress report failed")
            await self._sleep(self.options.progress_every)

    async def report_progress(self) -> None:
        """Finish the broadcasts whose notices all have their outcome and edit the progress
        messages (bot/broadcast_progress.py)."""
        await self._progress.tick()
