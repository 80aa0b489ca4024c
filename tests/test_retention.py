"""Finished notices and handled update ids are pruned after their retention; work still to do
is never pruned (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from bot.models import Notice, NoticeStatus, ProcessedUpdate, User, utcnow
from bot.scheduler import Retention, Scheduler
from bot.services import retention


async def _seed(session: AsyncSession) -> dict[str, int]:
    """One notice per case, named; returns name -> id."""
    now = utcnow()
    user = User(telegram_id=777)
    session.add(user)
    await session.flush()
    days = timedelta(days=1)
    cases = {
        "old_sent": (NoticeStatus.SENT, now - 41 * days, now - 40 * days),
        "old_failed": (NoticeStatus.FAILED, now - 40 * days, None),
        "old_dropped": (NoticeStatus.DROPPED, now - 40 * days, None),
        "old_cancelled": (NoticeStatus.CANCELLED, now - 40 * days, None),
        "recent_sent": (NoticeStatus.SENT, now - 2 * days, now - 1 * days),
        # due long ago but delivered yesterday: it ended yesterday
        "late_sent": (NoticeStatus.SENT, now - 60 * days, now - 1 * days),
        "recent_failed": (NoticeStatus.FAILED, now - 10 * days, None),
        "old_pending": (NoticeStatus.PENDING, now - 90 * days, None),
        "old_claimed": (NoticeStatus.CLAIMED, now - 90 * days, None),
    }
    notices = {
        name: Notice(
            recipient_id=user.id,
            kind="test",
            payload={},
            dedup_key=f"test:{name}",
            status=status,
            next_attempt_at=due,
            sent_at=sent,
            created_at=due,
        )
        for name, (status, due, sent) in cases.items()
    }
    session.add_all(notices.values())
    session.add_all(
        [
            ProcessedUpdate(update_id=1, processed_at=now - 3 * days),
            ProcessedUpdate(update_id=2, processed_at=now - 2 * days - timedelta(minutes=1)),
            ProcessedUpdate(update_id=3, processed_at=now - timedelta(hours=30)),
            ProcessedUpdate(update_id=4, processed_at=now),
        ]
    )
    await session.commit()
    return {name: notice.id for name, notice in notices.items()}


async def _left(session: AsyncSession, ids: dict[str, int]) -> set[str]:
    kept = set((await session.scalars(select(Notice.id))).all())
    return {name for name, notice_id in ids.items() if notice_id in kept}


async def test_finished_notices_are_pruned_after_the_retention_pending_never(
    session: AsyncSession,
) -> None:
    ids = await _seed(session)
    deleted = await retention.prune_notices(session, utcnow() - timedelta(days=30))
    await session.commit()
    assert deleted == 4
    assert await _left(session, ids) == {
        "recent_sent",
        "late_sent",
        "recent_failed",
        "old_pending",
        "old_claimed",
    }


async def test_update_ids_are_pruned_after_their_retention(session: AsyncSession) -> None:
    await _seed(session)
    assert await retention.prune_update_ids(session, utcnow() - timedelta(days=2)) == 2
    await session.commit()
    assert set((await session.scalars(select(ProcessedUpdate.update_id))).all()) == {3, 4}


async def test_the_scheduler_prunes_in_batches_with_the_configured_retention(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)  # several batches, each its own transaction
    settings = Settings(
        _env_file=None,
        database_url=database_url,  # type: ignore[call-arg]
        notice_retention_days=7,
        update_retention_days=1,
    )
    engine = make_engine(database_url)
    try:
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session:
            ids = await _seed(session)
        scheduler = Scheduler(sessionmaker, retention=Retention.from_settings(settings))
        assert await scheduler.prune() == {"notices": 5, "update_ids": 3}
        async with sessionmaker() as session:
            kept = {"recent_sent", "late_sent", "old_pending", "old_claimed"}
            assert await _left(session, ids) == kept
            left = set((await session.scalars(select(ProcessedUpdate.update_id))).all())
            assert left == {4}
        assert await scheduler.prune() == {"notices": 0, "update_ids": 0}
    finally:
        await engine.dispose()


def test_retention_defaults() -> None:
    defaults = Retention.from_settings(Settings(_env_file=None))
    assert defaults == Retention(notices=timedelta(days=30), update_ids=timedelta(days=2))
