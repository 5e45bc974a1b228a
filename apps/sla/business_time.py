"""Business-time arithmetic for SLA clocks: deadlines and elapsed working time.

Pure module: no ORM, no settings, no clock; callers pass the calendar and every
moment. Elapsed time is always real (UTC) time, so a working day that contains a
DST change is an hour shorter or longer than its wall-clock span.

Decisions callers can rely on:

* ``WorkingInterval.end == time(0)`` means 24:00, the midnight that ends the day;
  ``WorkingInterval(time(0), time(0))`` is the whole day.
* Working time is the union of half-open ``[start, end)`` intervals, so 17:00 is
  not working time in a 09:00-17:00 day.
* ``add`` returns the *earliest* moment by which the duration has elapsed: an
  interval end when the duration runs out exactly there (09:00 + 8h = 17:00 the
  same day), and ``start`` itself for a zero duration, even outside working time,
  because nothing has to elapse.
* Local wall-clock bounds become instants with ``fold=0`` and a UTC round trip:
  a bound inside a spring-forward gap lands as far after the gap's start as it is
  written (02:30 in a 02:00-03:00 gap is 03:30 new time), an ambiguous fall-back
  bound takes its first occurrence. The intervals of a local date are then cut to
  that date's window ``[its midnight, next midnight)`` (same conversion) and
  merged, so windows tile the time line and no instant counts twice.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "BUSINESS",
    "CALENDAR",
    "CLOSED_DATE_NAME",
    "BusinessCalendar",
    "CalendarError",
    "WorkingInterval",
    "add",
    "between",
    "holidays_between",
    "is_working_time",
    "standard_calendar",
    "validate",
]

BUSINESS = "business"
CALENDAR = "calendar"
CLOSED_DATE_NAME = "Company closed day"

_MODES = (BUSINESS, CALENDAR)
_DAY_NAMES = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
_MIDNIGHT = time(0)
_ONE_DAY = timedelta(days=1)
_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_WEEK_US = 7 * _DAY_US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Two years of consecutive closed days means the calendar can never open again
# (every working weekday closed); stop instead of walking towards year 9999.
_SEARCH_HORIZON_DAYS = 2 * 366


class CalendarError(ValueError):
    """Invalid business-calendar definition; the message names the problem for the admin form."""


@dataclass(frozen=True)
class WorkingInterval:
    """One stretch of wall-clock working time on a weekday; ``end == time(0)`` means 24:00."""

    start: time
    end: time

    def __post_init__(self) -> None:
        problem = _interval_problem(self)
        if problem:
            raise CalendarError(problem)

    def __str__(self) -> str:
        end = "24:00" if self.end == _MIDNIGHT else self.end.isoformat("minutes")
        return f"{self.start.isoformat('minutes')}-{end}"


@dataclass(frozen=True)
class BusinessCalendar:
    """A tenant's timezone, working week and days off: the only input of business-time arithmetic."""

    timezone: str
    # Exactly 7 entries, Monday..Sunday; () is a day off, several intervals a split shift.
    week: tuple[tuple[WorkingInterval, ...], ...]
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closed_dates: frozenset[date] = frozenset()
    # "calendar" counts plain elapsed time: every instant is working time.
    mode: str = BUSINESS


def standard_calendar(
    timezone: str = "UTC",
    *,
    country: str | None = None,
    subdivision: str | None = None,
) -> BusinessCalendar:
    """Mon-Fri 09:00-17:00 in ``timezone`` with optional public holidays: a new tenant's default."""
    nine_to_five = (WorkingInterval(time(9), time(17)),)
    calendar = BusinessCalendar(
        timezone=timezone,
        week=(nine_to_five,) * 5 + ((),) * 2,
        holiday_country=country,
        holiday_subdivision=subdivision,
    )
    validate(calendar)
    return calendar


def validate(calendar: BusinessCalendar) -> None:
    """Raise CalendarError naming the first problem, so a calendar is checked before it is saved."""
    if calendar.mode not in _MODES:
        raise CalendarError(f"mode must be one of {_MODES}, got {calendar.mode!r}")
    _zone(calendar.timezone)
    _check_week(calendar.week)
    _check_closed_dates(calendar.closed_dates)
    _check_holiday_region(calendar.holiday_country, calendar.holiday_subdivision)
    if calendar.mode == BUSINESS and not any(calendar.week):
        raise CalendarError("a business calendar needs at least one working interval")


