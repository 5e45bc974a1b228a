"""Frozen JSON forms of SLA content: business calendars and the signed version's canonical text.

Pure module: no ORM, no settings. A calendar is stored as JSON in two places —
the editable BusinessCalendar row and the snapshot frozen into a version at
submission — and both use the same shape, so one converter serves both:

    {"name": "Head office", "timezone": "Europe/London",
     "week": [[["09:00", "12:30"], ["13:30", "17:00"]], …7 days, Monday first],
     "holiday_country": "GB", "holiday_subdivision": "ENG",
     "closed_dates": ["2026-12-24"]}

"24:00" (or "00:00") as an interval end means midnight at the end of the day.
The content hash is SHA-256 over canonical JSON (sorted keys, no whitespace,
UTF-8), so anyone can recompute it from the stored content.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date, time
from typing import Any

from apps.sla.business_time import (
    BUSINESS,
    BusinessCalendar,
    CalendarError,
    WorkingInterval,
    standard_calendar,
    validate,
)

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NINE_TO_FIVE_WEEK: list[list[list[str]]] = [[["09:00", "17:00"]]] * 5 + [[], []]

__all__ = [
    "DAY_NAMES",
    "NINE_TO_FIVE_WEEK",
    "calendar_from_json",
    "calendar_json",
    "canonical_json",
    "content_hash",
    "describe_week",
    "parse_clock_time",
]


def parse_clock_time(text: str, *, is_end: bool = False) -> time:
    """ "HH:MM" as a wall-clock time; "24:00" is allowed as an end and means midnight."""
    if not isinstance(text, str):
        raise CalendarError(f"expected a time as HH:MM, got {text!r}")
    value = text.strip()
    if is_end and value == "24:00":
        return time(0)
    try:
        parsed = time.fromisoformat(value)
    except ValueError as error:
        raise CalendarError(f"{value!r} is not a time as HH:MM") from error
    if parsed.tzinfo is not None:
        raise CalendarError(f"{value!r}: write wall-clock times without a UTC offset")
    return parsed


def _format_time(moment: time, *, is_end: bool) -> str:
    if is_end and moment == time(0):
        return "24:00"
    return moment.isoformat("minutes")


def _week_from_json(week: Any) -> tuple[tuple[WorkingInterval, ...], ...]:
    if not isinstance(week, Sequence) or isinstance(week, str) or len(week) != 7:
        raise CalendarError("the week needs 7 days, Monday to Sunday")
    days = []
    for name, intervals in zip(DAY_NAMES, week, strict=True):
        if not isinstance(intervals, Sequence) or isinstance(intervals, str):
            raise CalendarError(f"{name}: expected a list of [start, end] intervals")
        parsed = []
        for pair in intervals:
            if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
                raise CalendarError(f"{name}: each interval is [start, end], got {pair!r}")
            try:
                parsed.append(
                    WorkingInterval(
                        parse_clock_time(pair[0]), parse_clock_time(pair[1], is_end=True)
                    )
                )
            except CalendarError as error:
                raise CalendarError(f"{name}: {error}") from error
        days.append(tuple(sorted(parsed, key=lambda i: i.start)))
    return tuple(days)


def calendar_from_json(data: Mapping[str, Any] | None, *, mode: str = BUSINESS) -> BusinessCalendar:
    """The business_time calendar for stored JSON (an empty snapshot is the 9-to-5 UTC default)."""
    if not data:
        return dataclasses.replace(standard_calendar("UTC"), mode=mode)
    closed = set()
    for raw in data.get("closed_dates") or ():
        try:
            closed.add(date.fromisoformat(str(raw)))
        except ValueError as error:
            raise CalendarError(f"closed date {raw!r} is not a date as YYYY-MM-DD") from error
    calendar = BusinessCalendar(
        timezone=data.get("timezone") or "UTC",
        week=_week_from_json(data.get("week") or NINE_TO_FIVE_WEEK),
        holiday_country=(data.get("holiday_country") or None),
        holiday_subdivision=(data.get("holiday_subdivision") or None),
        closed_dates=frozenset(closed),
        mode=mode,
    )
    validate(calendar)
    return calendar


def calendar_json(
    *,
    name: str,
    timezone: str,
    week: Any,
    holiday_country: str = "",
    holiday_subdivision: str = "",
    closed_dates: Sequence[str | date] = (),
) -> dict[str, Any]:
    """Validated, normalised calendar JSON (sorted intervals and dates): what is stored and frozen."""
    calendar = calendar_from_json(
        {
            "timezone": timezone,
            "week": week,
            "holiday_country": holiday_country,
            "holiday_subdivision": holiday_subdivision,
            "closed_dates": [str(d) for d in closed_dates],
        }
    )
    return {
        "name": name,
        "timezone": calendar.timezone,
        "week": [
            [[_format_time(i.start, is_end=False), _format_time(i.end, is_end=True)] for i in day]
            for day in calendar.week
        ],
        "holiday_country": calendar.holiday_country or "",
        "holiday_subdivision": calendar.holiday_subdivision or "",
        "closed_dates": sorted(d.isoformat() for d in calendar.closed_dates),
    }


def describe_week(week: Sequence[Sequence[Sequence[str]]]) -> list[tuple[str, str]]:
    """(day name, "09:00–12:30, 13:30–17:00" or "closed") for each weekday, for pages and print."""
    return [
        (name, ", ".join(f"{start}–{end}" for start, end in day) if day else "closed")
        for name, day in zip(DAY_NAMES, week, strict=False)
    ]


def canonical_json(content: Mapping[str, Any]) -> str:
    """One text for one content: sorted keys, no insignificant whitespace, UTF-8 kept as is."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical JSON: what each signature records and verification recomputes."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()
