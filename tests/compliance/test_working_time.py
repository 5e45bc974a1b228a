from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.compliance.working_time import working_index
from apps.sla.business_time import (
    CALENDAR,
    BusinessCalendar,
    WorkingInterval,
    between,
    standard_calendar,
)

ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Sydney", "America/Havana"]
US = timedelta(microseconds=1)


def split_shift(zone: str, **kwargs) -> BusinessCalendar:
    morning_afternoon = (
        WorkingInterval(time(9), time(12, 30)),
        WorkingInterval(time(13, 30), time(17)),
    )
    night = (WorkingInterval(time(22), time(0)),)
    return BusinessCalendar(
        timezone=zone,
        week=(morning_afternoon,) * 4 + (night, (WorkingInterval(time(0), time(0)),), ()),
        **kwargs,
    )


CALENDARS = st.one_of(
    st.sampled_from(ZONES).map(standard_calendar),
    st.sampled_from(ZONES).map(lambda z: standard_calendar(z, country="GB")),
    st.sampled_from(ZONES).map(
        lambda z: split_shift(z, closed_dates=frozenset({date(2026, 3, 9), date(2026, 11, 2)}))
    ),
)
MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(calendar=CALENDARS, a=MOMENTS, span=st.timedeltas(timedelta(0), timedelta(days=20)))
def test_worked_differences_equal_business_time_between(calendar, a, span):
    b = a + span
    index = working_index(calendar, a - timedelta(days=3), b + timedelta(days=1))

    assert index.worked_us(b) - index.worked_us(a) == between(calendar, a, b) // US


def test_index_covers_dst_changes_with_the_real_length_of_the_day():
    london = standard_calendar("Europe/London")
    # Sunday 29 March 2026 is the spring-forward day; a 00:00-24:00 day there lasts 23 h.
    whole_days = BusinessCalendar(
        timezone="Europe/London", week=((WorkingInterval(time(0), time(0)),),) * 7
    )
    a = datetime(2026, 3, 29, tzinfo=UTC) - timedelta(hours=1)
    b = a + timedelta(days=1)
    index = working_index(whole_days, a, b)
    assert index.worked_us(b) - index.worked_us(a) == 24 * 3600 * 10**6
    assert len(index.starts) == 1  # touching days merge: starts stay strictly ascending
    assert working_index(london, a, b).starts


def test_calendar_mode_counts_every_instant():
    calendar = BusinessCalendar(timezone="UTC", week=((),) * 7, mode=CALENDAR)
    a = datetime(2026, 5, 1, tzinfo=UTC)
    index = working_index(calendar, a, a + timedelta(days=2))
    assert index.worked_us(a + timedelta(hours=5)) - index.worked_us(a) == 5 * 3600 * 10**6


def test_first_after_last_is_an_error():
    a = datetime(2026, 5, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="before first"):
        working_index(standard_calendar(), a, a - US)
