from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.compliance.periods import (
    Period,
    PeriodKind,
    closed_periods,
    elapsed_share,
    following,
    period_for,
    period_starting,
    previous,
)

LONDON = "Europe/London"
WEEK, MONTH, QUARTER = PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER
ZONES = [
    "UTC",
    LONDON,
    "America/New_York",
    "Australia/Sydney",
    "America/Havana",
    "America/Asuncion",
    "Asia/Tokyo",
]


def local(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))


# --- bounds and labels ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "day", "first_day", "next_first_day", "label"),
    [
        (WEEK, date(2026, 11, 16), date(2026, 11, 16), date(2026, 11, 23), "Week of 2026-11-16"),
        (WEEK, date(2026, 11, 18), date(2026, 11, 16), date(2026, 11, 23), "Week of 2026-11-16"),
        (WEEK, date(2026, 11, 22), date(2026, 11, 16), date(2026, 11, 23), "Week of 2026-11-16"),
        (WEEK, date(2027, 1, 1), date(2026, 12, 28), date(2027, 1, 4), "Week of 2026-12-28"),
        (MONTH, date(2026, 11, 30), date(2026, 11, 1), date(2026, 12, 1), "November 2026"),
        (MONTH, date(2026, 12, 31), date(2026, 12, 1), date(2027, 1, 1), "December 2026"),
        (MONTH, date(2028, 2, 29), date(2028, 2, 1), date(2028, 3, 1), "February 2028"),
        (QUARTER, date(2026, 11, 16), date(2026, 10, 1), date(2027, 1, 1), "Q4 2026"),
        (QUARTER, date(2026, 1, 1), date(2026, 1, 1), date(2026, 4, 1), "Q1 2026"),
        (QUARTER, date(2026, 6, 30), date(2026, 4, 1), date(2026, 7, 1), "Q2 2026"),
        (QUARTER, date(2026, 7, 1), date(2026, 7, 1), date(2026, 10, 1), "Q3 2026"),
    ],
)
def test_period_for_a_day_has_local_midnight_bounds_and_label(
    kind, day, first_day, next_first_day, label
):
    period = period_for(kind, day, LONDON)

    assert period.kind is kind
    assert period.first_day == first_day
    assert period.start == local(LONDON, first_day.year, first_day.month, first_day.day)
    assert period.end == local(
        LONDON, next_first_day.year, next_first_day.month, next_first_day.day
    )
    assert period.start.tzinfo == ZoneInfo(LONDON)
    assert period.last_day == next_first_day - timedelta(days=1)
    assert period.label == label


def test_period_for_a_moment_uses_the_tenant_local_day():
    # Sunday 23:30 UTC is already Monday 08:30 in Tokyo.
    moment = datetime(2026, 11, 15, 23, 30, tzinfo=UTC)

    assert period_for(WEEK, moment, "Asia/Tokyo").label == "Week of 2026-11-16"
    assert period_for(WEEK, moment, "UTC").label == "Week of 2026-11-09"
    assert period_for(MONTH, datetime(2026, 10, 31, 23, 30, tzinfo=UTC), LONDON).label == (
        "October 2026"
    )
    assert period_for(MONTH, datetime(2026, 10, 31, 15, 30, tzinfo=UTC), "Asia/Tokyo").label == (
        "November 2026"
    )


def test_period_for_accepts_the_kind_as_a_string():
    assert period_for("quarter", date(2026, 2, 1), "UTC").label == "Q1 2026"


def test_period_for_rejects_naive_datetimes():
    with pytest.raises(ValueError, match="aware"):
        period_for(WEEK, datetime(2026, 11, 16, 9), LONDON)


# --- DST ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "day", "hours"),
    [
        (WEEK, date(2026, 10, 25), 169),  # last Sunday of October: clocks go back
        (WEEK, date(2026, 3, 29), 167),  # last Sunday of March: clocks go forward
        (WEEK, date(2026, 11, 16), 168),
        (MONTH, date(2026, 10, 1), 31 * 24 + 1),
        (MONTH, date(2026, 3, 1), 31 * 24 - 1),
        (QUARTER, date(2026, 1, 1), 90 * 24 - 1),
        (QUARTER, date(2026, 10, 1), 92 * 24 + 1),
    ],
)
def test_period_length_follows_dst_in_london(kind, day, hours):
    period = period_for(kind, day, LONDON)

    assert period.duration == timedelta(hours=hours)
    assert period.start.hour == 0
    assert period.end.hour == 0


