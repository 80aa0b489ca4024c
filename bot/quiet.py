"""Quiet hours (QUIET_HOURS, e.g. 21:00-07:00 local): when a non-urgent push may go.

Pure time arithmetic, no database. Quiet hours are read as intervals of real time, one
starting each local day: from `start` that day to `end` that day, or the next day when they
wrap over midnight. A local time that does not exist (a daylight-saving gap) is read with the
offset before the change, one that happens twice (the hour repeated in autumn) at its first
occurrence: either way the quiet hours end once, and never before they began.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Quiet = tuple[time, time]


def _interval(day: date, quiet: Quiet, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The quiet hours that begin on local `day`, as UTC moments."""
    start, end = quiet
    end_day = day + timedelta(days=1) if end <= start else day
    return (
        datetime.combine(day, start, tzinfo=tz).astimezone(UTC),
        datetime.combine(end_day, end, tzinfo=tz).astimezone(UTC),
    )


def next_allowed(now: datetime, quiet: Quiet | None, tz: ZoneInfo) -> datetime:
    """`now` when it is outside the quiet hours, else the moment they end (in UTC).

    No quiet hours (None, or start equal to end) never hold anything back."""
    if quiet is None or quiet[0] == quiet[1]:
        return now
    moment = now.astimezone(UTC)
    while True:
        today = moment.astimezone(tz).date()
        for day in (today - timedelta(days=1), today):
            begins, ends = _interval(day, quiet, tz)
            if begins <= moment < ends:
                moment = ends  # may begin the next quiet hours only in a zone's odd day
                break
        else:
            return now if moment == now.astimezone(UTC) else moment


def is_quiet(now: datetime, quiet: Quiet | None, tz: ZoneInfo) -> bool:
    return next_allowed(now, quiet, tz) != now
