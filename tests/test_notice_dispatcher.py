"""The notice dispatcher against a real database (SQLite and PostgreSQL) and the real aiogram
Bot talking HTTP to the Bot API emulator: rates, per-chat spacing, Telegram's errors,
de-duplication, claims left by dead processes, and several dispatchers on one outbox."""

from __future__ import annotations

import bisect
import itertools
import os
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import outbox
from bot.config import REPO_ROOT
from bot.db import is_sqlite, make_engine, make_sessionmaker
from bot.i18n import make_i18n
from bot.models import Notice, NoticeStatus, User, utcnow
from bot.notice_dispatcher import DispatcherOptions, NoticeDispatcher
from bot.notices.liveness import host_tag, worker_alive
from tests.conditions import eventually
from tests.conftest import TOKEN
from tests.emulator import BotApiEmulator

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def add_users(
    sessions: Sessions, emulator: BotApiEmulator, count: int, first: int = 1000
) -> dict[int, int]:
    """Registered users with a chat in the emulator; returns {user id: telegram id}."""
    telegram_ids = list(range(first, first + count))
    async with sessions() as session, session.begin():
        await session.execute(
            insert(User),
            [{"telegram_id": t, "language": "en", "registered_at": utcnow()} for t in telegram_ids],
        )
        rows = await session.execute(
            select(User.id, User.telegram_id)
            .where(User.telegram_id.in_(telegram_ids))
            .order_by(User.id)
        )
        users = {int(user_id): int(telegram_id) for user_id, telegram_id in rows.all()}
    for telegram_id in telegram_ids:
        emulator.user(telegram_id)
    return users


async def enqueue(sessions: Sessions, notices: list[tuple[int, str]]) -> None:
    """(user id, label) notices; the label is the dedup key and shows in the message."""
    async with sessions() as session, session.begin():
        for user_id, label in notices:
            await outbox.enqueue(session, user_id, "merchant_rejected", {"reason": label}, label)


async def status_counts(sessions: Sessions) -> Counter[str]:
    async with sessions() as session:
        rows = await session.execute(select(Notice.status, func.count()).group_by(Notice.status))
        await session.commit()  # end the read: SQLite transactions take the write lock
    return Counter({str(status): int(n) for status, n in rows.all()})


async def notices(sessions: Sessions) -> list[Notice]:
    async with sessions() as session:
        rows = list(await session.scalars(select(Notice).order_by(Notice.id)))
        await session.commit()
    return rows


@asynccontextmanager
async def dispatching(
    sessions: Sessions, emulator: BotApiEmulator, **options: Any
) -> AsyncIterator[NoticeDispatcher]:
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    dispatcher = NoticeDispatcher(
        bot,
        sessions,
        make_i18n(REPO_ROOT / "locales", "zh"),
        DispatcherOptions(**{"rate": 50.0, "idle": 0.05, **options}),
    )
    await dispatcher.start()
    try:
        yield dispatcher
    finally:
        await dispatcher.stop()
        await bot.session.close()


def sent_texts(emulator: BotApiEmulator, telegram_id: int) -> list[str]:
    return [m.text for m in emulator.user(telegram_id).messages]