def test_week_across_dst_has_utc_bounds_an_hour_apart_in_offset():
    period = period_for(WEEK, date(2026, 10, 25), LONDON)

    assert period.start.astimezone(UTC) == datetime(2026, 10, 18, 23, tzinfo=UTC)  # BST
    assert period.end.astimezone(UTC) == datetime(2026, 10, 26, 0, tzinfo=UTC)  # GMT


def test_period_starting_on_a_skipped_midnight_starts_at_the_first_real_instant():
    # Paraguay moved clocks from 00:00 to 01:00 on Sunday 2023-10-01, a quarter start:
    # that local day begins at 01:00 -03 (04:00 UTC), which is where Q3 ends.
    quarter = period_starting(QUARTER, date(2023, 10, 1), "America/Asuncion")

    assert quarter.start.astimezone(UTC) == datetime(2023, 10, 1, 4, tzinfo=UTC)
    assert (quarter.start.hour, quarter.start.minute) == (1, 0)
    assert quarter.first_day == date(2023, 10, 1)
    assert quarter.label == "Q4 2023"
    assert previous(quarter).end == quarter.start
    assert quarter.duration == timedelta(days=92, hours=-1)


# --- period_starting ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "start"),
    [(WEEK, date(2026, 11, 16)), (MONTH, date(2026, 11, 1)), (QUARTER, date(2026, 10, 1))],
)
def test_period_starting_accepts_period_starts(kind, start):
    assert period_starting(kind, start, LONDON) == period_for(kind, start, LONDON)


@pytest.mark.parametrize(
    ("kind", "start", "message"),
    [
        (WEEK, date(2026, 11, 17), r"2026-11-17 \(Tuesday\) is not the start of a week.*Monday"),
        (MONTH, date(2026, 11, 2), r"not the start of a month.*1st.*2026-11-01"),
        (QUARTER, date(2026, 11, 1), r"not the start of a quarter.*1 October.*2026-10-01"),
        (QUARTER, date(2026, 2, 1), r"quarter.*starts on 2026-01-01"),
    ],
)
def test_period_starting_rejects_other_days_with_a_clear_message(kind, start, message):
    with pytest.raises(ValueError, match=message):
        period_starting(kind, start, LONDON)


def test_period_starting_rejects_datetimes():
    with pytest.raises(TypeError, match="date"):
        period_starting(WEEK, datetime(2026, 11, 16, tzinfo=UTC), LONDON)


def test_period_rejects_naive_or_empty_bounds():
    start = datetime(2026, 11, 16, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        Period(WEEK, start.replace(tzinfo=None), start)
    with pytest.raises(ValueError, match="not after"):
        Period(WEEK, start, start)


# --- navigation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "day", "previous_label", "following_label"),
    [
        (WEEK, date(2027, 1, 1), "Week of 2026-12-21", "Week of 2027-01-04"),
        (WEEK, date(2026, 10, 25), "Week of 2026-10-12", "Week of 2026-10-26"),
        (MONTH, date(2027, 1, 15), "December 2026", "February 2027"),
        (MONTH, date(2026, 12, 15), "November 2026", "January 2027"),
        (QUARTER, date(2027, 2, 1), "Q4 2026", "Q2 2027"),
        (QUARTER, date(2026, 12, 31), "Q3 2026", "Q1 2027"),
    ],
)
def test_previous_and_following(kind, day, previous_label, following_label):
    period = period_for(kind, day, LONDON)

    assert previous(period).label == previous_label
    assert following(period).label == following_label
    assert previous(period).end == period.start
    assert following(period).start == period.end


def test_closed_periods_are_the_last_ones_ended_oldest_first():
    wednesday_noon = local(LONDON, 2026, 11, 18, 12)

    weeks = closed_periods(WEEK, as_of=wednesday_noon, tz=LONDON, count=3)

    assert [w.label for w in weeks] == [
        "Week of 2026-10-26",
        "Week of 2026-11-02",
        "Week of 2026-11-09",
    ]


