"""Slicing a pool into lots: whole reports, oldest first, every lot but the last at target."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.lots import PoolReport, Slice, oldest_first, plan_slices

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _report(id: int, grams: int, minutes: int = 0, farmer_id: int = 1) -> PoolReport:
    return PoolReport(id, farmer_id, grams, T0 + timedelta(minutes=minutes))


@st.composite
def pool_reports(draw: st.DrawFn) -> list[PoolReport]:
    """Reports with unique ids, few farmers, equal times likely (ties must stay stable)."""
    ids = draw(st.lists(st.integers(1, 10_000), unique=True, max_size=40))
    return [
        _report(
            id,
            draw(st.integers(1, 20_000_000)),
            minutes=draw(st.integers(0, 5)),
            farmer_id=draw(st.integers(1, 6)),
        )
        for id in ids
    ]


targets = st.none() | st.integers(1, 60_000_000)


@given(pool_reports(), targets)
def test_each_report_in_exactly_one_slice_oldest_first(
    reports: list[PoolReport], target: int | None
) -> None:
    slices = plan_slices(reports, target)
    assert [r for s in slices for r in s.reports] == oldest_first(reports)
    assert all(s.reports for s in slices)


@given(pool_reports(), targets)
def test_totals_add_up_to_the_pool(reports: list[PoolReport], target: int | None) -> None:
    slices = plan_slices(reports, target)
    assert sum(s.grams for s in slices) == sum(r.grams for r in reports)
    for s in slices:
        assert s.grams == sum(r.grams for r in s.reports)
        assert set(s.farmer_ids) == {r.farmer_id for r in s.reports}
        assert len(s.farmer_ids) == len(set(s.farmer_ids))


@given(pool_reports(), st.integers(1, 60_000_000))
def test_every_slice_but_the_last_reaches_the_target_and_closes_there(
    reports: list[PoolReport], target: int
) -> None:
    slices = plan_slices(reports, target)
    for s in slices[:-1]:
        assert s.grams >= target
    for s in slices:
        # It closed at the first report that reached the target, not later.
        assert s.grams - s.reports[-1].grams < target


@given(pool_reports())
def test_no_target_is_the_whole_pool(reports: list[PoolReport]) -> None:
    slices = plan_slices(reports, None)
    assert slices == ([Slice(tuple(oldest_first(reports)))] if reports else [])


def test_a_report_is_never_split() -> None:
    reports = [_report(1, 3_000, 2), _report(2, 4_000, 1), _report(3, 1_000, 3)]
    [first, last] = plan_slices(reports, 5_000)
    assert ([r.id for r in first.reports], first.grams) == ([2, 1], 7_000)
    assert ([r.id for r in last.reports], last.grams) == ([3], 1_000)
    assert plan_slices(reports, 8_000)[0].grams == 8_000
    assert len(plan_slices(reports, 8_000)) == 1


def test_farmers_listed_once_in_order_of_entry() -> None:
    reports = [_report(1, 10, 0, 7), _report(2, 10, 1, 3), _report(3, 10, 2, 7)]
    assert plan_slices(reports, None)[0].farmer_ids == (7, 3)


def test_empty_pool_and_bad_target() -> None:
    assert plan_slices([], 5_000) == []
    assert plan_slices([], None) == []
    with pytest.raises(ValueError):
        plan_slices([_report(1, 10)], 0)
