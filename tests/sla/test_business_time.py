"""Tests for apps.sla.business_time: worked SLA examples, DST, holidays and properties."""

from __future__ import annotations

import functools
from collections.abc import Container
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from apps.sla.business_time import (
    CALENDAR,
    CLOSED_DATE_NAME,
    BusinessCalendar,
    CalendarError,
    WorkingInterval,
    add,
    between,
    holidays_between,
    is_working_time,
    standard_calendar,
    validate,
)

ONE_US = timedelta(microseconds=1)
QUARTER_HOUR = timedelta(minutes=15)
HOUR = timedelta(hours=1)
NEW_YORK = "America/New_York"
LONDON = "Europe/London"

# Derandomized and without an example database: the suite must give the same
# answer on every machine and leave no files behind. The deadline is far above
# an example's few milliseconds: it only catches a slide into unbounded walks.
PROPERTY = settings(
    max_examples=100,
    deadline=timedelta(seconds=2),
    derandomize=True,
    database=None,
)


def at(zone: str, *fields: int, fold: int = 0) -> datetime:
    """An aware wall-clock datetime in ``zone``."""
    return datetime(*fields, tzinfo=ZoneInfo(zone), fold=fold)


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC, so that comparisons and arithmetic use real elapsed time."""
    return moment.astimezone(UTC)


def interval(start: str, end: str) -> WorkingInterval:
    """A WorkingInterval from "HH:MM" strings; "24:00" is the midnight end."""
    return WorkingInterval(
        time.fromisoformat(start), time.fromisoformat(end.replace("24:00", "00:00"))
    )


def weekly(
    *days: tuple[WorkingInterval, ...], zone: str = "UTC", **fields: object
) -> BusinessCalendar:
    """A calendar from 7 day tuples, Monday first."""
    return BusinessCalendar(timezone=zone, week=days, **fields)


def only(weekday: int, *intervals: object) -> tuple[tuple[object, ...], ...]:
    """A week with ``intervals`` on one weekday (0 = Monday) and nothing else."""
    return tuple(intervals if day == weekday else () for day in range(7))


def every_day(*intervals: WorkingInterval, zone: str) -> BusinessCalendar:
    """The same intervals on all 7 days, for DST days that fall on a Sunday."""
    return weekly(*(intervals,) * 7, zone=zone)


NINE_TO_FIVE = standard_calendar()
SPLIT_SHIFT = weekly(*((interval("09:00", "12:00"), interval("13:00", "17:00")),) * 5, (), ())


# --- add: worked examples -------------------------------------------------------


def test_add_skipping_a_weekend_counts_from_the_next_opening_not_the_time_of_day() -> None:
    # given Mon-Fri 09:00-17:00 and a lead arriving on Saturday at 10:00
    start = at("UTC", 2025, 1, 4, 10)
    # when 4 business hours are added
    due = add(NINE_TO_FIVE, start, 4 * HOUR)
    # then the clock starts Monday 09:00, not "Monday at the same time of day":
    # a well-known CRM answers 14:00 here.
    assert due.isoformat() == "2025-01-06T13:00:00+00:00"


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        ("2025-01-10T16:00+00:00", 2, "2025-01-13T10:00:00+00:00"),  # Friday to Monday
        ("2025-01-06T09:00+00:00", 8, "2025-01-06T17:00:00+00:00"),  # exact end: same day
        ("2025-01-10T17:00+00:00", 8, "2025-01-13T17:00:00+00:00"),  # from closing
        ("2025-01-06T07:00+00:00", 1, "2025-01-06T10:00:00+00:00"),  # before opening
        ("2025-01-06T18:00+00:00", 1, "2025-01-07T10:00:00+00:00"),  # after closing
        ("2025-01-06T17:00+00:00", 1, "2025-01-07T10:00:00+00:00"),  # at closing
        ("2025-01-06T10:30+00:00", 3, "2025-01-06T13:30:00+00:00"),  # inside
        ("2025-01-06T16:59+00:00", 1 / 60, "2025-01-06T17:00:00+00:00"),  # last minute
        ("2025-01-06T09:00+00:00", 40, "2025-01-10T17:00:00+00:00"),  # a whole week
        ("2025-01-06T09:00+00:00", 41, "2025-01-13T10:00:00+00:00"),  # a week and an hour
        ("2025-01-04T00:00+00:00", 80, "2025-01-17T17:00:00+00:00"),  # two weeks from Saturday
        ("2025-01-06T08:00-05:00", 1, "2025-01-06T14:00:00+00:00"),  # start given in New York
    ],
)
def test_add_nine_to_five(start: str, hours: float, expected: str) -> None:
    due = add(NINE_TO_FIVE, datetime.fromisoformat(start), timedelta(hours=hours))
    assert due.isoformat() == expected


def test_add_skips_a_custom_closed_monday() -> None:
    calendar = weekly(*NINE_TO_FIVE.week, closed_dates=frozenset({date(2025, 1, 13)}))
    due = add(calendar, at("UTC", 2025, 1, 10, 16), 2 * HOUR)
    assert due.isoformat() == "2025-01-14T10:00:00+00:00"


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        ("2025-01-06T11:00+00:00", 2, "2025-01-06T14:00:00+00:00"),  # across lunch
        ("2025-01-06T11:00+00:00", 1, "2025-01-06T12:00:00+00:00"),  # ends at lunch
        ("2025-01-06T12:30+00:00", 1, "2025-01-06T14:00:00+00:00"),  # starts at lunch
        ("2025-01-06T09:00+00:00", 7, "2025-01-06T17:00:00+00:00"),  # the whole day
        ("2025-01-10T16:00+00:00", 4, "2025-01-13T12:00:00+00:00"),  # Friday to Monday
    ],
)
def test_add_split_shift(start: str, hours: float, expected: str) -> None:
    due = add(SPLIT_SHIFT, datetime.fromisoformat(start), timedelta(hours=hours))
    assert due.isoformat() == expected


@pytest.mark.parametrize(
    ("zone", "country", "subdivision", "start", "expected"),
    [
        # Australia Day, Monday 26 January 2026.
        ("Australia/Sydney", "AU", "NSW", (2026, 1, 23, 16), "2026-01-27T10:00:00+11:00"),
        # Christmas Day and Boxing Day, Thursday and Friday.
        (LONDON, "GB", "ENG", (2025, 12, 24, 16), "2025-12-29T10:00:00+00:00"),
        # Cesar Chavez Day, Tuesday 31 March 2026: a California holiday...
        ("America/Los_Angeles", "US", "CA", (2026, 3, 30, 16), "2026-04-01T10:00:00-07:00"),
        # ...but not a federal one.
        ("America/Los_Angeles", "US", None, (2026, 3, 30, 16), "2026-03-31T10:00:00-07:00"),
    ],
)
def test_add_skips_public_holidays(
    zone: str, country: str, subdivision: str | None, start: tuple[int, ...], expected: str
) -> None:
    calendar = standard_calendar(zone, country=country, subdivision=subdivision)
    assert add(calendar, at(zone, *start), 2 * HOUR).isoformat() == expected


@pytest.mark.parametrize(
    "start",
    [at("UTC", 2025, 1, 4, 10), at("UTC", 2025, 1, 6, 10), at("UTC", 2025, 1, 6, 17)],
    ids=["weekend", "working", "at-closing"],
)
def test_add_zero_duration_returns_the_start_itself(start: datetime) -> None:
    # Nothing has to elapse, so even a non-working start is already "due".
    assert add(NINE_TO_FIVE, start, timedelta(0)) == start


def test_add_returns_the_calendar_timezone() -> None:
    calendar = standard_calendar(LONDON)
    due = add(calendar, at("UTC", 2025, 7, 7, 8), HOUR)
    assert due.tzinfo == ZoneInfo(LONDON)
    assert due.isoformat() == "2025-07-07T10:00:00+01:00"


def test_add_1000_business_hours() -> None:
    # Correctness only; the speed figure is measured outside the suite.
    due = add(NINE_TO_FIVE, at("UTC", 2025, 1, 6, 9), 1000 * HOUR)
    # 125 eight-hour days = 25 whole weeks: Friday of week 25 at closing.
    assert due.isoformat() == "2025-06-27T17:00:00+00:00"
    london = standard_calendar(LONDON, country="GB", subdivision="ENG")
    start = at(LONDON, 2025, 1, 6, 9)
    # Four bank holidays on the way (Good Friday, Easter Monday, two in May)
    # and the change to BST on 30 March.
    due_london = add(london, start, 1000 * HOUR)
    assert due_london.isoformat() == "2025-07-03T17:00:00+01:00"
    assert between(london, start, due_london) == 1000 * HOUR


@pytest.mark.parametrize(
    "calendar",
    [
        standard_calendar(LONDON, country="GB", subdivision="ENG"),
        standard_calendar(NEW_YORK, country="US", subdivision="CA"),
        weekly(
            *SPLIT_SHIFT.week,
            zone="Australia/Sydney",
            closed_dates=frozenset({date(2025, 6, 4)}),
        ),
    ],
    ids=["london", "new-york", "sydney-split"],
)
def test_whole_week_skipping_matches_an_hour_by_hour_walk(calendar: BusinessCalendar) -> None:
    start = at("UTC", 2025, 1, 3, 15)
    walked = start
    for _ in range(1000):
        walked = add(calendar, walked, HOUR)
    assert utc(add(calendar, start, 1000 * HOUR)) == utc(walked)


# --- between --------------------------------------------------------------------

GB_ENG = standard_calendar(LONDON, country="GB", subdivision="ENG")


@pytest.mark.parametrize(
    ("calendar", "a", "b", "hours"),
    [
        (NINE_TO_FIVE, "2025-01-06T09:00+00:00", "2025-01-10T17:00+00:00", 40),  # a week
        (NINE_TO_FIVE, "2025-01-10T17:00+00:00", "2025-01-06T09:00+00:00", -40),  # reversed
        (NINE_TO_FIVE, "2025-01-10T16:00+00:00", "2025-01-13T10:00+00:00", 2),  # weekend
        (NINE_TO_FIVE, "2025-01-04T10:00+00:00", "2025-01-05T10:00+00:00", 0),  # closed
        (NINE_TO_FIVE, "2025-01-06T10:00+00:00", "2025-01-06T10:00+00:00", 0),  # empty
        (NINE_TO_FIVE, "2025-01-06T12:00+00:00", "2025-01-06T23:00+09:00", 2),  # two zones
        (NINE_TO_FIVE, "2025-01-01T00:00+00:00", "2026-01-01T00:00+00:00", 261 * 8),  # 2025
        (SPLIT_SHIFT, "2025-01-06T00:00+00:00", "2025-01-07T00:00+00:00", 7),  # split day
        (SPLIT_SHIFT, "2025-01-06T11:00+00:00", "2025-01-06T14:00+00:00", 2),  # over lunch
        (GB_ENG, "2025-12-22T00:00+00:00", "2026-01-05T00:00+00:00", 7 * 8),  # Christmas
    ],
)
def test_between(calendar: BusinessCalendar, a: str, b: str, hours: int) -> None:
    elapsed = between(calendar, datetime.fromisoformat(a), datetime.fromisoformat(b))
    assert elapsed == timedelta(hours=hours)


# --- DST --------------------------------------------------------------------------

ALL_DAY = interval("00:00", "24:00")


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        (NEW_YORK, date(2025, 3, 9), 23),
        (NEW_YORK, date(2025, 3, 10), 24),
        (NEW_YORK, date(2025, 11, 2), 25),
        (LONDON, date(2025, 3, 30), 23),
        (LONDON, date(2025, 10, 26), 25),
        # Santiago changes at midnight: 2025-09-07 00:00 does not exist.
        ("America/Santiago", date(2025, 9, 7), 23),
        ("America/Santiago", date(2025, 4, 5), 25),
        # Lord Howe Island moves its clocks by 30 minutes.
        ("Australia/Lord_Howe", date(2025, 10, 5), 23.5),
        ("Australia/Lord_Howe", date(2025, 4, 6), 24.5),
        # Samoa skipped 30 December 2011 when it crossed the date line.
        ("Pacific/Apia", date(2011, 12, 30), 0),
        ("Pacific/Apia", date(2011, 12, 31), 24),
    ],
)
def test_a_whole_working_day_lasts_its_real_length(zone: str, day: date, hours: float) -> None:
    calendar = every_day(ALL_DAY, zone=zone)
    midnight = datetime.combine(day, time(0), ZoneInfo(zone))
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(zone))
    assert between(calendar, midnight, next_midnight) == timedelta(hours=hours)
    assert utc(add(calendar, midnight, timedelta(hours=hours))) == utc(next_midnight)


@pytest.mark.parametrize(
    ("zone", "start", "duration", "expected"),
    [
        # US DST starts Sunday 2025-03-09; Friday is EST (-05:00), Monday EDT (-04:00).
        (NEW_YORK, (2025, 3, 7, 9), 12 * HOUR, "2025-03-10T13:00:00-04:00"),
        (NEW_YORK, (2025, 3, 7, 16), 12 * HOUR, "2025-03-11T12:00:00-04:00"),
        (NEW_YORK, (2025, 10, 31, 9), 12 * HOUR, "2025-11-03T13:00:00-05:00"),
        (LONDON, (2025, 3, 28, 9), 12 * HOUR, "2025-03-31T13:00:00+01:00"),
        (LONDON, (2025, 10, 24, 9), 12 * HOUR, "2025-10-27T13:00:00+00:00"),
        (LONDON, (2025, 3, 29, 10), 4 * HOUR, "2025-03-31T13:00:00+01:00"),
    ],
)
def test_nine_to_five_deadline_across_a_dst_change_keeps_wall_clock_hours(
    zone: str, start: tuple[int, ...], duration: timedelta, expected: str
) -> None:
    assert add(standard_calendar(zone), at(zone, *start), duration).isoformat() == expected


@pytest.mark.parametrize(
    ("intervals", "day", "expected"),
    [
        # 01:00 EST to 03:00 EDT is one real hour.
        ((interval("01:00", "03:00"),), date(2025, 3, 9), HOUR),
        # 01:00 EDT (first occurrence) to 03:00 EST is three real hours.
        ((interval("01:00", "03:00"),), date(2025, 11, 2), 3 * HOUR),
        # Bounds inside the gap use fold=0: 02:15-02:45 becomes 03:15-03:45 EDT.
        ((interval("02:15", "02:45"),), date(2025, 3, 9), timedelta(minutes=30)),
        # 01:00-02:30 becomes 01:00 EST-03:30 EDT and overlaps 03:00-04:00: merged, not double-counted.
        ((interval("01:00", "02:30"), interval("03:00", "04:00")), date(2025, 3, 9), 2 * HOUR),
        # An interval lying wholly in the gap's shadow before a later bound collapses.
        ((interval("02:00", "03:00"),), date(2025, 3, 9), timedelta(0)),
    ],
)
def test_intervals_touching_the_dst_hour_count_real_time(
    intervals: tuple[WorkingInterval, ...], day: date, expected: timedelta
) -> None:
    calendar = every_day(*intervals, zone=NEW_YORK)
    zone = ZoneInfo(NEW_YORK)
    midnight = datetime.combine(day, time(0), zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), zone)
    assert between(calendar, midnight, next_midnight) == expected


def test_gap_bounds_map_past_the_gap() -> None:
    calendar = every_day(interval("02:15", "02:45"), zone=NEW_YORK)
    assert is_working_time(calendar, at(NEW_YORK, 2025, 3, 9, 3, 30))
    assert not is_working_time(calendar, at(NEW_YORK, 2025, 3, 9, 3, 50))
    assert (
        add(calendar, at(NEW_YORK, 2025, 3, 9, 0), timedelta(minutes=30)).isoformat()
        == "2025-03-09T03:45:00-04:00"
    )


@pytest.mark.parametrize(
    ("fold", "expected"),
    [(0, "2025-11-02T01:00:00-05:00"), (1, "2025-11-02T02:00:00-05:00")],
    ids=["first-01:30", "repeated-01:30"],
)
def test_ambiguous_start_uses_its_fold(fold: int, expected: str) -> None:
    calendar = every_day(ALL_DAY, zone=NEW_YORK)
    start = at(NEW_YORK, 2025, 11, 2, 1, 30, fold=fold)
    assert add(calendar, start, timedelta(minutes=30)).isoformat() == expected


def test_between_orders_the_repeated_hour_by_real_time() -> None:
    calendar = every_day(ALL_DAY, zone=NEW_YORK)
    later_on_the_wall = at(NEW_YORK, 2025, 11, 2, 1, 45, fold=0)  # 05:45 UTC
    earlier_on_the_wall = at(NEW_YORK, 2025, 11, 2, 1, 15, fold=1)  # 06:15 UTC
    assert between(calendar, later_on_the_wall, earlier_on_the_wall) == timedelta(minutes=30)


# --- is_working_time --------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "moment", "expected"),
    [
        (NINE_TO_FIVE, at("UTC", 2025, 1, 6, 9), True),
        (NINE_TO_FIVE, at("UTC", 2025, 1, 6, 16, 59, 59, 999999), True),
        (NINE_TO_FIVE, at("UTC", 2025, 1, 6, 17), False),
        (NINE_TO_FIVE, at("UTC", 2025, 1, 6, 8, 59), False),
        (NINE_TO_FIVE, at("UTC", 2025, 1, 4, 12), False),
        (SPLIT_SHIFT, at("UTC", 2025, 1, 6, 12, 30), False),
        (SPLIT_SHIFT, at("UTC", 2025, 1, 6, 13), True),
        (GB_ENG, at(LONDON, 2025, 12, 25, 12), False),
        (standard_calendar(LONDON), at(NEW_YORK, 2025, 7, 7, 4, 30), True),
        (every_day(ALL_DAY, zone=NEW_YORK), at(NEW_YORK, 2025, 1, 1, 0), True),
    ],
)
def test_is_working_time(calendar: BusinessCalendar, moment: datetime, expected: bool) -> None:
    assert is_working_time(calendar, moment) is expected


# --- calendar mode ----------------------------------------------------------------


def test_calendar_mode_counts_plain_elapsed_time() -> None:
    calendar = BusinessCalendar(
        timezone=NEW_YORK, week=((),) * 7, holiday_country="US", mode=CALENDAR
    )
    assert (
        add(calendar, at("UTC", 2025, 1, 4, 10), 4 * HOUR).isoformat()
        == "2025-01-04T09:00:00-05:00"
    )
    # Real elapsed time: the spring-forward day is 23 hours long.
    assert between(calendar, at(NEW_YORK, 2025, 3, 9), at(NEW_YORK, 2025, 3, 10)) == 23 * HOUR
    assert between(calendar, at(NEW_YORK, 2025, 3, 10), at(NEW_YORK, 2025, 3, 9)) == -23 * HOUR
    assert is_working_time(calendar, at(NEW_YORK, 2025, 12, 25, 3))


# --- holidays_between -----------------------------------------------------------


def test_holidays_between_lists_public_and_company_days_in_date_order() -> None:
    calendar = BusinessCalendar(
        timezone=LONDON,
        week=NINE_TO_FIVE.week,
        holiday_country="GB",
        holiday_subdivision="ENG",
        closed_dates=frozenset({date(2025, 12, 24), date(2025, 12, 25), date(2026, 3, 1)}),
    )
    found = holidays_between(calendar, date(2025, 12, 20), date(2026, 1, 10))
    assert list(found.items()) == [
        (date(2025, 12, 24), CLOSED_DATE_NAME),
        (date(2025, 12, 25), "Christmas Day"),
        (date(2025, 12, 26), "Boxing Day"),
        (date(2026, 1, 1), "New Year's Day"),
    ]


def test_holidays_between_without_country_lists_closed_dates_only() -> None:
    calendar = weekly(*NINE_TO_FIVE.week, closed_dates=frozenset({date(2025, 12, 24)}))
    assert holidays_between(calendar, date(2025, 12, 1), date(2025, 12, 31)) == {
        date(2025, 12, 24): CLOSED_DATE_NAME
    }
    assert holidays_between(calendar, date(2025, 12, 31), date(2025, 12, 1)) == {}


# --- validation and bad input -----------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "unknown timezone"),
        ({"timezone": ""}, "unknown timezone"),
        ({"week": NINE_TO_FIVE.week[:6]}, "7 days"),
        ({"week": list(NINE_TO_FIVE.week)}, "7 days"),
        ({"week": only(0, interval("09:00", "12:00"), interval("11:00", "13:00"))}, "Monday"),
        ({"week": only(1, interval("13:00", "17:00"), interval("09:00", "12:00"))}, "not sorted"),
        ({"week": only(6, interval("22:00", "24:00"), interval("23:00", "23:30"))}, "Sunday"),
        ({"week": ((),) * 7}, "at least one working interval"),
        ({"week": only(0, (time(9), time(17)))}, "expected a WorkingInterval"),
        ({"holiday_country": "XX"}, "unknown holiday region"),
        ({"holiday_country": "US", "holiday_subdivision": "ZZ"}, "unknown holiday region"),
        ({"holiday_subdivision": "CA"}, "needs a holiday_country"),
        ({"holiday_country": "US", "holiday_subdivision": ""}, "subdivision code"),
        ({"closed_dates": frozenset({datetime(2025, 1, 1, tzinfo=UTC)})}, "must hold dates"),
        ({"closed_dates": {date(2025, 1, 1)}}, "must be a frozenset"),
        ({"mode": "weekly"}, "mode must be one of"),
    ],
)
def test_validate_names_the_problem(fields: dict[str, object], message: str) -> None:
    calendar = BusinessCalendar(**{"timezone": "UTC", "week": NINE_TO_FIVE.week, **fields})
    with pytest.raises(CalendarError, match=message):
        validate(calendar)
    # Arithmetic refuses the same calendar instead of computing nonsense.
    with pytest.raises(CalendarError, match=message):
        add(calendar, at("UTC", 2025, 1, 6, 9), HOUR)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (time(17), time(9), "must be before end"),
        (time(9), time(9), "must be before end"),
        (time(9, tzinfo=UTC), time(17), "drop tzinfo"),
        ("09:00", time(17), "datetime.time"),
    ],
)
def test_working_interval_rejects_bad_bounds(start: time, end: time, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        WorkingInterval(start, end)


@pytest.mark.parametrize(
    "calendar",
    [
        standard_calendar(),
        standard_calendar(NEW_YORK, country="US", subdivision="CA"),
        every_day(ALL_DAY, zone="Asia/Kolkata"),
        weekly(*SPLIT_SHIFT.week, closed_dates=frozenset({date(2025, 1, 1)})),
        BusinessCalendar(timezone="UTC", week=((),) * 7, mode=CALENDAR),
    ],
    ids=["default", "us-ca", "all-day", "split-closed", "calendar-mode"],
)
def test_validate_accepts_good_calendars(calendar: BusinessCalendar) -> None:
    validate(calendar)


def test_calendar_error_is_a_value_error() -> None:
    assert issubclass(CalendarError, ValueError)


def test_standard_calendar_is_nine_to_five_on_weekdays() -> None:
    calendar = standard_calendar(LONDON, country="GB", subdivision="ENG")
    assert calendar.week == ((interval("09:00", "17:00"),),) * 5 + ((), ())
    assert (calendar.timezone, calendar.holiday_country, calendar.holiday_subdivision) == (
        LONDON,
        "GB",
        "ENG",
    )
    with pytest.raises(CalendarError, match="unknown timezone"):
        standard_calendar("Nowhere/Special")


def test_add_gives_up_when_no_working_day_ever_comes() -> None:
    # Valid on paper (Mondays 09:00-17:00), but every Monday for years is closed.
    first_monday = date(2025, 1, 6)
    mondays = frozenset(first_monday + timedelta(weeks=n) for n in range(52 * 4))
    calendar = weekly(*NINE_TO_FIVE.week[:1], *((),) * 6, closed_dates=mondays)
    validate(calendar)
    with pytest.raises(CalendarError, match="no working time"):
        add(calendar, at("UTC", 2025, 1, 1), HOUR)


# Deliberately naive: the point of the tests below.
naive = datetime(2025, 1, 6, 9)


@pytest.mark.parametrize(
    "call",
    [
        lambda: add(NINE_TO_FIVE, naive, HOUR),
        lambda: between(NINE_TO_FIVE, naive, at("UTC", 2025, 1, 7)),
        lambda: between(NINE_TO_FIVE, at("UTC", 2025, 1, 7), naive),
        lambda: is_working_time(NINE_TO_FIVE, naive),
    ],
    ids=["add", "between-a", "between-b", "is_working_time"],
)
def test_naive_datetimes_are_rejected(call: object) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


def test_add_rejects_a_negative_duration() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        add(NINE_TO_FIVE, at("UTC", 2025, 1, 6, 9), -HOUR)


# --- properties -------------------------------------------------------------------

ZONES = (
    "UTC",
    NEW_YORK,
    LONDON,
    "Australia/Sydney",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
)
FIXED_OFFSET_ZONES = ("UTC", "Asia/Kolkata", "Asia/Tokyo")
REGIONS = ((None, None), ("GB", "ENG"), ("US", "CA"), ("AU", "NSW"))
# Days with a DST change in ZONES, to aim moments at the awkward hours.
DST_DATES = (
    date(2025, 3, 9),
    date(2025, 11, 2),
    date(2025, 3, 30),
    date(2025, 10, 26),
    date(2025, 4, 6),
    date(2025, 10, 5),
    date(2025, 9, 7),
)


def quarter_hour(n: int) -> time:
    """The n-th quarter hour of the day; 96 is the midnight end."""
    return time(0) if n == 96 else time(n // 4, n % 4 * 15)


@st.composite
def working_days(draw: st.DrawFn) -> tuple[WorkingInterval, ...]:
    """0-3 sorted, non-overlapping quarter-hour intervals (1:00-3:00 included, for DST)."""
    points = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
    pairs = zip(points[::2], points[1::2], strict=False)
    return tuple(WorkingInterval(quarter_hour(s), quarter_hour(e)) for s, e in pairs)


@st.composite
def calendars(draw: st.DrawFn, zones: tuple[str, ...] = ZONES) -> BusinessCalendar:
    """Random valid business calendars: any week, a few closed dates, maybe a holiday region."""
    week = tuple(draw(working_days()) for _ in range(7))
    assume(any(week))
    country, subdivision = draw(st.sampled_from(REGIONS))
    return BusinessCalendar(
        timezone=draw(st.sampled_from(zones)),
        week=week,
        holiday_country=country,
        holiday_subdivision=subdivision,
        closed_dates=draw(st.frozensets(st.dates(date(2025, 1, 1), date(2026, 6, 30)), max_size=5)),
    )


realistic_calendars = st.sampled_from(
    (
        standard_calendar(LONDON, country="GB", subdivision="ENG"),
        standard_calendar(NEW_YORK, country="US", subdivision="CA"),
        standard_calendar("Australia/Sydney", country="AU", subdivision="NSW"),
        weekly(*SPLIT_SHIFT.week, zone="America/Santiago"),
        every_day(interval("00:30", "03:30"), interval("22:00", "24:00"), zone=NEW_YORK),
        every_day(ALL_DAY, zone="Australia/Lord_Howe"),
    )
)
any_calendar = st.one_of(calendars(), realistic_calendars)

MOMENTS_FROM = datetime(2025, 1, 1, tzinfo=UTC)
MOMENTS_SPAN = timedelta(days=540)
moments = st.one_of(
    # Any microsecond.
    st.integers(0, MOMENTS_SPAN // ONE_US).map(lambda n: MOMENTS_FROM + n * ONE_US),
    # Quarter hours, which often sit exactly on an interval bound.
    st.integers(0, MOMENTS_SPAN // QUARTER_HOUR).map(lambda n: MOMENTS_FROM + n * QUARTER_HOUR),
    # Minutes around a DST change.
    st.builds(
        lambda day, minutes: datetime.combine(day, time(0), UTC) + timedelta(minutes=minutes),
        st.sampled_from(DST_DATES),
        st.integers(-24 * 60, 48 * 60),
    ),
)
durations = st.one_of(
    st.timedeltas(timedelta(0), timedelta(hours=48)),
    st.timedeltas(timedelta(0), timedelta(hours=300)),
    st.sampled_from((timedelta(0), ONE_US, HOUR, 8 * HOUR)),
)


def in_zone(calendar: BusinessCalendar, moment: datetime, use_zone: bool) -> datetime:
    """``moment`` as given in UTC or in the calendar's zone; the representation must not matter."""
    return moment.astimezone(ZoneInfo(calendar.timezone)) if use_zone else moment