def test_closed_periods_include_a_period_ending_exactly_at_as_of():
    monday_midnight = local(LONDON, 2026, 11, 16)

    weeks = closed_periods(WEEK, as_of=monday_midnight, tz=LONDON, count=1)
    quarters = closed_periods(QUARTER, as_of=local(LONDON, 2026, 10, 1), tz=LONDON, count=2)

    assert [w.label for w in weeks] == ["Week of 2026-11-09"]
    assert weeks[0].end == monday_midnight
    assert [q.label for q in quarters] == ["Q2 2026", "Q3 2026"]


def test_closed_periods_one_microsecond_before_the_end_excludes_the_period():
    as_of = local(LONDON, 2026, 11, 16) - timedelta(microseconds=1)

    assert closed_periods(WEEK, as_of=as_of, tz=LONDON, count=1)[0].label == "Week of 2026-11-02"


def test_closed_periods_count_zero_and_negative():
    as_of = datetime(2026, 11, 18, tzinfo=UTC)
    assert closed_periods(MONTH, as_of=as_of, tz=LONDON, count=0) == []
    with pytest.raises(ValueError, match="count"):
        closed_periods(MONTH, as_of=as_of, tz=LONDON, count=-1)


# --- elapsed share ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "share"),
    [
        (local(LONDON, 2026, 11, 15, 23), 0.0),
        (local(LONDON, 2026, 11, 16), 0.0),
        (local(LONDON, 2026, 11, 18, 12), 2.5 / 7),
        (local(LONDON, 2026, 11, 23), 1.0),
        (local(LONDON, 2026, 12, 25), 1.0),
    ],
)
def test_elapsed_share_clamps(as_of, share):
    period = period_for(WEEK, date(2026, 11, 16), LONDON)

    assert elapsed_share(period, as_of) == pytest.approx(share)


def test_elapsed_share_counts_real_hours_across_dst():
    period = period_for(WEEK, date(2026, 10, 26), LONDON)  # clocks went back on the 25th
    before = period_for(WEEK, date(2026, 10, 19), LONDON)

    assert elapsed_share(period, local(LONDON, 2026, 10, 28, 12)) == pytest.approx(60 / 168)
    # Monday 00:00 BST -> Wednesday 12:00 BST is 60 h of a 169 h week.
    assert elapsed_share(before, local(LONDON, 2026, 10, 21, 12)) == pytest.approx(60 / 169)
    # Sunday 12:00 GMT is 157 h after Monday 00:00 BST.
    assert elapsed_share(before, local(LONDON, 2026, 10, 25, 12)) == pytest.approx(157 / 169)


# --- properties -------------------------------------------------------------------------

days = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))
kinds = st.sampled_from(list(PeriodKind))
zones = st.sampled_from(ZONES)


@given(kind=kinds, day=days, tz=zones)
def test_period_for_contains_the_day_and_starts_at_the_first_instant_of_its_first_day(
    kind, day, tz
):
    period = period_for(kind, day, tz)
    zone = ZoneInfo(tz)

    assert period.first_day <= day <= period.last_day
    assert period_starting(kind, period.first_day, tz) == period
    # start is the first instant of first_day: one microsecond earlier is the day before.
    just_before = (period.start.astimezone(UTC) - timedelta(microseconds=1)).astimezone(zone)
    assert just_before.date() == period.first_day - timedelta(days=1)
    assert period.start.astimezone(zone).date() == period.first_day


@given(kind=kinds, day=days, tz=zones)
def test_navigation_round_trips_and_tiles_time(kind, day, tz):
    period = period_for(kind, day, tz)

    assert following(previous(period)) == period
    assert previous(following(period)) == period
    assert following(period).start == period.end
    assert period.contains(period.start)
    assert not period.contains(period.end)
    if kind is WEEK:
        assert period.duration in {timedelta(hours=h) for h in (167, 168, 169)}


@given(
    kind=kinds,
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1)),
    tz=zones,
    count=st.integers(min_value=1, max_value=6),
)
def test_closed_periods_are_consecutive_and_ended(kind, moment, tz, count):
    as_of = moment.replace(tzinfo=UTC)

    periods = closed_periods(kind, as_of=as_of, tz=tz, count=count)

    assert len(periods) == count
    assert all(p.end <= as_of for p in periods)
    assert all(following(a) == b for a, b in pairwise(periods))
    assert following(periods[-1]).contains(as_of)
    assert 0.0 <= elapsed_share(following(periods[-1]), as_of) < 1.0
