"""Delivers the outbox to Telegram: the one place that sends what services wrote.

Sending is sequential, one message at a time, and each delivery is recorded (its own small
transaction) before the next message goes out, so killing the process leaves at most the one
message in flight unrecorded: after a restart it is the only one that can be sent twice.
Notices are claimed in batches (FOR UPDATE SKIP LOCKED on PostgreSQL, so several processes
never claim the same notice); a claim the process did not live to use expires and returns, at
once when the process that held it is known to be dead (a restart on the same host).

Per-chat spacing lives in users.next_notice_at, shared by every process: a claim reserves the
recipient until its lease ends, and recording the outcome sets when the next message to that
chat may go (the end of this send plus the chat interval), in the same transaction.

The global rate is a Pacer (slots 1/rate apart that make up for late wake-ups, within a
sliding one-second window of at most `rate` messages). Outcomes are written by a writer made
for the database: on SQLite its own sqlite3 connection, on PostgreSQL one autocommit
statement on a kept connection; on SQLite one dispatcher runs per database file (an advisory
file lock; a second process's dispatcher waits for it). README, "Performance", has the
figures these choices are measured by.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import logging
import os
import socket
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.utils.i18n import I18n
from sqlalchemy import ColumnElement, Table, and_, or_, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.broadcast_cancels import CancelledBroadcasts
from bot.broadcast_progress import ProgressReporter, ProgressView
from bot.db import is_sqlite
from bot.models import Broadcast, Notice, NoticeStatus, User, utcnow
from bot.notice_texts import DEFAULT_PROGRAMME, Rendered, UnknownNotice, render
from bot.outbox import mark_blocked

log = logging.getLogger(__name__)

TRANSIENT = (TelegramNetworkError, TelegramServerError)


def _transient(exc: BaseException) -> bool:
    """Worth sending again: a network error or a 5xx (a 413 is a network error to aiogram,
    but the same request would fail the same way)."""
    return isinstance(exc, TRANSIENT) and not isinstance(exc, TelegramEntityTooLarge)


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    broadcast_id: int | None
    recipient_id: int
    chat_id: int
    locale: str | None


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
    programme: str = DEFAULT_PROGRAMME  # named in every announcement's heading


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


# ---------------------------------------------------------------------- outcome writers


class _EngineWriter:
    """Records an outcome in one transaction through the engine (in-memory SQLite)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(
        self, notice_id: int, values: dict[str, Any], user_id: int, user_next: datetime | None
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(Notice).where(Notice.id == notice_id).values(**values))
            if user_next is not None:
                await conn.execute(
                    update(User).where(User.id == user_id).values(next_notice_at=user_next)
                )

    async def close(self) -> None:
        return None


class _PostgresWriter:
    """Records an outcome as one statement (the notice's UPDATE in a WITH, the user's after
    it: atomic on its own), in autocommit on a connection kept for it: one round trip per
    message instead of a pool checkout, BEGIN, two UPDATEs and COMMIT (0.7 ms instead of
    1.1 ms on a local server; 1,000/s drains went from 364/s to 670/s)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._conn: AsyncConnection | None = None

    async def record(
        self, notice_id: int, values: dict[str, Any], user_id: int, user_next: datetime | None
    ) -> None:
        notice = update(Notice).where(Notice.id == notice_id).values(**values)
        statement: Any = notice
        if user_next is not None:
            statement = (
                update(User)
                .where(User.id == user_id)
                # updated_at given: its onupdate default came out NULL in this form
                .values(next_notice_at=user_next, updated_at=utcnow())
                .add_cte(notice.cte("notice"))
            )
        for attempt in (1, 2):
            if self._conn is None:
                conn = await self.engine.connect()
                self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            try:
                await self._conn.execute(statement)
                await self._conn.commit()
                return
            except DBAPIError as exc:
                # A connection lost meanwhile (a database restart): once more on a new one;
                # the statement sets values, so running it twice changes nothing.
                await self.close()
                if attempt == 2 or not exc.connection_invalidated:
                    raise

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.close()


class _SqliteWriter:
    """Records an outcome through a sqlite3 connection of its own, on a thread of its own.

    The same transaction as _EngineWriter (BEGIN IMMEDIATE, two UPDATEs, COMMIT) in one thread
    hop instead of the ten or so of an aiosqlite transaction through SQLAlchemy (0.1 ms
    instead of 1 ms a message). Values go through the columns' SQLAlchemy bind processors,
    so they are stored exactly as the ORM stores them (enum values, datetime text).
    """

    def __init__(self, path: str, dialect: Dialect) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="notice-writer")
        self._conn: sqlite3.Connection | None = None  # only used on the executor's thread
        self._processors: dict[tuple[str, str], Callable[[Any], Any] | None] = {}
        for table in (Notice.__table__, User.__table__):
            assert isinstance(table, Table)
            for column in table.columns:
                processor = column.type.dialect_impl(dialect).bind_processor(dialect)
                self._processors[(table.name, column.name)] = processor

    def _statement(
        self, table: str, values: dict[str, Any], row_id: int
    ) -> tuple[str, tuple[Any, ...]]:
        names = sorted(values)
        params = []
        for name in names:
            processor = self._processors[(table, name)]
            params.append(processor(values[name]) if processor else values[name])
        assignments = ", ".join(f"{name} = ?" for name in names)
        return f"UPDATE {table} SET {assignments} WHERE id = ?", (*params, row_id)

    def _write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        if self._conn is None:
            self._conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA synchronous=NORMAL")
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                conn.execute(sql, params)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def record(
        self, notice_id: int, values: dict[str, Any], user_id: int, user_next: datetime | None
    ) -> None:
        statements = [self._statement("notices", values, notice_id)]
        if user_next is not None:
            statements.append(self._statement("users", {"next_notice_at": user_next}, user_id))
        loop = asyncio.get_running_loop()
        # Shielded: if the caller is cancelled meanwhile, the write still completes.
        await asyncio.shield(loop.run_in_executor(self._executor, self._write, statements))

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)


# ---------------------------------------------------------------------- who is who


_LIVE_WORKERS: set[str] = set()  # worker ids of the dispatchers running in this process
_instances = itertools.count(1)


def _host_tag() -> str | None:
    """Names this kernel boot and PID namespace: processes with the same tag can see each
    other's PIDs, so a claim left by a dead one can be taken back without waiting."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot[:10]}.{namespace.strip('pid:[]')}"


