"""The periods the programme's figures are counted over, in the programme's time zone.

The one place where "this month" and "this season" become instants: `/stats`, `farmgate
stats` and their tests all ask `span`. A period is half-open, [start, end): a lot closed at
00:00 on the first of the month (programme time) belongs to the new month."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo


class Period(enum.StrEnum):
    MONTH = "month"  # from the first of this month, 00:00 programme time
    SEASON = "season"  # from the latest season start (SEASON_START) on or before today
    ALL = "all"  # everything recorded


@dataclass(frozen=True)
class Span:
    """[start, end) as UTC-comparable aware datetimes; None means unbounded on that side."""

    period: Period
    start: datetime | None
    end: datetime | None

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment < self.end
        )


def parse_month_day(value: str) -> tuple[int, int]:
    """ "10-01" -> (10, 1). ValueError for anything that is not a day of every year (02-29
    is refused: a season must start every year)."""
    month_s, sep, day_s = value.strip().partition("-")
    if not sep or not month_s.isdigit() or not day_s.isdigit():
        raise ValueError(value)
    month, day = int(month_s), int(day_s)
    date(2023, month, day)  # a year without 29 February; raises ValueError
    return month, day


def season_start(today: date, month_day: str | tuple[int, int]) -> date:
    """The first day of the season `today` is in: the latest season start (SEASON_START,
    "10-01", or already parsed, (10, 1)) on or before it."""
    month, day = parse_month_day(month_day) if isinstance(month_day, str) else month_day
    this_year = date(today.year, month, day)
    return this_year if this_year <= today else date(today.year - 1, month, day)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def span(period: Period, now: datetime, tz: ZoneInfo, month_day: str) -> Span:
    """The period that contains `now`, from its first day's midnight in the programme's time
    zone until the next period starts (so figures for "this month" include nothing dated
    later, even a row written with a clock ahead)."""
    today = now.astimezone(tz).date()
    if period == Period.MONTH:
        first = today.replace(day=1)
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return Span(period, _midnight(first, tz), _midnight(following, tz))
    if period == Period.SEASON:
        first = season_start(today, month_day)
        following = first.replace(year=first.year + 1)
        return Span(period, _midnight(first, tz), _midnight(following, tz))
    return Span(period, None, None)
