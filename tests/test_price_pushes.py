"""Price pushes over a real database (SQLite and PostgreSQL), time travelled by passing `now`:
the digest at its local time, once a day across restarts and processes, a missed one sent at
start the same day only, notices held through the quiet hours, who is (not) a subscriber, and
alerts above the threshold once per price."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import make_engine, make_sessionmaker
from bot.models import Grade, Notice, PricePush, PriceSource, Product, User, Village, utcnow
from bot.scheduler import Scheduler
from bot.services import harvests, price_pushes, prices, users
from bot.services.harvests import HarvestDraft
from bot.services.price_pushes import PushRules
from bot.services.prices import Key
from tests.conditions import LockRequests, eventually
from tests.test_auctions import coordinator, merchant

TZ = ZoneInfo("Asia/Shanghai")
RULES = PushRules(at=time(8, 0), tz=TZ, quiet=(time(21, 0), time(7, 0)), alert_percent=Decimal(5))
DAY = date(2026, 11, 29)
GREEN_AA = Key(Product.GREEN, Grade.AA)
CHERRY = Key(Product.CHERRY)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


async def farmer(session: AsyncSession, village: Village, tid: int, product: str) -> User:
    user = await users.ensure_user(session, tid)
    await users.register_farmer(
        session, user, name=f"F{tid}", phone="13800000000", village_id=village.id
    )
    draft = HarvestDraft(
        product=product,
        process=None if product == "cherry" else "washed",
        variety="catimor",
        quantity_g=50_000,
        grade=None if product == "cherry" else "AA",
    )
    await harvests.submit_report(session, user, draft)
    return user


@dataclass
class People:
    """User ids. Not told: an unsubscribed, a blocked and an unregistered user, and a merchant
    not yet approved."""

    green: int  # grows green AA: told of green AA only
    cherry: int  # grows cherry
    merchant: int  # approved, no bids yet: every priced key
    coordinator: int  # kept the digest (the default): every priced key

    @property
    def told(self) -> list[int]:
        return sorted((self.green, self.cherry, self.merchant, self.coordinator))


@pytest.fixture
async def people(session: AsyncSession, villages: list[Village]) -> People:
    village = villages[0]
    unsubscribed = await farmer(session, village, 3, "green")
    unsubscribed.price_digest = False
    blocked = await farmer(session, village, 4, "green")
    blocked.blocked = True
    await users.ensure_user(session, 5)  # never finished registering
    await merchant(session, 101, approve=False)
    crowd = People(
        green=(await farmer(session, village, 1, "green")).id,
        cherry=(await farmer(session, village, 2, "cherry")).id,
        merchant=(await merchant(session, 100)).id,
        coordinator=(await coordinator(session)).id,
    )
    await the_prices(session)
    return crowd


async def the_prices(session: AsyncSession) -> None:
    """Green AA 32.00 yesterday and 33.60 this morning (an auction paid 35.00 yesterday);
    cherry 5.50 since yesterday. Committed."""
    yesterday = local(DAY - timedelta(days=1), 10)
    await prices.record(session, GREEN_AA, 3200, PriceSource.FEED, at=yesterday)
    await prices.record(session, GREEN_AA, 3360, PriceSource.FEED, at=local(DAY, 6))
    await prices.record(session, CHERRY, 550, PriceSource.COORDINATOR, at=yesterday)
    await prices.record(session, GREEN_AA, 3500, PriceSource.AUCTION, at=yesterday)
    await session.commit()


async def notices(session: AsyncSession, kind: str) -> list[Notice]:
    session.expire_all()
    found = list(
        await session.scalars(select(Notice).where(Notice.kind == kind).order_by(Notice.id))
    )
    await session.commit()
    return found


async def pushes(session: AsyncSession, kind: str) -> list[PricePush]:
    session.expire_all()
    query = select(PricePush).where(PricePush.kind == kind).order_by(PricePush.id)
    found = list(await session.scalars(query))
    await session.commit()
    return found


Push = Callable[[AsyncSession, datetime, PushRules], Awaitable[int]]


async def committed(push: Push, session: AsyncSession, now: datetime, rules: PushRules) -> int:
    """One run of a push at `now`, in its own transaction; how many notices it wrote."""
    sent = await push(session, now, rules)
    await session.commit()
    return sent


async def run_digest(session: AsyncSession, now: datetime, rules: PushRules = RULES) -> int:
    return await committed(price_pushes.digest, session, now, rules)


async def test_the_digest_goes_at_its_local_time_to_subscribers(
    session: AsyncSession, people: People
) -> None:
    early = local(DAY, 7, 59)
    assert await run_digest(session, early) == 0
    assert await pushes(session, "digest") == []
    assert await price_pushes.next_digest_at(session, early, RULES) == local(DAY, 8)

    on_time = local(DAY, 8)
    assert await run_digest(session, on_time) == 4
    sent = await notices(session, "price_digest")
    assert sorted(n.recipient_id for n in sent) == people.told
    assert {n.dedup_key for n in sent} == {f"price-digest:2026-11-29:{u}" for u in people.told}
    assert all(n.next_attempt_at == on_time and n.priority == 10 for n in sent)
    by_user = {n.recipient_id: n.payload for n in sent}
    assert by_user[people.green] == {
        "day": "2026-11-29",
        "lines": [
            {
                "key": "green/AA",
                "fen": 3360,
                "yesterday_fen": 3200,
                "auction_fen": 3500,
                "auction_at": local(DAY - timedelta(days=1), 10).astimezone(UTC).isoformat(),
            }
        ],
    }
    assert [x["key"] for x in by_user[people.cherry]["lines"]] == ["cherry/-"]
    assert [x["key"] for x in by_user[people.merchant]["lines"]] == ["cherry/-", "green/AA"]
    (push,) = await pushes(session, "digest")
    assert (push.day, push.recipients, push.details) == (
        DAY,
        4,
        {"green/AA": 3360, "cherry/-": 550},
    )
    assert await price_pushes.next_digest_at(session, on_time, RULES) == local(
        DAY + timedelta(days=1), 8
    )


async def test_once_a_day_across_a_restart(session: AsyncSession, people: People) -> None:
    assert await run_digest(session, local(DAY, 8)) == 4
    # The bot restarted at 09:00: the day's digest is found sent.
    assert await run_digest(session, local(DAY, 9)) == 0
    assert len(await notices(session, "price_digest")) == 4
    # The next day's goes at its time.
    assert await run_digest(session, local(DAY + timedelta(days=1), 8)) == 4
    assert len(await pushes(session, "digest")) == 2


async def test_a_missed_digest_goes_at_start_the_same_day_only(
    session: AsyncSession, people: People
) -> None:
    # Down from 07:00 to 15:00: the digest goes at start, late but the same day.
    afternoon = local(DAY, 15)
    assert await price_pushes.next_digest_at(session, afternoon, RULES) == local(DAY, 8)
    assert await run_digest(session, afternoon) == 4

    # Down all the next day until 03:00 the day after: that day's digest is not sent late.
    next_day, after = DAY + timedelta(days=1), DAY + timedelta(days=2)
    night = local(after, 3)
    assert await run_digest(session, night) == 0
    assert await price_pushes.next_digest_at(session, night, RULES) == local(after, 8)
    # Back at 22:00 the same day: the quiet hours would hold it into tomorrow, so it is not
    # sent either (tomorrow's digest says the same, newer).
    evening = local(next_day, 22)
    assert await run_digest(session, evening) == 0
    assert await price_pushes.next_digest_at(session, evening, RULES) == local(after, 8)
    assert [p.day for p in await pushes(session, "digest")] == [DAY]


async def test_a_digest_in_the_quiet_hours_is_held_until_they_end(
    session: AsyncSession, people: People
) -> None:
    rules = PushRules(at=time(6, 30), tz=TZ, quiet=RULES.quiet)
    assert await run_digest(session, local(DAY, 6, 30), rules) == 4
    held = await notices(session, "price_digest")
    assert {n.next_attempt_at for n in held} == {local(DAY, 7)}


async def race(
    database_url: str,
    push: Push,
    now: datetime,
    on_postgres: Callable[[str, Any], bool],
    kind: str,
    processes: int = 3,
) -> tuple[list[int], int, int]:
    """`processes` runs of a push at once, each in its own transaction, the first to take the
    lock holding it until every other asked for it. Returns what each run wrote, the notices
    of `kind` and the pushes of its kind stored."""
    engine = make_engine(database_url, pool_size=processes + 2)
    maker = make_sessionmaker(engine)
    requests = LockRequests(engine, expected=processes, on_postgres=on_postgres)

    async def process() -> int:
        async with maker() as s, s.begin():
            sent = await push(s, now, RULES)
            await requests.all_asked()
            return sent

    try:
        results = await asyncio.gather(*(process() for _ in range(processes)))
        async with maker() as s:
            count = await s.scalar(
                select(func.count()).select_from(Notice).where(Notice.kind == f"price_{kind}")
            )
            stored = await s.scalar(
                select(func.count()).select_from(PricePush).where(PricePush.kind == kind)
            )
    finally:
        await engine.dispose()
    return sorted(results), int(count or 0), int(stored or 0)


async def test_two_processes_send_the_digest_once(database_url: str, people: People) -> None:
    def claims(statement: str, _params: Any) -> bool:
        return statement.startswith("INSERT INTO price_pushes")

    outcome = await race(database_url, price_pushes.digest, local(DAY, 8), claims, "digest")
    assert outcome == ([0, 0, 4], 4, 1)


async def test_nothing_priced_no_digest(session: AsyncSession, villages: list[Village]) -> None:
    await farmer(session, villages[0], 1, "green")
    await session.commit()
    assert await run_digest(session, local(DAY, 8)) == 0
    assert await notices(session, "price_digest") == []


async def record(session: AsyncSession, fen: int, at: datetime) -> int:
    price = await prices.record(session, GREEN_AA, fen, PriceSource.FEED, at=at)
    await session.commit()
    return price.id


async def run_alerts(session: AsyncSession, now: datetime) -> int:
    return await committed(price_pushes.alerts, session, now, RULES)


async def test_an_alert_above_the_threshold_once_per_price(
    session: AsyncSession, people: People
) -> None:
    # Nothing was pushed yet: there is nothing to move from.
    assert await run_alerts(session, local(DAY, 7)) == 0
    await run_digest(session, local(DAY, 8))  # told 33.60
    await record(session, 3500, local(DAY, 9))  # +4.2%: below 5%
    assert await run_alerts(session, local(DAY, 9, 1)) == 0
    moved = await record(session, 3600, local(DAY, 10))  # +7.1% from what was told
    assert await run_alerts(session, local(DAY, 10, 1)) == 3
    assert await run_alerts(session, local(DAY, 10, 2)) == 0  # once per price
    sent = await notices(session, "price_alert")
    told_green = sorted((people.green, people.merchant, people.coordinator))
    assert sorted(n.recipient_id for n in sent) == told_green  # not the cherry farmer
    assert {n.dedup_key for n in sent} == {f"price-alert:{moved}:{u}" for u in told_green}
    assert sent[0].payload == {
        "key": "green/AA",
        "fen": 3600,
        "told_fen": 3360,
        "at": local(DAY, 10).astimezone(UTC).isoformat(),
    }
    assert all(n.next_attempt_at == local(DAY, 10, 1) for n in sent)
    # The alert is what was last told: a move from 36.00, not from the digest's 33.60.
    await record(session, 3700, local(DAY, 11))  # +2.8%
    assert await run_alerts(session, local(DAY, 11, 1)) == 0
    # At night, down 8.1%: held until the quiet hours end.
    await record(session, 3400, local(DAY, 23))
    assert await run_alerts(session, local(DAY, 23, 1)) == 3
    night = [n for n in await notices(session, "price_alert") if n.payload["fen"] == 3400]
    assert {n.next_attempt_at for n in night} == {local(DAY + timedelta(days=1), 7)}
    assert [p.recipients for p in await pushes(session, "alert")] == [3, 3]


async def test_two_processes_alert_once(
    session: AsyncSession, database_url: str, people: People
) -> None:
    await run_digest(session, local(DAY, 8))
    await record(session, 4000, local(DAY, 9))

    def locks_price(statement: str, _params: Any) -> bool:
        return "FROM prices" in statement and "FOR UPDATE" in statement

    outcome = await race(database_url, price_pushes.alerts, local(DAY, 9, 1), locks_price, "alert")
    assert outcome == ([0, 0, 3], 3, 1)


def _rules_now() -> PushRules:
    """A digest due since local midnight, no quiet hours: a real scheduler sends today's now,
    whatever the time of day the test runs."""
    return PushRules(at=time(0, 0), tz=TZ, quiet=None)


async def test_a_started_scheduler_sends_a_missed_digest_once_across_a_restart(
    session: AsyncSession, people: People, database_url: str
) -> None:
    rules = _rules_now()
    today = utcnow().astimezone(TZ).date()
    engines = [make_engine(database_url, pool_size=5) for _ in range(2)]
    schedulers = [Scheduler(make_sessionmaker(e), price_rules=rules) for e in engines]
    try:
        await schedulers[0].start()

        async def digested() -> bool:
            return len(await notices(session, "price_digest")) == 4

        await eventually(digested, "the missed digest was sent at start")

        def set_for_tomorrow(s: Scheduler) -> bool:
            job = s.aps.get_job("price-digest")
            return job is not None and job.next_run_time == rules.on_time(today + timedelta(days=1))

        async def first_set() -> bool:
            return set_for_tomorrow(schedulers[0])

        await eventually(first_set, "the digest job set for tomorrow")
        # A restart (another process): its job is set for tomorrow, and a run sends nothing.
        await schedulers[1].start()
        await schedulers[1].resync()
        assert set_for_tomorrow(schedulers[1])
        assert await schedulers[1].run_digest() == 0
    finally:
        for s in schedulers:
            await s.stop()
        for e in engines:
            await e.dispose()
    assert len(await notices(session, "price_digest")) == 4


async def test_a_woken_alert_scan_runs_at_once(
    session: AsyncSession, people: People, database_url: str
) -> None:
    rules = _rules_now()
    # Today's digest, what the alert is measured from (33.60); the scheduler finds it sent.
    assert await run_digest(session, utcnow(), rules) == 4
    engine = make_engine(database_url, pool_size=5)
    scheduler = Scheduler(make_sessionmaker(engine), price_rules=rules)
    try:
        await scheduler.start()

        async def scanned_at_start() -> bool:
            job = scheduler.aps.get_job("price-alerts")
            return job is not None and job.next_run_time > utcnow() + timedelta(seconds=30)

        await eventually(scanned_at_start, "the first scan, at start")
        await record(session, 4000, utcnow())  # stored by another process: no wake by itself
        scheduler.wake_alerts()

        async def alerted() -> bool:
            return len(await notices(session, "price_alert")) == 3

        await eventually(alerted, "the alert, well within the minute between scans")
    finally:
        await scheduler.stop()
        await engine.dispose()
