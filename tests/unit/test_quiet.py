"""Quiet hours: examples in Asia/Shanghai (no daylight saving) and America/New_York (with
it), and properties over any moment and any quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.quiet import is_quiet, next_allowed

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
NIGHT = (time(21, 0), time(7, 0))


def at(tz: ZoneInfo, y: int, mo: int, d: int, h: int, mi: int, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz, fold=fold)


@pytest.mark.parametrize(
    ("now", "allowed"),
    [
        (at(SHANGHAI, 2026, 11, 29, 12, 0), at(SHANGHAI, 2026, 11, 29, 12, 0)),
        (at(SHANGHAI, 2026, 11, 29, 20, 59), at(SHANGHAI, 2026, 11, 29, 20, 59)),
        (at(SHANGHAI, 2026, 11, 29, 21, 0), at(SHANGHAI, 2026, 11, 30, 7, 0)),
        (at(SHANGHAI, 2026, 11, 29, 23, 30), at(SHANGHAI, 2026, 11, 30, 7, 0)),
        (at(SHANGHAI, 2026, 11, 30, 0, 0), at(SHANGHAI, 2026, 11, 30, 7, 0)),
        (at(SHANGHAI, 2026, 11, 30, 6, 59), at(SHANGHAI, 2026, 11, 30, 7, 0)),
        (at(SHANGHAI, 2026, 11, 30, 7, 0), at(SHANGHAI, 2026, 11, 30, 7, 0)),
        # New York: the night the clocks go back (1 November 2026) is an hour longer ...
        (at(NEW_YORK, 2026, 10, 31, 22, 0), at(NEW_YORK, 2026, 11, 1, 7, 0)),
        (at(NEW_YORK, 2026, 11, 1, 1, 30, fold=1), at(NEW_YORK, 2026, 11, 1, 7, 0)),
        # ... and the one they go forward (8 March 2026) an hour shorter.
        (at(NEW_YORK, 2026, 3, 8, 3, 30), at(NEW_YORK, 2026, 3, 8, 7, 0)),
    ],
)
def test_examples(now: datetime, allowed: datetime) -> None:
    result = next_allowed(now, NIGHT, now.tzinfo)  # type: ignore[arg-type]
    assert result == allowed
    assert is_quiet(now, NIGHT, now.tzinfo) == (result != now)  # type: ignore[arg-type]


def test_quiet_hours_within_a_day_and_none() -> None:
    siesta = (time(12, 0), time(14, 0))
    assert next_allowed(at(SHANGHAI, 2026, 6, 1, 13, 0), siesta, SHANGHAI) == at(
        SHANGHAI, 2026, 6, 1, 14, 0
    )
    assert next_allowed(at(SHANGHAI, 2026, 6, 1, 23, 0), siesta, SHANGHAI) == at(
        SHANGHAI, 2026, 6, 1, 23, 0
    )
    noon = at(SHANGHAI, 2026, 6, 1, 12, 0)
    assert next_allowed(noon, None, SHANGHAI) == noon
    assert next_allowed(noon, (time(9, 0), time(9, 0)), SHANGHAI) == noon


def test_an_end_in_the_spring_gap_is_not_before_the_start() -> None:
    # 02:30 does not exist on 8 March 2026 in New York: read as 03:30 daylight time.
    quiet = (time(1, 0), time(2, 30))
    allowed = next_allowed(at(NEW_YORK, 2026, 3, 8, 1, 30), quiet, NEW_YORK)
    assert allowed == at(NEW_YORK, 2026, 3, 8, 3, 30)


moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
times = st.times()
zones = st.sampled_from([SHANGHAI, NEW_YORK, ZoneInfo("Europe/London")])


def _wall_quiet(moment: datetime, start: time, end: time, tz: ZoneInfo) -> bool:
    t = moment.astimezone(tz).time().replace(tzinfo=None)
    return start <= t < end if start < end else (t >= start or t < end)


@given(moments, times, times, zones)
def test_never_earlier_at_most_a_day_later_and_final(
    now: datetime, start: time, end: time, tz: ZoneInfo
) -> None:
    allowed = next_allowed(now, (start, end), tz)
    assert now <= allowed <= now + timedelta(hours=25)
    assert next_allowed(allowed, (start, end), tz) == allowed  # outside the quiet hours
    if allowed != now:
        assert is_quiet(now, (start, end), tz)


@given(moments, times, times)
def test_without_daylight_saving_it_is_the_wall_clock(
    now: datetime, start: time, end: time
) -> None:
    """In Asia/Shanghai quiet hours are exactly the wall-clock span: held moments are inside
    it, and they are held until the first moment whose clock reads `end`."""
    allowed = next_allowed(now, (start, end), SHANGHAI)
    if start == end:
        assert allowed == now
        return
    assert is_quiet(now, (start, end), SHANGHAI) == _wall_quiet(now, start, end, SHANGHAI)
    if allowed != now:
        local = allowed.astimezone(SHANGHAI)
        assert local.time().replace(tzinfo=None) == end
        assert allowed - now <= timedelta(hours=24)
        assert not _wall_quiet(allowed, start, end, SHANGHAI)
