"""Run the test session as if today were another day: `--as-of 2028-02-29T00:30+11:00`.

A test whose outcome depends on the wall clock (fixed-date data measured against
`timezone.now()`) passes on the day it is written and fails weeks later. Running the
suite at a few awkward instants (a Monday 00:30 in the organization's time zone, the
last day of a quarter, a DST change, 29 February) catches it on the day it is written.

The application never asks PostgreSQL for the time (every "now" comes from Python and
is passed into SQL as a parameter), so shifting Python's clock shifts the whole product.
The clock keeps ticking from the chosen instant. The offset is handed to the processes
the tests start (web server, Celery workers) through ``HANDOFF_TEST_CLOCK_OFFSET``, so
they share the session's clock, and browser contexts get the same clock through
Playwright's clock emulation.
"""

from __future__ import annotations

import calendar
import os
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time

OFFSET_ENV = "HANDOFF_TEST_CLOCK_OFFSET"
AS_OF_ENV = "HANDOFF_TEST_AS_OF"

_traveller = None


def parse_instant(raw: str) -> datetime:
    """An ISO 8601 instant with its UTC offset (a bare date or time is ambiguous: refused)."""
    value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(
            f"{raw!r}: give the instant with its UTC offset, e.g. 2028-02-29T00:30+11:00"
        )
    return value


def offset_seconds() -> float:
    """How far this process's clock is shifted from the real one (0 when it is not)."""
    return float(os.environ.get(OFFSET_ENV) or 0)


def is_shifted() -> bool:
    return offset_seconds() != 0


def shift_by(offset: float) -> None:
    """Shift this process's wall clock by ``offset`` seconds, ticking (Python only)."""
    global _traveller
    import time_machine

    if _traveller is not None:
        _traveller.stop()
    _traveller = time_machine.travel(time.time() + offset, tick=True)
    _traveller.start()


def start_session_clock(as_of: str | None) -> None:
    """Called once by the root conftest: travel to ``as_of`` and export the offset."""
    raw = as_of or os.environ.get(AS_OF_ENV)
    if raw:
        offset = parse_instant(raw).timestamp() - time.time()
        os.environ[OFFSET_ENV] = repr(offset)
        os.environ[AS_OF_ENV] = raw
    if is_shifted():
        shift_by(offset_seconds())


def shifted_now() -> datetime:
    return datetime.now(UTC)


def install_in_browser_context(context) -> None:
    """Give a Playwright browser context the session's (shifted) clock; time keeps flowing."""
    if is_shifted():
        context.clock.install(time=shifted_now())


# --- instants worth running the suite at ---------------------------------------------------

SESSION_ZONE = "UTC"  # the business calendars of the test organizations


def _next_monday_0030(after: datetime, zone: str) -> datetime:
    from zoneinfo import ZoneInfo

    local = after.astimezone(ZoneInfo(zone))
    days = (7 - local.weekday()) % 7 or 7
    monday = (local + timedelta(days=days)).date()
    return datetime.combine(monday, dt_time(0, 30), tzinfo=ZoneInfo(zone))


def _next_quarter_end(after: datetime) -> datetime:
    quarter_month = ((after.month - 1) // 3 + 1) * 3  # last month of this quarter
    year = after.year
    start_next = date(year + (quarter_month == 12), quarter_month % 12 + 1, 1)
    last_day = start_next - timedelta(days=1)
    if last_day <= after.date():
        return _next_quarter_end(datetime.combine(start_next, dt_time(12), tzinfo=UTC))
    return datetime.combine(last_day, dt_time(23, 30), tzinfo=UTC)


def _next_dst_change(after: datetime, zone: str) -> datetime:
    """30 minutes after the next change of ``zone``'s UTC offset (a DST change day)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    moment = after.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    offset = moment.astimezone(tz).utcoffset()
    for _ in range(24 * 400):
        moment += timedelta(hours=1)
        if moment.astimezone(tz).utcoffset() != offset:
            return (moment + timedelta(minutes=30)).astimezone(tz)
    raise ValueError(f"{zone} has no offset change within 400 days")


def _next_leap_day(after: datetime) -> datetime:
    year = after.year + 1
    while not calendar.isleap(year):
        year += 1
    return datetime(year, 2, 29, 12, tzinfo=UTC)


def everyday_instant(now: datetime) -> datetime:
    """The instant the test command runs its cheap second pass at: the first Monday 00:30 of
    the session organizations' zone at least 400 days ahead (another year, another quarter,
    a week that began half an hour ago)."""
    return _next_monday_0030(now + timedelta(days=400), SESSION_ZONE)


def hard_instants(now: datetime) -> dict[str, datetime]:
    """The awkward days the whole check runs at, always ahead of ``now`` (a shift into the
    past would expire the browser's cookies)."""
    return {
        "monday-0030": _next_monday_0030(now, SESSION_ZONE),
        "quarter-end": _next_quarter_end(now),
        "dst-sydney": _next_dst_change(now, "Australia/Sydney"),
        "dst-new-york": _next_dst_change(now, "America/New_York"),
        "leap-day": _next_leap_day(now),
        "everyday": everyday_instant(now),
    }


# CI's selection of the hard days: one shifted pass takes 8-11 minutes beside the main pass
# on two cores, and six of them brought .ci/run to 37 of its 40 minutes. Left out there:
# dst-sydney (the demo's calendars are New York's; the New York change stays), everyday and
# monday-0030 (a Monday 00:30 like the one every `scripts/test` runs its shifted pass at).
CI_HARD = ("quarter-end", "dst-new-york", "leap-day")


def main(argv: list[str]) -> None:
    """``python -m tests.support.clock everyday|hard|ci``: print instants, one per line
    (``hard`` and ``ci`` with their names)."""
    now = datetime.now(UTC)
    if argv[:1] == ["everyday"]:
        print(everyday_instant(now).isoformat())
    elif argv[:1] in (["hard"], ["ci"]):
        for name, instant in hard_instants(now).items():
            if argv[0] == "hard" or name in CI_HARD:
                print(name, instant.isoformat())
    else:
        raise SystemExit("usage: python -m tests.support.clock everyday|hard|ci")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
