"""The programme's figures over a real database (SQLite and PostgreSQL): each figure as
docs/figures.md defines it, rows on both sides of each period boundary (midnight in the
programme's time zone), who may see them; and the periods themselves."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import BigInteger, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auction import lot_value_fen
from bot.config import Settings
from bot.services.access import OPERATOR
from bot.services.errors import DomainError
from bot.services.figures import Figures, VillageFarmers, figures, lot_value_sql
from bot.services.periods import Period, parse_month_day, season_start, span
from tests.programme_data import NOW, TZ, local, seed


def _span(period: Period) -> object:
    return span(period, NOW, TZ, "10-01")


async def _figures(session: AsyncSession, period: Period) -> Figures:
    await seed(session)
    return await figures(session, OPERATOR, span(period, NOW, TZ, "10-01"))


async def test_this_month(session: AsyncSession) -> None:
    f = await _figures(session, Period.MONTH)
    assert f.span.start == local(2026, 11, 1) and f.span.end == local(2026, 12, 1)
    assert f.farmers == 1  # B at 00:00 on 1 November; A one second earlier is October's
    assert f.farmers_by_village == (
        VillageFarmers("Conggang", 1),
        VillageFarmers("Empty", 0),
        VillageFarmers("Nankang", 0),
    )
    assert (f.reports, f.reported_grams) == (1, 100_000)  # the withdrawn report is not counted
    assert (f.lots_opened, f.lots_sold, f.lots_unsold) == (5, 2, 1)
    # L1 collected: 990 kg invoiced 22,126.50; L2 not yet: 500 kg x 22.01 = 11,005.00.
    assert f.sold_grams == 1_490_000
    assert f.sales_fen == 2_212_650 + 1_100_500
    assert f.invoiced_fen == 2_212_650
    assert f.average_fen_per_kg == 2224  # 33,131.50 / 1,490 kg = 22.2359...
    assert (f.merchants_approved, f.merchants_active) == (1, 1)
    assert (f.payouts_scheduled, f.payouts_scheduled_fen) == (1, 100_500)  # net + correction
    assert (f.payouts_paid, f.payouts_paid_fen) == (1, 200_000)
    assert (f.payouts_disputed, f.disputes_open) == (2, 1)


async def test_this_season(session: AsyncSession) -> None:
    f = await _figures(session, Period.SEASON)
    assert f.span.start == local(2026, 10, 1) and f.span.end == local(2027, 10, 1)
    assert f.farmers == 3  # C at the season's first instant; D a minute before is not
    assert f.farmers_by_village == (
        VillageFarmers("Conggang", 2),
        VillageFarmers("Empty", 0),
        VillageFarmers("Nankang", 1),
    )
    assert (f.reports, f.reported_grams) == (2, 300_000)
    # L4 closed at 23:30 on 31 October, programme time (15:30 UTC): this season, not November.
    assert (f.lots_opened, f.lots_sold, f.lots_unsold) == (6, 3, 1)
    assert f.sold_grams == 3_490_000
    assert f.sales_fen == 7_313_150
    assert f.average_fen_per_kg == (2 * 7_313_150 * 1000 + 3_490_000) // (2 * 3_490_000)
    assert (f.merchants_approved, f.merchants_active) == (2, 2)


async def test_all(session: AsyncSession) -> None:
    f = await _figures(session, Period.ALL)
    assert f.span.start is None and f.span.end is None
    assert f.farmers == 4  # the farmer who never finished registering is no farmer yet
    assert (f.reports, f.reported_grams) == (3, 600_000)
    assert (f.lots_opened, f.lots_sold, f.lots_unsold) == (7, 4, 1)
    assert (f.sold_grams, f.sales_fen) == (3_590_000, 7_613_150)
    assert (f.merchants_approved, f.merchants_active) == (3, 3)  # the pending one is neither
    assert (f.payouts_paid, f.payouts_paid_fen) == (2, 500_000)
    assert (f.payouts_disputed, f.disputes_open) == (3, 1)


async def test_an_empty_programme(session: AsyncSession) -> None:
    f = await figures(session, OPERATOR, span(Period.ALL, NOW, TZ, "10-01"))
    assert f.farmers == f.sold_grams == f.sales_fen == f.payouts_paid_fen == 0
    assert f.farmers_by_village == ()
    assert f.average_fen_per_kg is None


async def test_only_coordinators_see_the_figures(session: AsyncSession) -> None:
    data = await seed(session)
    month = span(Period.MONTH, NOW, TZ, "10-01")
    for who in ("A", "M1"):
        with pytest.raises(DomainError) as refused:
            await figures(session, data.users[who], month)
        assert refused.value.reason == "not_allowed"
    assert (await figures(session, data.users["coord"], month)).farmers == 1


async def test_the_sql_value_is_lot_value_fen(session: AsyncSession) -> None:
    """One rounding rule: the aggregate's formula agrees with bot.auction's, halves included."""
    cases = [(2235, 1_000_500), (1, 500), (1, 499), (3, 1_500), (99_999, 123_456_789), (0, 10)]
    values = (
        await session.execute(
            select(
                *(
                    lot_value_sql(literal(price, BigInteger), literal(grams, BigInteger))
                    for price, grams in cases
                )
            )
        )
    ).one()
    assert [int(v) for v in values] == [lot_value_fen(p, g) for p, g in cases]


# --- Periods (no database) ---------------------------------------------------------------------


def test_month_boundaries_are_programme_midnights() -> None:
    # 1 November 00:30 in Beijing is still 31 October in UTC: the month is November.
    early = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
    month = span(Period.MONTH, early, TZ, "10-01")
    assert month.start == local(2026, 11, 1) and month.end == local(2026, 12, 1)
    assert month.start is not None and month.start.astimezone(UTC) == datetime(
        2026, 10, 31, 16, 0, tzinfo=UTC
    )
    december = span(Period.MONTH, local(2026, 12, 31, 23, 59), TZ, "10-01")
    assert december.end == local(2027, 1, 1)
    assert month.contains(local(2026, 11, 30, 23, 59, 59))
    assert not month.contains(local(2026, 12, 1))


def test_season_starts_on_the_latest_season_start() -> None:
    assert season_start(date(2026, 9, 30), "10-01") == date(2025, 10, 1)
    assert season_start(date(2026, 10, 1), "10-01") == date(2026, 10, 1)
    assert season_start(date(2027, 3, 15), "10-01") == date(2026, 10, 1)
    assert season_start(date(2027, 3, 15), "01-15") == date(2027, 1, 15)
    assert season_start(date(2027, 1, 14), (1, 15)) == date(2026, 1, 15)
    season = span(Period.SEASON, local(2026, 10, 1, 0, 0), TZ, "10-01")
    assert season.start == local(2026, 10, 1)
    before = span(Period.SEASON, local(2026, 9, 30, 23, 59), TZ, "10-01")
    assert before.start == local(2025, 10, 1) and before.end == local(2026, 10, 1)


@pytest.mark.parametrize("bad", ["02-29", "13-01", "10-32", "october", "10/01", "10-", ""])
def test_a_season_start_is_a_day_of_every_year(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_month_day(bad)
    with pytest.raises(ValidationError, match="SEASON_START"):
        Settings(_env_file=None, season_start=bad)  # type: ignore[call-arg]


@given(st.dates(min_value=date(2023, 1, 1), max_value=date(2023, 12, 31)))
def test_every_day_of_a_year_is_a_season_start(day: date) -> None:
    assert parse_month_day(day.strftime("%m-%d")) == (day.month, day.day)
    assert season_start(day, day.strftime("%m-%d")) == day


@given(st.text(max_size=8))
def test_a_typed_season_start_parses_or_is_refused(text: str) -> None:
    try:
        month, day = parse_month_day(text)
    except ValueError:
        return
    assert date(2023, month, day)


def test_the_default_season_starts_in_october() -> None:
    assert Settings(_env_file=None).season_start == "10-01"  # type: ignore[call-arg]
    assert parse_month_day("04-01") == (4, 1)
