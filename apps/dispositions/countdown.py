"""Queue countdowns: how much of an SLA clock's window is left, in business time, and its colour.

Pure module: no ORM, no clock; the caller passes the calendar of the clock's SLA
version and `now`. A clock is green while more than a quarter of its window is
left, yellow in the last quarter, red once `now` has reached `due_at` (then it
reads "overdue by …", counted in the same business time). The window and the
remaining time are both measured with `business_time.between`, so nights,
weekends and holidays neither drain the countdown nor turn a row yellow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from apps.sla import business_time
from apps.sla.business_time import BusinessCalendar

GREEN = "green"
YELLOW = "yellow"
RED = "red"
STATE_LABELS = {GREEN: "On track", YELLOW: "Due soon", RED: "Overdue"}

# Yellow when less than this share of the window is left (the SLA's "due soon").
YELLOW_SHARE = 0.25

# Clock kinds whose window is counted in plain days, not working hours
# ("6 touches within 14 days" is a calendar promise).
CALENDAR_DAY_KINDS = frozenset({"follow_up"})


@dataclass(frozen=True)
class Countdown:
    """A clock seen at `now`: remaining business time (negative once overdue) and its state."""

    state: str
    remaining: timedelta
    window: timedelta
    due_at: datetime
    # Whether working time is running at `now`: the client-side ticker only
    # counts down while it is (the page resyncs every minute anyway).
    is_ticking: bool

    @property
    def is_overdue(self) -> bool:
        return self.state == RED

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def remaining_seconds(self) -> int:
        return int(self.remaining.total_seconds())

    @property
    def window_seconds(self) -> int:
        return int(self.window.total_seconds())

    @property
    def label(self) -> str:
        """ "2h 15m left", "overdue by 1h 05m", or "overdue" when no working time has passed since."""
        return countdown_label(self.remaining, overdue=self.is_overdue)


def clock_mode(*, kind: str, params: dict) -> str:
    """The clock a countdown runs on: business hours, or plain time when the commitment says
    `"clock": "calendar"` or counts days (the follow-up cadence's window is calendar days)."""
    if kind in CALENDAR_DAY_KINDS or params.get("clock") == business_time.CALENDAR:
        return business_time.CALENDAR
    return business_time.BUSINESS


def queue_state(*, remaining: timedelta, window: timedelta, is_due: bool) -> str:
    """green / yellow / red for a clock: red once due, yellow in the last quarter of the window."""
    if is_due:
        return RED
    if remaining < window * YELLOW_SHARE:
        return YELLOW
    return GREEN


def countdown(
    calendar: BusinessCalendar, *, started_at: datetime, due_at: datetime, now: datetime
) -> Countdown:
    """The countdown of a clock [started_at, due_at] at `now`, in the calendar's working time."""
    window = business_time.between(calendar, started_at, due_at)
    remaining = business_time.between(calendar, now, due_at)
    # Compare instants, not the business remainder: on a Saturday a clock due on
    # Friday 17:00 has 0 business time left and is overdue, not "due soon".
    is_due = now >= due_at
    return Countdown(
        state=queue_state(remaining=remaining, window=window, is_due=is_due),
        remaining=remaining,
        window=window,
        due_at=due_at,
        is_ticking=business_time.is_working_time(calendar, now),
    )


def duration_label(duration: timedelta) -> str:
    """Compact duration: "45m", "3h 05m", "4d 2h" (days of 24 h beyond 72 h), "< 1m"."""
    minutes = int(abs(duration).total_seconds()) // 60
    if minutes < 1:
        return "< 1m"
    hours, minutes = divmod(minutes, 60)
    if hours >= 72:
        days, hours = divmod(hours, 24)
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def countdown_label(remaining: timedelta, *, overdue: bool) -> str:
    """The words next to the colour: "2h 15m left" or "overdue by 1h 05m"."""
    if not overdue:
        return f"{duration_label(remaining)} left"
    late = -remaining
    if late < timedelta(minutes=1):
        # Due at the end of Friday and it is Saturday: no working time has run since.
        return "overdue"
    return f"overdue by {duration_label(late)}"
