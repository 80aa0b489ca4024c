"""Claiming due notices and giving back the claims nobody will use.

Notices are claimed in batches (FOR UPDATE SKIP LOCKED on PostgreSQL, so several processes
never claim the same notice), lowest priority number first (personal before broadcast
notices), then by due time. A claim reserves its recipient until its lease ends
(users.next_notice_at, shared by every process); a claim the process did not live to use
expires and returns, at once when the process that held it is known to be dead (a restart on
the same host).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.models import Notice, NoticeStatus, User, utcnow
from bot.notices.liveness import worker_alive

T = TypeVar("T")


class Transact(Protocol):
    """Runs `work` in one write transaction and returns its result."""

    def __call__(self, work: Callable[[Connection], T]) -> Awaitable[T]: ...


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
    lease_until: datetime  # with the worker id, names this claim (bot/notices/outcomes.py)


class Claims:
    """The claims of one dispatcher (worker_id) on one database."""

    def __init__(
        self,
        engine: AsyncEngine,
        worker_id: str,
        *,
        sqlite: bool,
        host_tag: str | None,
        lease: float,
        chat_interval: float,
        transact: Transact | None = None,
    ) -> None:
        self.engine = engine
        self._transact: Transact = transact or self._in_engine
        self.worker_id = worker_id
        self.sqlite = sqlite
        self.host_tag = host_tag
        self.lease = lease
        self.chat_interval = chat_interval

    async def _in_engine(self, work: Callable[[Connection], T]) -> T:
        async with self.engine.begin() as conn:
            return await conn.run_sync(work)

    async def claim(self, limit: int) -> list[Claimed]:
        """Claim up to `limit` due notices, at most one per recipient, and reserve their
        recipients (no other claim takes a notice of theirs until the outcome is in)."""
        now = utcnow()
        lease_until = now + timedelta(seconds=self.lease)
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
            # Personal notices first (bot/outbox.py priorities), then by due time: the due
            # index's own order (status, priority, next_attempt_at), read in order with no
            # sort of every pending notice per claim (ordering by id as well made PostgreSQL
            # hash-join and sort them all: 59 ms instead of 1 ms per claim with 50,000
            # pending). SQLite breaks ties by id anyway.
            .order_by(Notice.priority, Notice.next_attempt_at)
            # A second notice to a recipient of this batch is skipped (and read again by the
            # next claim, when the recipient is no longer reserved).
            .limit(limit)
        )
        if not self.sqlite:
            query = query.with_for_update(of=[Notice.__table__, User.__table__], skip_locked=True)

        def work(conn: Connection) -> list[Claimed]:
            claimed: list[Claimed] = []
            recipients: set[int] = set()
            for row in conn.execute(query):
                notice_id, kind, payload, attempts, broadcast_id, user_id, chat_id, locale = row
                notice = Claimed(
                    notice_id,
                    kind,
                    payload,
                    attempts,
                    broadcast_id,
                    user_id,
                    chat_id,
                    locale,
                    lease_until,
                )
                if notice.recipient_id not in recipients:
                    claimed.append(notice)
                    recipients.add(notice.recipient_id)
            if not claimed:
                return []
            conn.execute(
                update(Notice)
                .where(Notice.id.in_([notice.id for notice in claimed]))
                .values(
                    status=NoticeStatus.CLAIMED,
                    claimed_by=self.worker_id,
                    lease_until=lease_until,
                )
            )
            conn.execute(
                update(User).where(User.id.in_(recipients)).values(next_notice_at=lease_until)
            )
            return claimed

        return await self._transact(work)

    async def requeue(self, ids: list[int], delay: float) -> None:
        """Unsent claims back to the queue; their recipients are free again."""
        if not ids:
            return
        now = utcnow()
        mine = and_(
            Notice.id.in_(ids),
            Notice.status == NoticeStatus.CLAIMED,
            Notice.claimed_by == self.worker_id,
        )

        def work(conn: Connection) -> None:
            conn.execute(
                update(User)
                .where(User.id.in_(select(Notice.recipient_id).where(mine)))
                .values(next_notice_at=now)
            )
            conn.execute(
                update(Notice)
                .where(mine)
                .values(
                    status=NoticeStatus.PENDING,
                    claimed_by=None,
                    lease_until=None,
                    next_attempt_at=now + timedelta(seconds=delay),
                )
            )

        await self._transact(work)

    async def requeue_mine(self) -> None:
        """After a failure inside a batch: whatever this dispatcher still claims goes back.
        The one notice whose outcome could not be recorded may have gone out: it is the one
        message in flight, the only one that can be sent twice."""
        async with self.engine.begin() as conn:
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
        await self.requeue(ids, delay=0)

    async def release(self, *, all_of_them: bool = False) -> int:
        """Return claims to the queue: all of them when this is the only dispatcher (SQLite),
        else those whose lease ran out or whose process is known to be dead."""
        claimed = Notice.status == NoticeStatus.CLAIMED
        now = utcnow()
        condition: ColumnElement[bool] = claimed
        if not all_of_them:
            dead = await self.dead_workers()
            expired = Notice.lease_until < now
            condition = and_(
                claimed, or_(expired, Notice.claimed_by.in_(dead)) if dead else expired
            )

        def work(conn: Connection) -> int:
            # The dead process may have sent to these chats a moment ago: space them again.
            conn.execute(
                update(User)
                .where(User.id.in_(select(Notice.recipient_id).where(condition)))
                .values(next_notice_at=now + timedelta(seconds=self.chat_interval))
            )
            result = conn.execute(
                update(Notice)
                .where(condition)
                .values(status=NoticeStatus.PENDING, claimed_by=None, lease_until=None)
            )
            return int(result.rowcount or 0)

        return await self._transact(work)

    async def dead_workers(self) -> list[str]:
        tag = self.host_tag
        if tag is None:
            return []
        async with self.engine.begin() as conn:
            rows = await conn.execute(
                select(Notice.claimed_by)
                .where(
                    Notice.status == NoticeStatus.CLAIMED,
                    Notice.claimed_by.like(f"%@{tag}:%"),
                )
                .distinct()
            )
            workers = [str(worker) for worker in rows.scalars()]
        return [w for w in workers if not worker_alive(w, tag)]
