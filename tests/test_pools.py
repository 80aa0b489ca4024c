"""Pools over a real database (SQLite and PostgreSQL): grouping, facts, order, membership."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.lots import plan_slices
from bot.models import Grade, HarvestReport, Process, Product, ReportStatus, User, Village
from bot.services import harvests, users
from bot.services.harvests import HarvestDraft
from bot.services.pools import Pool, PoolKey, pool_reports, pools

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


async def _farmer(session: AsyncSession, village: Village, telegram_id: int) -> User:
    user = await users.ensure_user(session, telegram_id)
    return await users.register_farmer(
        session, user, name="Li Wei", phone="138 0000 0000", village_id=village.id
    )


async def _report(
    session: AsyncSession,
    farmer: User,
    *,
    kg: int,
    day: int,
    product: str = "parchment",
    process: str | None = "washed",
    grade: str | None = "AA",
    moisture_tenths: int | None = None,
    status: ReportStatus = ReportStatus.SUBMITTED,
) -> HarvestReport:
    draft = HarvestDraft(
        product=product,
        process=process,
        variety="catimor",
        quantity_g=kg * 1000,
        moisture_tenths=moisture_tenths,
        grade=grade,
    )
    report = await harvests.submit_report(session, farmer, draft)
    report.created_at = T0 + timedelta(days=day)
    report.status = status
    await session.flush()
    return report


def _facts(pool: Pool) -> tuple[object, ...]:
    key = pool.key
    return (
        pool.village_name,
        key.product,
        key.process,
        key.grade,
        pool.grams,
        pool.farmers,
        pool.reports,
        pool.moisture_min_tenths,
        pool.moisture_max_tenths,
        pool.oldest_at,
    )


async def test_no_reports_no_pools(session: AsyncSession, villages: list[Village]) -> None:
    assert await pools(session) == []


async def test_reports_pool_by_village_product_process_and_grade(
    session: AsyncSession, villages: list[Village]
) -> None:
    conggang, nankang = villages
    li = await _farmer(session, conggang, 1)
    wang = await _farmer(session, conggang, 2)
    zhao = await _farmer(session, nankang, 3)
    # One pool: two farmers, three reports, moisture given by two of them.
    await _report(session, li, kg=120, day=3, moisture_tenths=115)
    await _report(session, wang, kg=80, day=1)
    await _report(session, li, kg=30, day=5, moisture_tenths=125)
    # Same coffee ungraded: a pool of its own, with no moisture at all.
    await _report(session, wang, kg=50, day=2, grade=None)
    # Fresh cherry has no process (nor grade): its pools per village.
    await _report(session, li, kg=200, day=4, product="cherry", process=None, grade=None)
    await _report(session, zhao, kg=60, day=6, product="cherry", process=None, grade=None)
    await _report(session, zhao, kg=40, day=7, product="green", process="natural", grade="A")
    # Not waiting to be pooled: already in a lot, sold, or withdrawn.
    for status in (ReportStatus.POOLED, ReportStatus.SOLD, ReportStatus.WITHDRAWN):
        await _report(session, li, kg=999, day=0, status=status)

    cherry, parchment, green = Product.CHERRY, Product.PARCHMENT, Product.GREEN
    washed, natural = Process.WASHED, Process.NATURAL

    def day(n: int) -> datetime:
        return T0 + timedelta(days=n)

    assert [_facts(p) for p in await pools(session)] == [
        ("Conggang", cherry, None, None, 200_000, 1, 1, None, None, day(4)),
        ("Conggang", parchment, washed, Grade.AA, 230_000, 2, 3, 115, 125, day(1)),
        ("Conggang", parchment, washed, None, 50_000, 1, 1, None, None, day(2)),
        ("Nankang", cherry, None, None, 60_000, 1, 1, None, None, day(6)),
        ("Nankang", green, natural, Grade.A, 40_000, 1, 1, None, None, day(7)),
    ]


async def test_withdrawing_a_report_leaves_its_pool(
    session: AsyncSession, villages: list[Village]
) -> None:
    li = await _farmer(session, villages[0], 1)
    first = await _report(session, li, kg=120, day=1)
    await _report(session, li, kg=30, day=2)
    await harvests.withdraw_report(session, li, first.id)
    [pool] = await pools(session)
    assert (pool.grams, pool.reports, pool.farmers) == (30_000, 1, 1)
    assert pool.oldest_at == T0 + timedelta(2)


async def test_a_pools_reports_oldest_first_and_sliced_whole(
    session: AsyncSession, villages: list[Village]
) -> None:
    conggang, nankang = villages
    li = await _farmer(session, conggang, 1)
    wang = await _farmer(session, conggang, 2)
    zhao = await _farmer(session, nankang, 3)
    late = await _report(session, li, kg=3000, day=9, product="cherry", process=None, grade=None)
    early = await _report(session, wang, kg=2000, day=1, product="cherry", process=None, grade=None)
    middle = await _report(session, li, kg=4000, day=5, product="cherry", process=None, grade=None)
    # Other pools and reports no longer waiting stay out.
    await _report(session, zhao, kg=500, day=0, product="cherry", process=None, grade=None)
    await _report(session, li, kg=500, day=0)
    await _report(session, li, kg=600, day=0, grade=None)
    await _report(session, li, kg=700, day=0, process="natural")
    await _report(session, li, kg=800, day=0, product="green")
    gone = await _report(session, li, kg=500, day=0, product="cherry", process=None, grade=None)
    await harvests.withdraw_report(session, li, gone.id)

    key = PoolKey(conggang.id, Product.CHERRY, None, None)
    reports = await pool_reports(session, key)
    assert [(r.id, r.farmer_id, r.grams) for r in reports] == [
        (early.id, wang.id, 2_000_000),
        (middle.id, li.id, 4_000_000),
        (late.id, li.id, 3_000_000),
    ]
    [pool] = [p for p in await pools(session) if p.key == key]
    first, rest = plan_slices(reports, 5_000_000)
    assert [r.id for r in first.reports] == [early.id, middle.id]
    assert (first.grams, first.farmer_ids) == (6_000_000, (wang.id, li.id))
    assert ([r.id for r in rest.reports], rest.grams) == ([late.id], 3_000_000)
    assert first.grams + rest.grams == pool.grams

    graded = await pool_reports(
        session, PoolKey(conggang.id, Product.PARCHMENT, Process.WASHED, Grade.AA)
    )
    assert [r.grams for r in graded] == [500_000]
