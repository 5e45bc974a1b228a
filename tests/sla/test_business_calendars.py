"""Deadlines of real SLA calendars (stored JSON → business_time): split shifts, public and
company holidays, DST. The arithmetic itself is tested in test_business_time.py; these are the
cases the SLA app relies on, through the same JSON the calendars and snapshots store."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.sla.business_time import add, between, is_working_time
from apps.sla.snapshots import calendar_from_json, calendar_json

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = 5


def calendar(timezone="UTC", day=(("09:00", "17:00"),), days=WEEKDAYS, **kwargs):
    week = [[list(interval) for interval in day]] * days + [[]] * (7 - days)
    return calendar_from_json(calendar_json(name="t", timezone=timezone, week=week, **kwargs))


def test_split_shift_skips_the_lunch_break():
    lunch = calendar("Europe/London", day=(("09:00", "12:30"), ("13:30", "17:30")))
    start = datetime(2026, 3, 2, 12, 0, tzinfo=LONDON)  # Monday
    due = add(lunch, start, timedelta(hours=2))
    assert due == datetime(2026, 3, 2, 15, 0, tzinfo=LONDON)
    assert not is_working_time(lunch, datetime(2026, 3, 2, 13, 0, tzinfo=LONDON))
    assert between(lunch, start, due) == timedelta(hours=2)


def test_english_easter_weekend_is_skipped():
    england = calendar("Europe/London", holiday_country="GB", holiday_subdivision="ENG")
    start = datetime(2026, 4, 2, 16, 0, tzinfo=LONDON)  # Thursday before Good Friday
    due = add(england, start, timedelta(hours=4))
    assert due.astimezone(LONDON) == datetime(2026, 4, 7, 12, 0, tzinfo=LONDON)  # Tuesday


def test_company_closed_days_and_substitute_bank_holidays_stack():
    england = calendar(
        "Europe/London",
        holiday_country="GB",
        holiday_subdivision="ENG",
        closed_dates=["2026-12-24"],
    )
    start = datetime(2026, 12, 23, 16, 0, tzinfo=LONDON)  # Wednesday
    # Thu 24 closed, Fri 25 Christmas, weekend, Mon 28 Boxing Day (observed).
    assert add(england, start, timedelta(hours=2)) == datetime(2026, 12, 29, 10, 0, tzinfo=LONDON)


def test_fall_back_weekend_in_new_york():
    """Clocks go back on Sunday 2026-11-01: Friday 16:00 EDT + 2 h is Monday 10:00 EST."""
    new_york = calendar("America/New_York", holiday_country="US")
    start = datetime(2026, 10, 30, 16, 0, tzinfo=NEW_YORK)
    due = add(new_york, start, timedelta(hours=2))
    assert due.astimezone(UTC) == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    assert due.astimezone(NEW_YORK).hour == 10


def test_round_the_clock_support_across_spring_forward():
    """A 24/7 calendar counts real time: Saturday 23:00 GMT + 3 h is Sunday 03:00 BST."""
    always = calendar("Europe/London", day=(("00:00", "24:00"),), days=7)
    start = datetime(2026, 3, 28, 23, 0, tzinfo=LONDON)
    due = add(always, start, timedelta(hours=3))
    assert due.astimezone(UTC) == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)
    assert due.astimezone(LONDON).hour == 3


@pytest.mark.parametrize("hours", [1, 8, 40, 1000])
def test_add_and_between_agree_on_an_sla_calendar(hours):
    new_york = calendar(
        "America/New_York",
        day=(("08:30", "12:30"), ("13:30", "17:30")),
        holiday_country="US",
        holiday_subdivision="NY",
        closed_dates=["2026-12-24"],
    )
    start = datetime(2026, 11, 25, 11, 0, tzinfo=NEW_YORK)  # the day before Thanksgiving
    due = add(new_york, start, timedelta(hours=hours))
    assert between(new_york, start, due) == timedelta(hours=hours)
    assert is_working_time(new_york, due - timedelta(microseconds=1))