def add(calendar: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """Earliest moment by which ``duration`` of working time has elapsed since ``start`` (an SLA due_at)."""
    _require_aware(start, "start")
    if duration < timedelta(0):
        raise ValueError(f"duration must not be negative, got {duration}")
    plan = _plan(calendar)
    if plan.mode == CALENDAR or not duration:
        # UTC arithmetic: Python adds wall-clock time to datetimes in a zone.
        return (start.astimezone(UTC) + duration).astimezone(plan.zone)
    cursor = _to_us(start)
    remaining = duration // _US
    # Start a day early: were a spring-forward gap to straddle midnight, an
    # instant's wall-clock date could be later than the day whose window holds it.
    day = _local_date(plan.zone, cursor) - _ONE_DAY
    day_start = _midnight_us(plan.zone, day)
    idle_days = 0
    while True:
        if cursor <= day_start and remaining > plan.week_total:
            # Keep some duration back so that a deadline falling exactly at the
            # end of a week's last interval is found by the day walk below.
            weeks = min(plan.open_weeks_from(day), (remaining - 1) // plan.week_total)
            if weeks:
                remaining -= weeks * plan.week_total
                day += timedelta(weeks=weeks)
                day_start += weeks * _WEEK_US
                idle_days = 0
        next_day = day + _ONE_DAY
        day_end = _midnight_us(plan.zone, next_day)
        idle_days += 1
        for span_start, span_end in plan.spans(day, day_start, day_end):
            if span_end <= cursor:
                continue
            begin = max(span_start, cursor)
            if remaining <= span_end - begin:
                return _from_us(begin + remaining, plan.zone)
            remaining -= span_end - begin
            idle_days = 0
        if idle_days > _SEARCH_HORIZON_DAYS:
            raise CalendarError(
                f"no working time in the {_SEARCH_HORIZON_DAYS} days before {next_day};"
                " check the closed dates and holidays"
            )
        day, day_start = next_day, day_end


def between(calendar: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    """Working time in ``[a, b)``, negated when ``b < a``: how much of an SLA clock has run."""
    _require_aware(a, "a")
    _require_aware(b, "b")
    plan = _plan(calendar)
    # Compare instants, not datetimes: two datetimes in the same zone compare by
    # wall clock and ignore fold, which misorders the repeated fall-back hour.
    low, high = _to_us(a), _to_us(b)
    if high < low:
        return -between(calendar, b, a)
    if plan.mode == CALENDAR:
        return timedelta(microseconds=high - low)
    total = 0
    day = _local_date(plan.zone, low) - _ONE_DAY
    day_start = _midnight_us(plan.zone, day)
    while day_start < high:
        if low <= day_start:
            weeks = min(plan.open_weeks_from(day), (high - day_start) // _WEEK_US)
            total += weeks * plan.week_total
            day += timedelta(weeks=weeks)
            day_start += weeks * _WEEK_US
        next_day = day + _ONE_DAY
        day_end = _midnight_us(plan.zone, next_day)
        for span_start, span_end in plan.spans(day, day_start, day_end):
            total += max(0, min(span_end, high) - max(span_start, low))
        day, day_start = next_day, day_end
    return timedelta(microseconds=total)


def is_working_time(calendar: BusinessCalendar, moment: datetime) -> bool:
    """Whether ``moment`` lies inside a working interval (always true in calendar mode)."""
    _require_aware(moment, "moment")
    plan = _plan(calendar)
    if plan.mode == CALENDAR:
        return True
    instant = _to_us(moment)
    local = _local_date(plan.zone, instant)
    # Neighbours too: a DST change next to midnight can put an instant in the
    # window of a day other than its wall-clock date (see add).
    for day in (local - _ONE_DAY, local, local + _ONE_DAY):
        day_start = _midnight_us(plan.zone, day)
        day_end = _midnight_us(plan.zone, day + _ONE_DAY)
        for span_start, span_end in plan.spans(day, day_start, day_end):
            if span_start <= instant < span_end:
                return True
    return False


def holidays_between(calendar: BusinessCalendar, first: date, last: date) -> dict[date, str]:
    """Days off in ``[first, last]`` with names, date-ordered, for the calendar preview page."""
    # Listed whatever the mode: the preview shows the configuration, and a
    # calendar-mode clock simply does not consult it.
    _plan(calendar)
    names: dict[date, str] = {}
    if calendar.holiday_country:
        for year in range(first.year, last.year + 1):
            holiday_names = _public_holidays(
                calendar.holiday_country, calendar.holiday_subdivision, year
            )
            names.update((day, name) for day, name in holiday_names.items() if first <= day <= last)
    for day in calendar.closed_dates:
        if first <= day <= last:
            # A public holiday's own name says more than the generic label.
            names.setdefault(day, CLOSED_DATE_NAME)
    return dict(sorted(names.items()))


# --- validation -------------------------------------------------------------


def _interval_problem(interval: object) -> str | None:
    """Why ``interval`` is not a valid WorkingInterval, or None; shared by construction and validate."""
    if not isinstance(interval, WorkingInterval):
        return f"expected a WorkingInterval, got {interval!r}"
    start, end = interval.start, interval.end
    if not isinstance(start, time) or not isinstance(end, time):
        return f"interval bounds must be datetime.time values, got {start!r}-{end!r}"
    if start.tzinfo is not None or end.tzinfo is not None:
        return "interval bounds are wall-clock times in the calendar's timezone; drop tzinfo"
    if end != _MIDNIGHT and start >= end:
        return (
            f"interval start {start.isoformat()} must be before end {end.isoformat()}"
            " (use time(0) as the end for midnight)"
        )
    return None


def _check_week(week: object) -> None:
    """Raise CalendarError unless ``week`` is 7 days of sorted, non-overlapping intervals."""
    if not isinstance(week, tuple) or len(week) != 7:
        size = len(week) if isinstance(week, tuple) else type(week).__name__
        raise CalendarError(f"week must be a tuple of 7 days, Monday..Sunday; got {size}")
    for name, intervals in zip(_DAY_NAMES, week, strict=True):
        if not isinstance(intervals, tuple):
            raise CalendarError(f"{name}: intervals must be a tuple, got {intervals!r}")
        for interval in intervals:
            problem = _interval_problem(interval)
            if problem:
                raise CalendarError(f"{name}: {problem}")
        for earlier, later in itertools.pairwise(intervals):
            if earlier.end == _MIDNIGHT or later.start < earlier.end:
                raise CalendarError(
                    f"{name}: intervals {earlier} and {later} overlap or are not"
                    " sorted by start time"
                )


def _check_closed_dates(closed_dates: object) -> None:
    """Raise CalendarError unless ``closed_dates`` is a frozenset of plain dates."""
    if not isinstance(closed_dates, frozenset):
        raise CalendarError(f"closed_dates must be a frozenset, got {closed_dates!r}")
    for day in closed_dates:
        # datetime subclasses date; a datetime here is a caller mix-up.
        if type(day) is not date:
            raise CalendarError(f"closed_dates must hold dates, got {day!r}")


def _check_holiday_region(country: object, subdivision: object) -> None:
    """Raise CalendarError unless the holidays package knows the country/subdivision."""
    if country is None:
        if subdivision is not None:
            raise CalendarError("holiday_subdivision needs a holiday_country")
        return
    if not isinstance(country, str) or not country:
        raise CalendarError(f"holiday_country must be a country code, got {country!r}")
    if subdivision is not None and (not isinstance(subdivision, str) or not subdivision):
        raise CalendarError(
            f"holiday_subdivision must be a subdivision code or None, got {subdivision!r}"
        )
    # Any year will do: building the holidays object rejects an unknown region.
    _public_holidays(country, subdivision, 2000)


@functools.lru_cache(maxsize=512)
def _public_holidays(country: str, subdivision: str | None, year: int) -> Mapping[date, str]:
    """Public holidays of one year, cached because building them costs ~0.2 ms."""
    try:
        found = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError as error:  # the package's "unknown country/subdiv"
        raise CalendarError(f"unknown holiday region: {error}") from error
    return MappingProxyType(dict(found))


def _zone(key: object) -> ZoneInfo:
    """The ZoneInfo for an IANA name, or CalendarError naming the bad value."""
    if not isinstance(key, str):
        raise CalendarError(f"timezone must be an IANA name, got {key!r}")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise CalendarError(f"unknown timezone {key!r}") from error


def _require_aware(moment: datetime, name: str) -> None:
    """Raise ValueError for a naive datetime: its instant would depend on the server's zone."""
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, got {moment!r}")
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment!r}")


# --- compiled calendar --------------------------------------------------------


@dataclass(frozen=True)
class _Year:
    """One year's days off and the days that stop whole-week skipping."""

    closed: frozenset[date]
    # Sorted days off and DST-change days: outside them a 7-day block has
    # exactly the nominal weekly working time.
    irregular: tuple[date, ...]


class _Plan:
    """A validated calendar in microsecond offsets, with per-year day-off tables filled lazily."""

    __slots__ = ("_calendar", "_years", "mode", "week_offsets", "week_times", "week_total", "zone")

    def __init__(self, calendar: BusinessCalendar) -> None:
        self._calendar = calendar
        self._years: dict[int, _Year] = {}
        self.mode = calendar.mode
        self.zone = _zone(calendar.timezone)
        # fold=0 everywhere: the documented choice for ambiguous bounds.
        self.week_times = tuple(
            tuple(
                (interval.start.replace(fold=0), interval.end.replace(fold=0))
                for interval in intervals
            )
            for intervals in calendar.week
        )
        self.week_offsets = tuple(
            tuple((_time_us(start), _time_us(end) or _DAY_US) for start, end in times)
            for times in self.week_times
        )
        self.week_total = sum(end - start for day in self.week_offsets for start, end in day)

    def year(self, year: int) -> _Year:
        """Days off and irregular days of ``year``, computed once per plan."""
        found = self._years.get(year)
        if found is None:
            calendar = self._calendar
            closed = {day for day in calendar.closed_dates if day.year == year}
            if calendar.holiday_country:
                closed.update(
                    _public_holidays(calendar.holiday_country, calendar.holiday_subdivision, year)
                )
            # A day off that has no working hours anyway changes no weekly total,
            # but a DST change always does shift the midnights.
            irregular = {day for day in closed if self.week_offsets[day.weekday()]}
            irregular |= _offset_change_days(calendar.timezone, year)
            found = _Year(closed=frozenset(closed), irregular=tuple(sorted(irregular)))
            self._years[year] = found
        return found

    def open_weeks_from(self, day: date) -> int:
        """How many whole 7-day blocks from ``day`` have no day off and no DST change."""
        for year in (day.year, day.year + 1):
            irregular = self.year(year).irregular
            index = bisect.bisect_left(irregular, day)
            if index < len(irregular):
                return (irregular[index] - day).days // 7
        # Nothing irregular for two years: skip that far, the caller asks again.
        return (date(day.year + 2, 1, 1) - day).days // 7

    def spans(self, day: date, day_start: int, day_end: int) -> list[tuple[int, int]]:
        """Working spans of local ``day`` as sorted, disjoint UTC microsecond pairs."""
        if day in self.year(day.year).closed:
            return []
        weekday = day.weekday()
        if day_end - day_start == _DAY_US:
            # Same UTC offset at both midnights: no DST change today, so
            # wall-clock offsets from midnight are real elapsed time.
            return [
                (day_start + start, day_start + end) for start, end in self.week_offsets[weekday]
            ]
        spans = []
        for start, end in self.week_times[weekday]:
            span_start = max(_wall_us(self.zone, day, start), day_start)
            span_end = day_end if end == _MIDNIGHT else _wall_us(self.zone, day, end)
            span_end = min(span_end, day_end)
            if span_start < span_end:
                spans.append((span_start, span_end))
        # A bound in a spring-forward gap maps past the gap and can overlap the
        # next interval's image; merge so nothing counts twice.
        spans.sort()
        merged: list[tuple[int, int]] = []
        for span_start, span_end in spans:
            if merged and span_start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], span_end))
            else:
                merged.append((span_start, span_end))
        return merged


