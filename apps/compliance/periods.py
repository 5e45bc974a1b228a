"""Reporting periods (calendar weeks, months, quarters) in a tenant's timezone.

Pure module: no ORM, no settings, no clock — every "now" is passed in as ``as_of``.

A period is the half-open interval ``[start, end)`` between two local midnights of
the tenant's timezone, so its length in real time follows DST: a Europe/London week
that contains the last Sunday of October lasts 169 hours, the one containing the
last Sunday of March 167 hours. Weeks run Monday to Sunday; quarters start on
1 January, 1 April, 1 July and 1 October.

Bounds are stored as aware datetimes in the tenant's zone (for display); all
arithmetic goes through UTC, because Python compares and subtracts two datetimes
that share a ``tzinfo`` by wall-clock time, which is wrong across a DST change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from fractions import Fraction
from zoneinfo import ZoneInfo

__all__ = [
    "Period",
    "PeriodKind",
    "closed_periods",
    "elapsed_fraction",
    "elapsed_share",
    "following",
    "period_for",
    "period_starting",
    "previous",
]

# English names on purpose: ``strftime("%B")`` depends on the process locale.
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class PeriodKind(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"


@dataclass(frozen=True)
class Period:
    """One calendar week, month or quarter: ``[start, end)``, local-midnight bounds."""

    kind: PeriodKind
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.kind, PeriodKind):
            raise TypeError(f"kind must be a PeriodKind, got {self.kind!r}")
        _require_aware(self.start, "start")
        _require_aware(self.end, "end")
        if _utc(self.end) <= _utc(self.start):
            raise ValueError(f"period end {self.end} is not after its start {self.start}")

    @property
    def first_day(self) -> date:
        """The first local calendar day of the period."""
        return self.start.date()

    @property
    def last_day(self) -> date:
        """The last local calendar day of the period (inclusive)."""
        return self.end.date() - timedelta(days=1)

    @property
    def label(self) -> str:
        """Human label: "Week of 2026-11-16", "November 2026" or "Q4 2026"."""
        day = self.first_day
        if self.kind is PeriodKind.WEEK:
            return f"Week of {day.isoformat()}"
        if self.kind is PeriodKind.MONTH:
            return f"{_MONTH_NAMES[day.month - 1]} {day.year}"
        return f"Q{(day.month - 1) // 3 + 1} {day.year}"

    @property
    def duration(self) -> timedelta:
        """Real elapsed time of the period (167 h / 169 h for a week across DST)."""
        return _utc(self.end) - _utc(self.start)

    def contains(self, moment: datetime) -> bool:
        """True when the aware ``moment`` lies in ``[start, end)``."""
        instant = _utc(moment)
        return _utc(self.start) <= instant < _utc(self.end)


def period_for(kind: PeriodKind, day_or_moment: date | datetime, tz: str) -> Period:
    """The period of ``kind`` containing a local day, or an aware moment seen in ``tz``."""
    zone = ZoneInfo(tz)
    if isinstance(day_or_moment, datetime):
        _require_aware(day_or_moment, "day_or_moment")
        day = day_or_moment.astimezone(zone).date()
    else:
        day = day_or_moment
    return _build(PeriodKind(kind), _first_day_of(PeriodKind(kind), day), zone)


def period_starting(kind: PeriodKind, start: date, tz: str) -> Period:
    """The period of ``kind`` that starts on ``start``; ValueError if no such period does."""
    kind = PeriodKind(kind)
    if isinstance(start, datetime):
        raise TypeError(f"start must be a date, not a datetime ({start!r})")
    expected = _first_day_of(kind, start)
    if start != expected:
        rule = {
            PeriodKind.WEEK: "weeks start on a Monday",
            PeriodKind.MONTH: "months start on the 1st",
            PeriodKind.QUARTER: "quarters start on 1 January, 1 April, 1 July or 1 October",
        }[kind]
        raise ValueError(
            f"{start.isoformat()} ({start.strftime('%A')}) is not the start of a {kind}: "
            f"{rule}; the {kind} containing it starts on {expected.isoformat()}"
        )
    return _build(kind, start, ZoneInfo(tz))


def previous(period: Period) -> Period:
    """The period of the same kind just before ``period``."""
    zone = _zone_of(period)
    day_before = period.first_day - timedelta(days=1)
    return _build(period.kind, _first_day_of(period.kind, day_before), zone)


def following(period: Period) -> Period:
    """The period of the same kind just after ``period`` (it starts at ``period.end``)."""
    return _build(period.kind, period.end.date(), _zone_of(period))


def closed_periods(kind: PeriodKind, *, as_of: datetime, tz: str, count: int) -> list[Period]:
    """The last ``count`` periods that ended at or before ``as_of``, oldest first."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    # The period containing as_of has start <= as_of < end, so it is never closed;
    # the one before it ended at its start, which is <= as_of.
    periods: list[Period] = []
    current = period_for(kind, as_of, tz)
    for _ in range(count):
        current = previous(current)
        periods.append(current)
    periods.reverse()
    return periods


def elapsed_share(period: Period, as_of: datetime) -> float:
    """Share of the period elapsed at ``as_of``: 0-1, clamped (0 before start, 1 after end)."""
    return float(elapsed_fraction(period, as_of))


def elapsed_fraction(period: Period, as_of: datetime) -> Fraction:
    """``elapsed_share`` as an exact fraction of microseconds, for pro-rating without
    float drift (70 * 60 h / 168 h is exactly 25, not 24.999999999999996)."""
    start, end, instant = _utc(period.start), _utc(period.end), _utc(as_of)
    clamped = min(max(instant, start), end)
    return Fraction(_microseconds(clamped - start), _microseconds(end - start))


def _first_day_of(kind: PeriodKind, day: date) -> date:
    if kind is PeriodKind.WEEK:
        return day - timedelta(days=day.weekday())
    if kind is PeriodKind.MONTH:
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _next_first_day(kind: PeriodKind, first_day: date) -> date:
    if kind is PeriodKind.WEEK:
        return first_day + timedelta(days=7)
    months = 1 if kind is PeriodKind.MONTH else 3
    index = first_day.year * 12 + first_day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _build(kind: PeriodKind, first_day: date, zone: tzinfo) -> Period:
    return Period(
        kind=kind,
        start=_local_midnight(first_day, zone),
        end=_local_midnight(_next_first_day(kind, first_day), zone),
    )


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    """The first instant of ``day`` in ``zone``.

    Where midnight is skipped by a DST change (e.g. America/Havana), ``fold=0``
    resolves 00:00 with the offset before the change, which is exactly the moment
    the day begins; the UTC round trip turns it into a wall time that exists.
    Where midnight repeats, ``fold=0`` picks its first occurrence.
    """
    naive_midnight = datetime.combine(day, time.min)
    return naive_midnight.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def _zone_of(period: Period) -> tzinfo:
    zone = period.start.tzinfo
    if zone is None:  # pragma: no cover - __post_init__ rejects naive bounds
        raise ValueError("period bounds must be aware")
    return zone


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {moment!r}")


def _utc(moment: datetime) -> datetime:
    _require_aware(moment, "datetime")
    return moment.astimezone(UTC)
