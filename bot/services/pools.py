"""Pools: the confirmed harvest reports waiting to be sold, grouped so merchants can bid.

One farmer's report is about 53 kg and no merchant bids on that; reports of one village with
the same product, process and grade are interchangeable coffee, so together they make a pool
big enough to auction whole or in slices (bot/lots.py). Pools are not stored: they are what
the reports say now, so a withdrawn report or a new one changes its pool at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.lots import PoolReport, oldest_first
from bot.models import Grade, HarvestReport, Process, Product, ReportStatus, Village

# Confirmed by the farmer and not yet in a lot (POOLED means in a lot) nor withdrawn.
POOLABLE = ReportStatus.SUBMITTED


@dataclass(frozen=True)
class PoolKey:
    """What makes reports one pool. Fresh cherry has no process (None); an ungraded report
    (None) is a grade of its own, since a merchant prices unknown grade differently."""

    village_id: int
    product: Product
    process: Process | None
    grade: Grade | None


@dataclass(frozen=True)
class Pool:
    """One pool's facts that set a price: how much, from how many, how dry, since when."""

    key: PoolKey
    village_name: str
    grams: int
    farmers: int
    reports: int
    moisture_min_tenths: int | None  # None when no report of the pool gave a moisture
    moisture_max_tenths: int | None
    oldest_at: datetime


def _rank(value: Product | Process | Grade | None) -> tuple[int, int]:
    """Order enum members as declared (cherry, parchment, green; AA before C), None last."""
    if value is None:
        return (1, 0)
    return (0, list(type(value)).index(value))


def _sort_key(pool: Pool) -> tuple[object, ...]:
    k = pool.key
    return (pool.village_name, k.village_id, _rank(k.product), _rank(k.process), _rank(k.grade))


async def pools(session: AsyncSession) -> list[Pool]:
    """Every non-empty pool, by village name, then product, process and grade.

    One grouped query, whatever the number of reports; the few resulting rows are ordered
    here because SQLite and PostgreSQL place NULLs (cherry's process, no grade) differently
    and the stored enum strings do not sort in the order people expect.
    """
    r = HarvestReport
    rows = await session.execute(
        select(
            r.village_id,
            Village.name,
            r.product,
            r.process,
            r.grade,
            func.sum(r.quantity_g),
            func.count(func.distinct(r.farmer_id)),
            func.count(r.id),
            func.min(r.moisture_tenths),
            func.max(r.moisture_tenths),
            func.min(r.created_at),
        )
        .join(Village, Village.id == r.village_id)
        .where(r.status == POOLABLE)
        .group_by(r.village_id, Village.name, r.product, r.process, r.grade)
    )
    result = [
        Pool(
            key=PoolKey(village_id, product, process, grade),
            village_name=village_name,
            grams=int(grams),  # PostgreSQL sums a bigint as numeric (Decimal)
            farmers=farmers,
            reports=reports,
            moisture_min_tenths=moisture_min,
            moisture_max_tenths=moisture_max,
            oldest_at=oldest_at,
        )
        for (
            village_id,
            village_name,
            product,
            process,
            grade,
            grams,
            farmers,
            reports,
            moisture_min,
            moisture_max,
            oldest_at,
        ) in rows
    ]
    return sorted(result, key=_sort_key)


async def pool_reports(session: AsyncSession, key: PoolKey, lock: bool = False) -> list[PoolReport]:
    """The reports of one pool, oldest first: what bot/lots.plan_slices cuts into lots.

    `lock`: read them under their row locks (PostgreSQL; SQLite holds the write lock), in id
    order so two coordinators lock in the same order; a report another transaction is putting
    in a lot or withdrawing is waited for and then left out, since its status is read again."""
    r = HarvestReport
    query = select(r.id, r.farmer_id, r.quantity_g, r.created_at).where(
        r.status == POOLABLE,
        r.village_id == key.village_id,
        r.product == key.product,
        # `== None` compiles to IS NULL: cherry has no process, ungraded no grade.
        r.process == key.process,
        r.grade == key.grade,
    )
    if lock:
        query = query.order_by(r.id).with_for_update()
    rows = await session.execute(query)
    return oldest_first(PoolReport(*row) for row in rows)
