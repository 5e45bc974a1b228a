"""The queue's countdown states at given times, in business time (pure, no database)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.dispositions.countdown import (
    GREEN,
    RED,
    YELLOW,
    clock_mode,
    countdown,
    countdown_label,
    duration_label,
    queue_state,
)
from apps.sla.business_time import CALENDAR, add, standard_calendar

LONDON = ZoneInfo("Europe/London")
CAL = standard_calendar("Europe/London")  # Mon-Fri 09:00-17:00


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in the week of Monday 2026-11-16, London time."""
    return datetime(2026, 11, day, hour, minute, tzinfo=LONDON)


# Thursday 15:00 + 4 business hours = Friday 11:00.
STARTED = at(19, 15)
DUE = add(CAL, STARTED, timedelta(hours=4))


def test_due_time_of_the_example_clock():
    assert at(20, 11) == DUE


@pytest.mark.parametrize(
    ("now", "state", "label"),
    [
        (at(19, 15), GREEN, "4h 00m left"),
        (at(19, 16, 30), GREEN, "2h 30m left"),  # 1.5 h used of 4
        (at(19, 19), GREEN, "2h 00m left"),  # evening: the clock does not run
        (at(20, 9, 30), GREEN, "1h 30m left"),
        (at(20, 10, 1), YELLOW, "59m left"),  # less than a quarter (1 h) left
        (at(20, 10, 59), YELLOW, "1m left"),
        (at(20, 11), RED, "overdue"),  # due now: no working time has run since
        (at(20, 12, 15), RED, "overdue by 1h 15m"),
        (at(21, 12), RED, "overdue by 6h 00m"),  # Saturday: still 11:00-17:00 Friday late
        (at(23, 10), RED, "overdue by 7h 00m"),  # Monday 10:00
    ],
)
def test_countdown_states_at_given_times(now, state, label):
    result = countdown(CAL, started_at=STARTED, due_at=DUE, now=now)
    assert result.state == state
    assert result.label == label
    assert result.window == timedelta(hours=4)


def test_remaining_is_business_time_and_ticking_follows_working_hours():
    evening = countdown(CAL, started_at=STARTED, due_at=DUE, now=at(19, 20))
    assert evening.remaining == timedelta(hours=2)
    assert evening.is_ticking is False
    morning = countdown(CAL, started_at=STARTED, due_at=DUE, now=at(20, 9, 15))
    assert morning.remaining_seconds == 105 * 60
    assert morning.window_seconds == 4 * 3600
    assert morning.is_ticking is True


def test_friday_clock_seen_on_saturday_is_overdue_not_due_soon():
    # Due Friday 17:00; on Saturday no business time is left, and the deadline has passed.
    started = at(20, 13)
    due = add(CAL, started, timedelta(hours=4))
    assert due == at(20, 17)
    result = countdown(CAL, started_at=started, due_at=due, now=at(21, 10))
    assert result.state == RED
    assert result.label == "overdue"


def test_weekend_does_not_turn_a_clock_yellow():
    # MQL Friday 16:00, 4 business hours: due Monday 12:00. Sunday night it still has 3 h.
    started = at(20, 16)
    due = add(CAL, started, timedelta(hours=4))
    assert due == at(23, 12)
    assert countdown(CAL, started_at=started, due_at=due, now=at(22, 23)).state == GREEN


def test_across_a_dst_change():
    # Europe/London falls back on Sunday 2026-10-25: business time is unaffected.
    started = datetime(2026, 10, 23, 15, tzinfo=LONDON)  # Friday
    due = add(CAL, started, timedelta(hours=8))
    assert due == datetime(2026, 10, 26, 15, tzinfo=LONDON)
    now = datetime(2026, 10, 26, 13, 30, tzinfo=LONDON)
    result = countdown(CAL, started_at=started, due_at=due, now=now.astimezone(UTC))
    assert result.remaining == timedelta(hours=1, minutes=30)
    assert result.state == YELLOW


def test_queue_state_boundaries():
    window = timedelta(hours=4)
    assert queue_state(remaining=timedelta(hours=1), window=window, is_due=False) == GREEN
    assert queue_state(remaining=timedelta(minutes=59), window=window, is_due=False) == YELLOW
    assert queue_state(remaining=timedelta(0), window=window, is_due=True) == RED


def test_follow_up_and_calendar_clocks_count_plain_time():
    assert clock_mode(kind="follow_up", params={"touches": 6, "days": 14}) == CALENDAR
    assert clock_mode(kind="first_contact", params={"hours": 4, "clock": "calendar"}) == CALENDAR
    assert clock_mode(kind="first_contact", params={"hours": 4}) == "business"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=30), "< 1m"),
        (timedelta(minutes=45), "45m"),
        (timedelta(hours=3, minutes=5), "3h 05m"),
        (timedelta(hours=71, minutes=59), "71h 59m"),
        (timedelta(days=4, hours=2), "4d 2h"),
        (timedelta(days=14), "14d"),
    ],
)
def test_duration_label(delta, text):
    assert duration_label(delta) == text


def test_countdown_label_words():
    assert countdown_label(timedelta(minutes=20), overdue=False) == "20m left"
    assert countdown_label(timedelta(minutes=-90), overdue=True) == "overdue by 1h 30m"