def most_in_a_second(times: list[float]) -> int:
    times = sorted(times)
    return max((bisect.bisect_right(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


def aware(moment: datetime) -> datetime:
    """Datetimes read back from SQLite come without their (UTC) offset."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_postgres(database_url: str) -> bool:
    return not is_sqlite(database_url)


# ---------------------------------------------------------------------------- limits


async def test_global_rate_is_kept_without_bursts(
    sessions: Sessions, emulator: BotApiEmulator
) -> None:
    users = await add_users(sessions, emulator, 50)
    await enqueue(sessions, [(user_id, f"n{user_id}") for user_id in users])
    async with dispatching(sessions, emulator, rate=20.0):
        await emulator.wait_for(lambda e: len(e.sent_log) >= 50, timeout=10)
    times = [t for t, _ in emulator.sent_log]
    assert len(times) == 50
    # In any second (both ends included) at most rate + 1 messages, and the rate is reached.
    assert most_in_a_second(times) <= 21
    achieved = (len(times) - 1) / (max(times) - min(times))
    assert 18.0 <= achieved <= 20.5, achieved
    assert (await status_counts(sessions)) == {"sent": 50}


async def test_one_message_per_second_per_chat(
    sessions: Sessions, emulator: BotApiEmulator
) -> None:
    users = await add_users(sessions, emulator, 23)
    busy, quiet = list(users)[:3], list(users)[3:]
    # Three notices to each busy chat first in the queue, then one to each quiet chat.
    await enqueue(sessions, [(u, f"busy{u}-{n}") for n in range(3) for u in busy])
    await enqueue(sessions, [(u, f"quiet{u}") for u in quiet])
    async with dispatching(sessions, emulator, rate=50.0, chat_interval=1.0):
        await emulator.wait_for(lambda e: len(e.sent_log) >= 29, timeout=10)
    for user_id in busy:
        chat = users[user_id]
        times = emulator.sent_times[chat]
        assert len(times) == 3
        assert all(b - a >= 0.99 for a, b in itertools.pairwise(times)), times
        assert [text.split(": ")[-1].split("\n")[0] for text in sent_texts(emulator, chat)] == [
            f"busy{user_id}-{n}" for n in range(3)
        ]
    # The busy chats wait; the others are not held up behind them.
    start = min(t for t, _ in emulator.sent_log)
    assert all(emulator.sent_times[users[u]][0] - start < 1.0 for u in quiet)


# ---------------------------------------------------------------------------- priorities


async def test_a_personal_notice_overtakes_a_draining_broadcast(
    sessions: Sessions, emulator: BotApiEmulator
) -> None:
    """A broadcast to 2,000 chats drains at 30/s (over a minute); a personal notice written
    while it drains goes out after at most one claim batch of broadcast messages plus those
    already in flight, not after the rest of the broadcast. The global limit still holds."""
    users = await add_users(sessions, emulator, 2001)
    person = next(iter(users))
    async with sessions() as session, session.begin():
        everyone_else = select(User.id).where(User.id != person)
        assert await outbox.enqueue_for(session, everyone_else, "promoted", {}, "all:") == 2000
    async with dispatching(sessions, emulator, rate=30.0) as dispatcher:
        await emulator.wait_for(lambda e: len(e.sent_log) >= 40, timeout=10)
        await enqueue(sessions, [(person, "outbid")])
        before = len(emulator.sent_log)  # broadcast messages received before it was written
        await emulator.wait_for(lambda e: users[person] in e.sent_times, timeout=10)
        ahead = [chat for _, chat in emulator.sent_log].index(users[person]) - before
        bound = dispatcher.batch + dispatcher.window.size
    assert ahead <= bound, (ahead, bound)
    assert "outbid" in sent_texts(emulator, users[person])[0]
    assert len(emulator.sent_log) < 300  # the broadcast was far from done
    assert most_in_a_second([t for t, _ in emulator.sent_log]) <= 31
    async with sessions() as session:
        priorities = Counter(
            (await session.execute(select(Notice.recipient_id == person, Notice.priority))).all()
        )
        await session.commit()
    assert priorities == {(False, outbox.BULK): 2000, (True, outbox.PERSONAL): 1}


# ---------------------------------------------------------------------------- sends in flight


async def test_limits_stay_exact_with_sends_in_flight(
    sessions: Sessions, emulator: BotApiEmulator
) -> None:
    """Telegram 100 ms away: one send at a time would make 10/s at most; with a window of
    sends in flight the rate is reached, and Telegram's own limits (enforced by the
    emulator: 20 a second overall, one a second per chat) never answer 429."""
    emulator.latency = 0.1
    emulator.enforce_limits(per_chat_per_s=1, global_per_s=20)
    users = await add_users(sessions, emulator, 33)
    busy, quiet = list(users)[:3], list(users)[3:]
    await enqueue(sessions, [(u, f"busy{u}-{n}") for n in range(3) for u in busy])
    await enqueue(sessions, [(u, f"quiet{u}") for u in quiet])
    async with dispatching(sessions, emulator, rate=20.0, chat_interval=1.0) as dispatcher:
        await emulator.wait_for(lambda e: len(e.sent_log) >= 39, timeout=15)
        window = dispatcher.window.size
    assert [c for c in emulator.calls if c.status == 429] == []
    assert window > 1
    times = sorted(t for t, _ in emulator.sent_log)
    assert most_in_a_second(times) <= 21  # both ends of the second included
    assert 29 / (times[29] - times[0]) >= 15  # the first 30: far above 1 / round trip
    for user_id in busy:
        chat_times = emulator.sent_times[users[user_id]]
        assert len(chat_times) == 3
        assert all(b - a >= 0.99 for a, b in itertools.pairwise(chat_times)), chat_times
    assert (await status_counts(sessions)) == {"sent": 39}


async def test_retry_after_with_sends_in_flight(
    sessions: Sessions, emulator: BotApiEmulator
) -> None:
    """A 429 while other sends are on their way: those finish and are recorded, nothing new
    starts during the pause, and the refused notice goes after it."""
    emulator.latency = 0.1
    users = await add_users(sessions, emulator, 30)
    await enqueue(sessions, [(user_id, f"n{user_id}") for user_id in users])
    emulator.fail_next(status=429, retry_after=1)
    async with dispatching(sessions, emulator, rate=50.0) as dispatcher:
        await emulator.wait_for(lambda e: len(e.sent_log) >= 30, timeout=15)
        await dispatcher.wait_idle()
    refused = [c for c in emulator.calls if c.status == 429]
    assert len(refused) == 1
    moment = refused[0].time
    arrived = [t - moment for t, _ in emulator.sent_log]
    # Sends already in flight when the 429 came back still arrive (within a round trip)...
    assert [a for a in arrived if 0 < a < 0.25]
    # ...but none started during the pause.
    assert not [a for a in arrived if 0.25 <= a < 0.95]
    assert emulator.sent_times[refused[0].chat_id or 0][0] - moment >= 0.95
    assert all(len(times) == 1 for times in emulator.sent_times.values())
    assert len(emulator.sent_times) == 30
    assert (await status_counts(sessions)) == {"sent": 30}


@pytest.mark.parametrize("other_finished", [False, True], ids=["other-sending", "other-done"])
async def test_an_outcome_is_not_recorded_under_a_lost_claim(
    sessions: Sessions, emulator: BotApiEmulator, other_finished: bool
) -> None:
    """The lease ran out while the send was in flight, the claim went back and another worker
    claimed the notice (and maybe recorded its own outcome): the first worker's late outcome
    changes nothing, neither the notice nor when its recipient may get the next one."""
    emulator.latency = 0.5
    users = await add_users(sessions, emulator, 1)
    user_id = next(iter(users))
    await enqueue(sessions, [(user_id, "n")])
    other_lease = utcnow() + timedelta(seconds=60)
    async with dispatching(sessions, emulator) as dispatcher:

        async def claimed() -> bool:
            return (await notices(sessions))[0].claimed_by == dispatcher.worker_id

        await eventually(claimed, "the notice claimed", timeout=5)
        # What release_claims and another worker's claim would write, while the send is out.
        values: dict[str, Any] = {
            "status": NoticeStatus.CLAIMED,
            "claimed_by": "other-worker",
            "lease_until": other_lease,
        }
        if other_finished:
            values.update(status=NoticeStatus.FAILED, lease_until=None, last_error="other")
        async with sessions() as session, session.begin():
            await session.execute(update(Notice).values(**values))
            await session.execute(
                update(User).where(User.id == user_id).values(next_notice_at=other_lease)
            )
        await emulator.wait_for(lambda e: len(e.sent_log) == 1, timeout=5)
        await dispatcher.wait_idle()  # the first worker's answer came back and was handled
    row = (await notices(sessions))[0]
    assert row.claimed_by == "other-worker"
    assert row.sent_at is None
    if other_finished:
        assert (row.status, row.last_error) == (NoticeStatus.FAILED, "other")
    else:
        assert row.status == NoticeStatus.CLAIMED
        assert row.lease_until is not None and aware(row.lease_until) == other_lease
    async with sessions() as session:
        user = await session.get(User, user_id)
        assert user is not None and user.next_notice_at is not None
        assert aware(user.next_notice_at) == other_lease
        await session.commit()


# ---------------------------------------------------------------------------- Telegram's errors


async def test_retry_after_pauses_all_sending_then_resumes(
    sessions: Sessions, emulator: BotApiEmulator
) -> None:
    users = await add_users(sessions, emulator, 10)
    await enqueue(sessions, [(user_id, f"n{user_id}") for user_id in users])
    emulator.fail_next(status=429, retry_after=1)
    # One send at a time: a send already on its way when the 429 came back may still arrive
    # during the pause, and on a loaded machine it does (test_retry_after_with_sends_in_flight).
    async with dispatching(sessions, emulator, rate=50.0, max_in_flight=1):
        await emulator.wait_for(lambda e: len(e.sent_log) >= 10, timeout=10)
    refused = [c for c in emulator.calls_to("sendMessage") if c.status == 429]
    assert len(refused) == 1
    first_sent = min(t for t, _ in emulator.sent_log)
    assert first_sent - refused[0].time >= 0.95  # nothing at all went out during the pause
    assert sorted(emulator.sent_times) == sorted(users.values())  # every chat, once
    assert all(len(times) == 1 for times in emulator.sent_times.values())
    assert (await status_counts(sessions)) == {"sent": 10}


async def test_403_marks_the_user_blocked_and_drops_their_notices(
    sessions: Sessions, emulator: BotApiEmulator
) -> None:
    users = await add_users(sessions, emulator, 2)
    blocked, other = list(users)
    await enqueue(sessions, [(blocked, f"b{n}") for n in range(3)] + [(other, "o")])
    emulator.block(users[blocked])
    async with dispatching(sessions, emulator):
        await emulator.wait_for(lambda e: len(e.sent_log) >= 1, timeout=5)

        async def dropped() -> bool:
            return (await status_counts(sessions))["dropped"] == 3

        await eventually(dropped, "the notices dropped", timeout=5)
    assert (await status_counts(sessions)) == {"dropped": 3, "sent": 1}
    # One attempt, then no more sends to that chat.
    assert len([c for c in emulator.calls if c.chat_id == users[blocked]]) == 1
    async with sessions() as session:
        user = await session.get(User, blocked)
        assert user is not None and user.blocked
        await session.commit()
    theirs = [n for n in await notices(sessions) if n.recipient_id == blocked]
    assert [n.last_error for n in theirs] == ["blocked by the user"] * 3


async def test_other_400_is_recorded_as_failed_with_the_reason(
    sessions: Sessions, emulator: BotApiEmulator
) -> None:
    users = await add_users(sessions, emulator, 3)
    await enqueue(sessions, [(user_id, f"n{user_id}") for user_id in users])
    broken = users[list(users)[1]]
    emulator.fail_next(broken, status=400, description="Bad Request: message is too long")
    async with dispatching(sessions, emulator):
        await emulator.wait_for(lambda e: len(e.sent_log) >= 2, timeout=5)

        async def failed() -> bool:
            return (await status_counts(sessions))["failed"] == 1

        await eventually(failed, "the notice failed", timeout=5)
    rows = await notices(sessions)
    assert [n.status for n in rows] == [NoticeStatus.SENT, NoticeStatus.FAILED, NoticeStatus.SENT]
    assert rows[1].last_error == "Bad Request: message is too long"
    assert len([c for c in emulator.calls if c.chat_id == broken]) == 1  # not retried


async def test_network_errors_and_5xx_are_retried_then_delivered(
    sessions: Sessions, emulator: BotApiEmulator
) -> None:
    users = await add_users(sessions, emulator, 3)
    flaky_5xx, dropped, down = (users[u] for u in users)
    await enqueue(sessions, [(user_id, f"n{user_id}") for user_id in users])
    emulator.fail_next(flaky_5xx, status=500, times=2)
    emulator.fail_next(dropped, status=0)  # the connection drops: a network error
    emulator.fail_next(down, status=502, times=3)  # fails every immediate attempt
    async with dispatching(sessions, emulator):
        await emulator.wait_for(lambda e: len(e.sent_log) >= 2, timeout=10)

        async def settled() -> bool:
            return (await status_counts(sessions)) == {"sent": 2, "pending": 1}

        await eventually(settled, "the notices settled", timeout=10)
    assert [c.status for c in emulator.calls if c.chat_id == flaky_5xx] == [500, 500, 200]
    assert [c.status for c in emulator.calls if c.chat_id == dropped] == [0, 200]
    assert [c.status for c in emulator.calls if c.chat_id == down] == [502, 502, 502]
    assert all(len(emulator.sent_times.get(chat, [])) == 1 for chat in (flaky_5xx, dropped))
    # Still down after the immediate attempts: kept, to be tried again later.
    later = next(n for n in await notices(sessions) if n.status == NoticeStatus.PENDING)
    assert later.attempts == 1 and later.last_error and "Bad Gateway" in later.last_error
    assert aware(later.next_attempt_at) > utcnow()


# ---------------------------------------------------------------------------- exactly once


async def test_a_dedup_key_is_delivered_once(sessions: Sessions, emulator: BotApiEmulator) -> None:
    users = await add_users(sessions, emulator, 4)
    first = next(iter(users))
    async with sessions() as session, session.begin():
        assert await outbox.enqueue(session, first, "promoted", {}, "promoted:1")
        assert not await outbox.enqueue(session, first, "promoted", {}, "promoted:1")
        everyone = select(User.id)
        assert await outbox.enqueue_for(session, everyone, "promoted", {}, "all:") == 4
        assert await outbox.enqueue_for(session, everyone, "promoted", {}, "all:") == 0
    async with dispatching(sessions, emulator, chat_interval=0.0) as dispatcher:
        await emulator.wait_for(lambda e: len(e.sent_log) >= 5, timeout=5)
        async with sessions() as session, session.begin():  # again, after delivery
            assert not await outbox.enqueue(session, first, "promoted", {}, "promoted:1")
            assert await outbox.enqueue_for(session, everyone, "promoted", {}, "all:") == 0
        await dispatcher.wait_idle()  # nothing left to send, nothing in flight
    assert len(emulator.sent_times[users[first]]) == 2  # "promoted:1" and "all:<id>"
    assert all(len(emulator.sent_times[users[u]]) == 1 for u in list(users)[1:])
    assert (await status_counts(sessions)) == {"sent": 5}


async def test_claims_of_a_dead_dispatcher_come_back_at_start(
    sessions: Sessions, emulator: BotApiEmulator, database_url: str
) -> None:
    users = await add_users(sessions, emulator, 3)
    await enqueue(sessions, [(user_id, f"n{user_id}") for user_id in users])
    dead, expired, alive = list(users)
    tag = host_tag()
    later = utcnow().replace(year=utcnow().year + 1)
    claims = {
        # A process of this host that no longer exists (no such PID).
        dead: (f"{2**22 + 1}.1@{tag}:here", later),
        # Another host whose lease ran out.
        expired: ("1.1@elsewhere.1:there", utcnow().replace(year=2000)),
        # Another host, lease still running: it may be sending right now.
        alive: ("1.1@elsewhere.1:there", later),
    }
    async with sessions() as session, session.begin():
        for user_id, (worker, lease_until) in claims.items():
            await session.execute(
                update(Notice)
                .where(Notice.recipient_id == user_id)
                .values(status=NoticeStatus.CLAIMED, claimed_by=worker, lease_until=lease_until)
            )
            await session.execute(
                update(User).where(User.id == user_id).values(next_notice_at=lease_until)
            )
    async with dispatching(sessions, emulator) as dispatcher:
        expected = 2 if is_postgres(database_url) else 3  # SQLite: the only dispatcher
        await emulator.wait_for(lambda e: len(e.sent_log) >= expected, timeout=5)
        await dispatcher.wait_idle()
    assert users[dead] in emulator.sent_times and users[expired] in emulator.sent_times
    if is_postgres(database_url):
        assert users[alive] not in emulator.sent_times
        assert (await status_counts(sessions)) == {"sent": 2, "claimed": 1}
    else:
        assert (await status_counts(sessions)) == {"sent": 3}


async def test_sqlite_runs_one_dispatcher_per_database(
    sessions: Sessions, emulator: BotApiEmulator, database_url: str
) -> None:
    if is_postgres(database_url):
        pytest.skip("PostgreSQL runs several dispatchers (next test)")
    users = await add_users(sessions, emulator, 40)
    await enqueue(sessions, [(user_id, f"n{user_id}") for user_id in users])
    async with dispatching(sessions, emulator, rate=40.0) as first:
        async with dispatching(sessions, emulator, rate=40.0) as second:
            await emulator.wait_for(lambda e: len(e.sent_log) >= 10, timeout=5)
            await first.stop()  # the second takes over the database and the rest
            await emulator.wait_for(lambda e: len(e.sent_log) >= 40, timeout=10)
            await second.wait_idle()
            assert second.worker_id != first.worker_id
    assert all(len(times) == 1 for times in emulator.sent_times.values())
    assert len(emulator.sent_times) == 40
    assert (await status_counts(sessions)) == {"sent": 40}


async def test_two_dispatchers_on_postgresql_never_send_a_notice_twice(
    sessions: Sessions, emulator: BotApiEmulator, database_url: str
) -> None:
    if not is_postgres(database_url):
        pytest.skip("on SQLite one dispatcher runs (previous test)")
    users = await add_users(sessions, emulator, 300)
    ids = list(users)
    await enqueue(sessions, [(user_id, f"n{user_id}") for user_id in ids])
    await enqueue(sessions, [(user_id, f"again{user_id}") for user_id in ids[:20]])
    other_engine = make_engine(database_url)  # a second process has its own connections
    try:
        async with (
            dispatching(sessions, emulator, rate=200.0) as one,
            dispatching(make_sessionmaker(other_engine), emulator, rate=200.0) as two,
        ):
            await emulator.wait_for(lambda e: len(e.sent_log) >= 320, timeout=15)
            await one.wait_idle()
            await two.wait_idle()
    finally:
        await other_engine.dispose()
    counts = Counter(chat for _, chat in emulator.sent_log)
    assert len(emulator.sent_log) == 320
    assert all(counts[users[u]] == (2 if u in ids[:20] else 1) for u in ids)
    # Spacing per chat holds across the two processes too.
    for user_id in ids[:20]:
        first, second = emulator.sent_times[users[user_id]]
        assert second - first >= 0.99
    senders = Counter(n.claimed_by for n in await notices(sessions))
    assert set(senders) == {one.worker_id, two.worker_id}  # both took part
    assert sum(senders.values()) == 320


def test_worker_ids_name_the_process() -> None:
    tag = host_tag()
    if tag is None:
        pytest.skip("no /proc here")
    assert worker_alive(f"{os.getppid()}.1@{tag}:x", tag)  # the parent is alive
    assert not worker_alive(f"{2**22 + 1}.1@{tag}:x", tag)  # beyond pid_max: gone
    assert not worker_alive(f"{os.getpid()}.999999@{tag}:x", tag)  # this process, not running
    assert worker_alive("1.1@otherboot.1:x", tag)  # another host: its lease decides