def _worker_id(tag: str | None) -> str:
    local = f"{os.getpid()}.{next(_instances)}"
    return (f"{local}@{tag}:" if tag else f"{local}:") + socket.gethostname()


def _worker_alive(worker_id: str, tag: str) -> bool:
    """False only when worker_id is certainly gone: a process of this host and namespace
    that no longer exists, or an earlier dispatcher of this very process."""
    head, _, rest = worker_id.partition("@")
    if not rest.startswith(f"{tag}:"):
        return True  # another host or namespace: its lease decides
    if worker_id in _LIVE_WORKERS:
        return True
    try:
        pid = int(head.split(".")[0])
    except ValueError:
        return True
    if pid == os.getpid():
        return False  # this process, but no dispatcher of it holds that id: a previous life
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class _SqliteLock:
    """One dispatcher per SQLite database: an advisory lock on a file beside it, released by
    the kernel when the holder dies."""

    def __init__(self, database: str) -> None:
        self.path = f"{database}.dispatcher-lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# ---------------------------------------------------------------------- the dispatcher


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
        self.progress_view = progress_view
        self._host_tag = _host_tag()
        self.worker_id = (worker_id or _worker_id(self._host_tag))[:64]
        self.batch = max(1, min(500, int(self.options.rate)))  # about a second of sending
        self.pacer = Pacer(self.options.rate)
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
        self._lock = _SqliteLock(database) if database else None
        self._writer: _EngineWriter | _PostgresWriter | _SqliteWriter
        if database:
            self._writer = _SqliteWriter(database, self._engine.dialect)
        elif self._engine.dialect.name == "postgresql":
            self._writer = _PostgresWriter(self._engine)
        else:
            self._writer = _EngineWriter(self._engine)
        self._paused_until = 0.0
        self._broadcasts: dict[int, Broadcast] = {}
        self._cancelled = CancelledBroadcasts(self._engine, self.options.cancel_recheck)
        self._progress = ProgressReporter(bot, sessionmaker, i18n, progress_view, self.wake)
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self._active = False  # sends: not waiting for another dispatcher's database lock

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._stop.clear()
        _LIVE_WORKERS.add(self.worker_id)
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
            _LIVE_WORKERS.discard(self.worker_id)

    def wake(self) -> None:
        """New notices were written: look now instead of at the next idle tick."""
        self._wake.set()

    async def _take_over(self) -> None:
        """Claims nobody will use go back to the queue: on SQLite (the lock says this is the
        only dispatcher) all of them, else those of dead processes and expired leases."""
        if self.sqlite:
            released = await self.release_claims(all_of_them=True)
        else:
            released = await self.release_claims()
        if released:
            log.info("%s claimed notices returned to the queue", released)

    async def release_claims(self, *, all_of_them: bool = False) -> int:
        """Return claims to the queue: all of them when this is the only dispatcher (SQLite),
        else those whose lease ran out or whose process is known to be dead."""
        claimed = Notice.status == NoticeStatus.CLAIMED
        now = utcnow()
        condition: ColumnElement[bool] = claimed
        if not all_of_them:
            dead = await self._dead_workers()
            expired = Notice.lease_until < now
            condition = and_(
                claimed, or_(expired, Notice.claimed_by.in_(dead)) if dead else expired
            )
        async with self._engine.begin() as conn:
            # The dead process may have sent to these chats a moment ago: space them again.
            await conn.execute(
                update(User)
                .where(User.id.in_(select(Notice.recipient_id).where(condition)))
                .values(next_notice_at=now + timedelta(seconds=self.options.chat_interval))
            )
            result = await conn.execute(
                update(Notice)
                .where(condition)
                .values(status=NoticeStatus.PENDING, claimed_by=None, lease_until=None)
            )
        return int(result.rowcount or 0)

    async def _dead_workers(self) -> list[str]:
        if self._host_tag is None:
            return []
        async with self._engine.begin() as conn:
            rows = await conn.execute(
                select(Notice.claimed_by)
                .where(
                    Notice.status == NoticeStatus.CLAIMED,
                    Notice.claimed_by.like(f"%@{self._host_tag}:%"),
                )
                .distinct()
            )
            workers = [str(worker) for worker in rows.scalars()]
        return [w for w in workers if not _worker_alive(w, self._host_tag)]

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
        while not self._stop.is_set():
            try:
                if not self.sqlite and time.monotonic() - last_release > self.options.lease / 4:
                    await self.release_claims()
                    last_release = time.monotonic()
                await self._respect_pause()
                if self._stop.is_set():
                    break
                self._wake.clear()  # a wake() from now on is not lost
                batch = await self.claim()
                if not batch:
                    await self._idle()
                    continue
                await self.deliver_batch(batch)
            except Exception:  # the loop must outlive any one failure; the database keeps state
                log.exception("notice dispatcher iteration failed")
                with contextlib.suppress(Exception):
                    await self._requeue_mine()
                await self._sleep(max(1.0, self.options.idle))

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self.options.idle)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, unless the dispatcher is stopped meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def claim(self) -> list[Claimed]:
        """Claim up to a second's worth of due notices, at most one per recipient, and reserve
        their recipients (no other claim takes a notice of theirs until the outcome is in)."""
        now = utcnow()
        lease_until = now + timedelta(seconds=self.options.lease)
        query = (
            select(
                Notice.id,
                Notice.kind,
                Notice.payload,
                Notice.attempts,
                Notice.broadcast_id,
                User.id,
                User.telegram_id,
                User.language,
            )
            .join(User, User.id == Notice.recipient_id)
            .where(
                Notice.status == NoticeStatus.PENDING,
                Notice.next_attempt_at <= now,
                or_(User.next_notice_at.is_(None), User.next_notice_at <= now),
            )
            # The due index's own order: read in order, no sort of every pending notice per
            # claim (ordering by id as well made PostgreSQL hash-join and sort them all: 59 ms
            # instead of 1 ms per claim with 50,000 pending). SQLite breaks ties by id anyway.
            .order_by(Notice.next_attempt_at)
            # A second notice to a recipient of this batch is skipped (and read again by the
            # next claim, when the recipient is no longer reserved).
            .limit(self.batch)
        )
        if not self.sqlite:
            query = query.with_for_update(of=[Notice.__table__, User.__table__], skip_locked=True)
        claimed: list[Claimed] = []
        recipients: set[int] = set()
        async with self._engine.begin() as conn:
            for row in await conn.execute(query):
                notice = Claimed(*row)
                if notice.recipient_id not in recipients:
                    claimed.append(notice)
                    recipients.add(notice.recipient_id)
            if not claimed:
                return []
            await conn.execute(
                update(Notice)
                .where(Notice.id.in_([notice.id for notice in claimed]))
                .values(
                    status=NoticeStatus.CLAIMED,
                    claimed_by=self.worker_id,
                    lease_until=lease_until,
                )
            )
            await conn.execute(
                update(User).where(User.id.in_(recipients)).values(next_notice_at=lease_until)
            )
        return claimed

    async def deliver_batch(self, batch: list[Claimed]) -> None:
        usable_until = time.monotonic() + self._claim_use
        for index, notice in enumerate(batch):
            if self._stop.is_set() or time.monotonic() > usable_until:
                # Stopping, or the claim is too old to be sure a send would end inside the
                # lease: the rest goes back to the queue, for this process or another.
                await self._requeue([n.id for n in batch[index:]], delay=0)
                return
            await self._respect_pause()
            paused = await self.deliver(notice)
            if paused:
                # Telegram asked us to wait: the rest of the batch waits in the queue, so no
                # claim is held longer than the pause.
                await self._requeue([n.id for n in batch[index + 1 :]], delay=paused)
                return

    async def _respect_pause(self) -> None:
        delay = self._paused_until - time.monotonic()
        if delay > 0:
            await self._sleep(delay)

    def _pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        self.pacer.pause_until(self._paused_until)

    async def deliver(self, notice: Claimed) -> float:
        """Send one notice and record the outcome; returns a pause Telegram asked for."""
        if await self._skip_cancelled(notice):
            return 0
        locale = notice.locale or self.i18n.default_locale
        try:
            rendered = render(
                notice.kind,
                notice.payload,
                locale,
                self.i18n,
                await self._broadcast(notice.broadcast_id),
                programme=self.options.programme,
            )
        except UnknownNotice as exc:
            await self._finish(notice, NoticeStatus.FAILED, error=f"cannot render: {exc}")
            return 0
        await self.pacer.acquire()
        try:
            await self._send(notice.chat_id, rendered)
        except TelegramRetryAfter as exc:
            log.warning("Telegram asked to wait %ss", exc.retry_after)
            self._pause(exc.retry_after)
            await self._requeue([notice.id], delay=exc.retry_after)
            return float(exc.retry_after)
        except TelegramForbiddenError:
            async with self.sessionmaker() as session, session.begin():
                await mark_blocked(session, notice.recipient_id)
        except TelegramUnauthorizedError as exc:
            # The token was revoked: nothing can be sent; keep everything for a new one.
            log.error("the Bot API refused the token (%s); sending paused", exc.message)
            self._pause(self.options.unauthorized_pause)
            await self._requeue([notice.id], delay=self.options.unauthorized_pause)
            return self.options.unauthorized_pause
        except TelegramBadRequest as exc:
            await self._finish(notice, NoticeStatus.FAILED, error=exc.message)
        except TRANSIENT as exc:
            if _transient(exc):
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
        return 0

    async def _skip_cancelled(self, notice: Claimed) -> bool:
        """A notice of a cancelled broadcast is not sent, even one claimed before the cancel:
        it is recorded as cancelled (neither sent nor failed) and its recipient is free."""
        if notice.broadcast_id is None or not await self._cancelled(notice.broadcast_id):
            return False
        values = {"status": NoticeStatus.CANCELLED, "lease_until": None}
        await self._writer.record(notice.id, values, notice.recipient_id, utcnow())
        return True

    async def _send(self, chat_id: int, rendered: Rendered) -> None:
        """Send one message; a network error or a 5xx is tried again after a short backoff
        (0.2 s, 0.4 s, ...), network_retries attempts in all. (A plain loop: tenacity cost
        0.06 ms per message even when nothing failed, 6% of the time per message at 1,000/s.)
        """
        timeout = int(self.options.request_timeout)
        for attempt in range(1, self.options.network_retries + 1):
            try:
                if rendered.photo_file_id:
                    await self.bot.send_photo(
                        chat_id,
                        rendered.photo_file_id,
                        caption=rendered.text or None,
                        request_timeout=timeout,
                    )
                else:
                    await self.bot.send_message(chat_id, rendered.text, request_timeout=timeout)
                return
            except TRANSIENT as exc:
                if not _transient(exc) or attempt >= self.options.network_retries:
                    raise
                log.info("send to %s failed (%s); trying again", chat_id, exc)
            await asyncio.sleep(min(2.0, 0.2 * 2 ** (attempt - 1)))

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
        await self._writer.record(notice.id, values, notice.recipient_id, self._next_for_chat())

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
        await self._writer.record(notice.id, values, notice.recipient_id, self._next_for_chat())

    async def _requeue(self, ids: list[int], delay: float) -> None:
        """Unsent claims back to the queue; their recipients are free again."""
        if not ids:
            return
        now = utcnow()
        mine = and_(
            Notice.id.in_(ids),
            Notice.status == NoticeStatus.CLAIMED,
            Notice.claimed_by == self.worker_id,
        )
        async with self._engine.begin() as conn:
            await conn.execute(
                update(User)
                .where(User.id.in_(select(Notice.recipient_id).where(mine)))
                .values(next_notice_at=now)
            )
            await conn.execute(
                update(Notice)
                .where(mine)
                .values(
                    status=NoticeStatus.PENDING,
                    claimed_by=None,
                    lease_until=None,
                    next_attempt_at=now + timedelta(seconds=delay),
                )
            )

    async def _requeue_mine(self) -> None:
        """After a failure inside a batch: whatever this dispatcher still claims goes back.
        The one notice whose outcome could not be recorded may have gone out: it is the one
        message in flight, the only one that can be sent twice."""
        async with self._engine.begin() as conn:
            ids = list(
                (
                    await conn.execute(
                        select(Notice.id).where(
                            Notice.status == NoticeStatus.CLAIMED,
                            Notice.claimed_by == self.worker_id,
                        )
                    )
                ).scalars()
            )
        await self._requeue(ids, delay=0)

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