def _plan(calendar: BusinessCalendar) -> _Plan:
    """The compiled plan for ``calendar``; validates it on first use."""
    try:
        return _compiled(calendar)
    except TypeError:
        # Unhashable field (a list instead of a tuple): let validate name it.
        validate(calendar)
        raise


@functools.lru_cache(maxsize=256)
def _compiled(calendar: BusinessCalendar) -> _Plan:
    """Validate and compile once per calendar; SLA versions reuse a handful of calendars."""
    validate(calendar)
    return _Plan(calendar)


@functools.lru_cache(maxsize=512)
def _offset_change_days(timezone: str, year: int) -> frozenset[date]:
    """Local dates of ``year`` whose next midnight has a different UTC offset (DST days)."""
    zone = ZoneInfo(timezone)
    first = date(year, 1, 1).toordinal()
    offsets = [
        datetime.combine(date.fromordinal(ordinal), _MIDNIGHT, zone).utcoffset()
        for ordinal in range(first, date(year + 1, 1, 1).toordinal() + 1)
    ]
    return frozenset(
        date.fromordinal(first + index)
        for index, (today, tomorrow) in enumerate(itertools.pairwise(offsets))
        if today != tomorrow
    )


# --- instants as integer microseconds since the epoch (exact, no float) ---------


def _time_us(moment: time) -> int:
    """Microseconds from midnight to the wall-clock ``moment``."""
    return (
        (moment.hour * 60 + moment.minute) * 60 + moment.second
    ) * 1_000_000 + moment.microsecond


def _to_us(moment: datetime) -> int:
    """The instant of an aware datetime, honouring its fold."""
    return (moment - _EPOCH) // _US


def _from_us(instant: int, zone: ZoneInfo) -> datetime:
    """The aware datetime in ``zone`` for an instant."""
    return (_EPOCH + timedelta(microseconds=instant)).astimezone(zone)


def _local_date(zone: ZoneInfo, instant: int) -> date:
    """The wall-clock date in ``zone`` at an instant."""
    return _from_us(instant, zone).date()


def _wall_us(zone: ZoneInfo, day: date, moment: time) -> int:
    """The instant of wall-clock ``moment`` on ``day``: fold=0, via UTC (see module docstring)."""
    return _to_us(datetime.combine(day, moment, zone))


def _midnight_us(zone: ZoneInfo, day: date) -> int:
    """The instant local ``day`` starts, converted like any other wall-clock bound."""
    return _to_us(datetime.combine(day, _MIDNIGHT, zone))
