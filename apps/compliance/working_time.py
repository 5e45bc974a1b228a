"""A business calendar's working time as sorted UTC intervals, so that SQL can measure it.

Pure module: no ORM, no settings, no clock. ``business_time.between`` answers one
pair of instants at a time in Python; the compliance selectors need the business
hours from ``mql_at`` to first contact for a whole cohort, and the sweep needs the
business time left on every open clock, inside one SQL statement. A
``WorkingIndex`` lists the working intervals of a span as three parallel arrays
(starts, ends, and the working microseconds before each start), so

    worked(x) = cum_us[i] + clamp(x - starts[i], 0, ends[i] - starts[i])

with ``i = width_bucket(x, starts)`` (a binary search in PostgreSQL, see the SQL
function ``compliance_worked_us`` created by migration 0003), and
``worked(b) - worked(a) == business_time.between(calendar, a, b)`` for every
``a <= b`` inside the span. That equality is a property test; the intervals are
built with the conversion rules business_time documents (fold=0 wall-clock bounds,
each day's intervals cut to its own ``[midnight, next midnight)`` window, holidays
and company days off skipped).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apps.sla.business_time import CALENDAR, BusinessCalendar, holidays_between

__all__ = ["WorkingIndex", "working_index"]

_US = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class WorkingIndex:
    """Working intervals of a span as parallel arrays (UTC), ready to pass to SQL."""

    starts: tuple[datetime, ...]
    ends: tuple[datetime, ...]
    # Working microseconds between starts[0] and starts[i].
    cum_us: tuple[int, ...]

    def worked_us(self, moment: datetime) -> int:
        """Working microseconds from the index's first interval to ``moment`` (the SQL twin)."""
        index = bisect.bisect_right(self.starts, moment.astimezone(UTC))
        if index == 0:
            return 0
        i = index - 1
        elapsed = (moment.astimezone(UTC) - self.starts[i]) // _US
        length = (self.ends[i] - self.starts[i]) // _US
        return self.cum_us[i] + max(0, min(elapsed, length))

    def as_sql_params(self) -> dict[str, list]:
        """The arrays under the names the metric and sweep SQL use."""
        return {
            "work_starts": list(self.starts),
            "work_ends": list(self.ends),
            "work_cum": list(self.cum_us),
        }


def working_index(calendar: BusinessCalendar, first: datetime, last: datetime) -> WorkingIndex:
    """The working intervals of ``calendar`` that cover ``[first, last]`` (aware datetimes).

    A calendar-mode calendar (every instant is working time) is one interval. An
    index with no working time at all gets one empty interval at ``first``, so the
    SQL arrays are never empty and every difference is 0.
    """
    low, high = first.astimezone(UTC), last.astimezone(UTC)
    if high < low:
        raise ValueError(f"last {last} is before first {first}")
    if calendar.mode == CALENDAR:
        return _index([(low - _ONE_DAY, high + _ONE_DAY)])
    zone = ZoneInfo(calendar.timezone)
    # A day early and a day late: a DST change next to midnight can put an instant
    # in the window of a day other than its wall-clock date (as business_time does).
    first_day = low.astimezone(zone).date() - _ONE_DAY
    last_day = high.astimezone(zone).date() + _ONE_DAY
    days_off = holidays_between(calendar, first_day, last_day)
    spans: list[tuple[datetime, datetime]] = []
    day = first_day
    while day <= last_day:
        if day not in days_off:
            spans.extend(_day_spans(calendar, zone, day))
        day += _ONE_DAY
    if not spans:
        return _index([(low, low)])
    return _index(spans)


def _day_spans(
    calendar: BusinessCalendar, zone: ZoneInfo, day: date
) -> list[tuple[datetime, datetime]]:
    day_start = _wall(zone, day, time(0))
    day_end = _wall(zone, day + _ONE_DAY, time(0))
    spans = []
    for interval in calendar.week[day.weekday()]:
        start = max(_wall(zone, day, interval.start), day_start)
        end = day_end if interval.end == time(0) else min(_wall(zone, day, interval.end), day_end)
        if start < end:
            spans.append((start, end))
    return spans


def _wall(zone: ZoneInfo, day: date, moment: time) -> datetime:
    """The UTC instant of a wall-clock time: fold=0 through a UTC round trip, as business_time."""
    return datetime.combine(day, moment.replace(fold=0), zone).astimezone(UTC)


def _index(spans: list[tuple[datetime, datetime]]) -> WorkingIndex:
    # Sorted and merged, so that starts is strictly ascending (width_bucket needs it)
    # and no instant counts twice where a spring-forward gap makes intervals overlap.
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    cum = []
    total = 0
    for start, end in merged:
        cum.append(total)
        total += (end - start) // _US
    return WorkingIndex(
        starts=tuple(s for s, _ in merged),
        ends=tuple(e for _, e in merged),
        cum_us=tuple(cum),
    )