@PROPERTY
@given(any_calendar, moments, durations, st.booleans())
def test_between_inverts_add(
    calendar: BusinessCalendar, start: datetime, duration: timedelta, use_zone: bool
) -> None:
    start = in_zone(calendar, start, use_zone)
    due = add(calendar, start, duration)
    assert due.tzinfo == ZoneInfo(calendar.timezone)
    assert between(calendar, start, due) == duration


@PROPERTY
@given(any_calendar, moments, durations.map(lambda d: max(d, ONE_US)))
def test_add_ends_on_working_time(
    calendar: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    # For d > 0 the microsecond just before the due time is working time: the
    # due time is inside a working interval or exactly at an interval's end,
    # never at the next opening.
    due = utc(add(calendar, start, duration))
    assert due > start
    assert is_working_time(calendar, due - ONE_US)
    assert between(calendar, due - ONE_US, due) == ONE_US


@PROPERTY
@given(any_calendar, moments, moments, durations)
def test_add_is_monotone_in_start(
    calendar: BusinessCalendar, first: datetime, second: datetime, duration: timedelta
) -> None:
    early, late = sorted((first, second))
    assert utc(add(calendar, early, duration)) <= utc(add(calendar, late, duration))


@PROPERTY
@given(any_calendar, moments, durations, durations)
def test_add_is_monotone_and_composable_in_duration(
    calendar: BusinessCalendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    short, long = sorted((first, second))
    assert utc(add(calendar, start, short)) <= utc(add(calendar, start, long))
    assert utc(add(calendar, add(calendar, start, first), second)) == utc(
        add(calendar, start, first + second)
    )


@PROPERTY
@given(any_calendar, moments, moments, moments)
def test_between_is_additive_and_antisymmetric(
    calendar: BusinessCalendar, a: datetime, b: datetime, c: datetime
) -> None:
    assert between(calendar, a, b) + between(calendar, b, c) == between(calendar, a, c)
    assert between(calendar, a, b) == -between(calendar, b, a)
    low, high = sorted((a, b))
    assert timedelta(0) <= between(calendar, low, high) <= high - low


@PROPERTY
@given(any_calendar, moments, st.booleans())
def test_is_working_time_agrees_with_between(
    calendar: BusinessCalendar, moment: datetime, use_zone: bool
) -> None:
    moment = in_zone(calendar, moment, use_zone)
    next_microsecond = utc(moment) + ONE_US
    assert is_working_time(calendar, moment) is (
        between(calendar, moment, next_microsecond) == ONE_US
    )


@functools.cache
def public_holidays(country: str | None, subdivision: str | None) -> Container[date]:
    """The holidays package's own (lazily growing) lookup, for the oracle."""
    return holidays.country_holidays(country, subdiv=subdivision) if country else frozenset()


def wall_clock_is_working(calendar: BusinessCalendar, moment: datetime) -> bool:
    """Independent oracle from the wall clock alone; exact in zones without DST."""
    local = moment.astimezone(ZoneInfo(calendar.timezone))
    day, wall = local.date(), local.time()
    public = public_holidays(calendar.holiday_country, calendar.holiday_subdivision)
    if day in calendar.closed_dates or day in public:
        return False
    return any(
        iv.start <= wall and (iv.end == time(0) or wall < iv.end)
        for iv in calendar.week[day.weekday()]
    )


@PROPERTY
@given(calendars(zones=FIXED_OFFSET_ZONES), moments)
def test_is_working_time_matches_the_wall_clock_without_dst(
    calendar: BusinessCalendar, moment: datetime
) -> None:
    assert is_working_time(calendar, moment) is wall_clock_is_working(calendar, moment)


@PROPERTY
@given(
    calendars(zones=FIXED_OFFSET_ZONES),
    st.integers(0, MOMENTS_SPAN // QUARTER_HOUR).map(lambda n: MOMENTS_FROM + n * QUARTER_HOUR),
    st.integers(0, 32),
)
def test_add_matches_a_quarter_hour_walk_without_dst(
    calendar: BusinessCalendar, start: datetime, quarters: int
) -> None:
    # Every bound is on a quarter hour, so each quarter hour from a quarter-hour
    # start is wholly working or wholly not: counting them is an exact (slow)
    # oracle, the loop the module must never use.
    due, left = start, quarters
    for _ in range(20_000):
        if not left:
            break
        if wall_clock_is_working(calendar, due):
            left -= 1
        due += QUARTER_HOUR
    assume(not left)  # a calendar with almost no working time; other tests cover it
    assert utc(add(calendar, start, quarters * QUARTER_HOUR)) == due


@PROPERTY
@given(moments, moments, st.sampled_from(ZONES))
def test_calendar_mode_equals_an_always_open_business_calendar(
    a: datetime, b: datetime, zone: str
) -> None:
    plain = BusinessCalendar(timezone=zone, week=((),) * 7, mode=CALENDAR)
    always_open = every_day(ALL_DAY, zone=zone)
    assert between(plain, a, b) == between(always_open, a, b) == utc(b) - utc(a)
    assert utc(add(plain, a, abs(b - a))) == utc(add(always_open, a, abs(b - a)))
