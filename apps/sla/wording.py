"""Plain-English sentences for commitments and escalation rules (pages, print, emails).

Pure module: it reads plain values, so the one-page SLA, the history diff and the
notifications all say the same thing the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from apps.sla.segments import SegmentError, describe_segment

__all__ = [
    "RATE_METRICS",
    "describe_commitment",
    "describe_escalation",
    "format_value",
    "period_word",
]

RATE_METRICS = frozenset(
    {
        "mql_to_sql_rate",
        "first_contact_time",
        "follow_up_cadence",
        "disposition_time",
        "rejection_reason_coverage",
    }
)
_TEAMS = {"marketing": "Marketing", "sales": "Sales", "shared": "Marketing and sales together"}
_PERIODS = {"week": "week", "month": "month", "quarter": "quarter"}
_ROLES = {
    "executive": "the executive (CRO/CEO)",
    "marketing_leader": "the marketing leader",
    "sales_leader": "the sales leader",
    "admin": "the administrators",
}


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def format_value(metric: str, value: float | None) -> str:
    """A target, threshold or measured value in the metric's unit: 90%, 150, 3×."""
    if value is None:
        return "—"
    if metric in RATE_METRICS:
        return f"{_number(round(value * 100, 1))}%"
    if metric == "pipeline_coverage":
        return f"{_number(value)}×"
    return _number(value)


def elapsed_words(elapsed: timedelta) -> str:
    """ "2 days 2 h 30 min", "45 min", "0 min": a span of calendar time as people say it."""
    minutes = max(int(elapsed.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} h")
    if minutes or not parts:
        parts.append(f"{minutes} min")
    return " ".join(parts)


# A parameter's number as a label spells it out: "2 business hours", "6 touches", "14 days".
_PARAM_PHRASES = {
    "hours": r"(?P<n>\d+(?:\.\d+)?)(?P<unit>\s*(?:business |calendar |working )?(?:hours?|hrs?|h)\b)",
    "touches": r"(?P<n>\d+)(?P<unit>\s+(?:touch(?:es)?|contact attempts?|attempts?))\b",
    "days": r"(?P<n>\d+)(?P<unit>\s+days?)\b",
}


def label_following_params(
    label: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> str:
    """A commitment label that spells out its parameters ("High-intent leads within 2 business
    hours") follows them when they change (3 hours → "… within 3 business hours"); any other
    label is left as the person wrote it."""
    before, after = before or {}, after or {}
    for key, pattern in _PARAM_PHRASES.items():
        old, new = before.get(key), after.get(key)
        if old is None or new is None or float(old) == float(new):
            continue

        def swap(match: re.Match, old=float(old), new=float(new)) -> str:
            if float(match["n"]) != old:
                return match[0]
            unit = match["unit"]
            if new != 1 and re.search(r"(hour|touch|attempt|day)$", unit):
                unit += "es" if unit.endswith("touch") else "s"
            elif new == 1:
                unit = re.sub(r"(hour|attempt|day)s$", r"\1", unit).replace("touches", "touch")
            return f"{_number(new)}{unit}"

        label = re.sub(pattern, swap, label)
    return label


def period_word(period: str) -> str:
    return _PERIODS.get(period, period)


def _hours(params: Mapping[str, Any]) -> str:
    hours = params.get("hours")
    clock = "business hours" if params.get("clock", "business") == "business" else "hours"
    if hours == 1:
        clock = clock.removesuffix("s")
    return f"{_number(float(hours))} {clock}" if hours is not None else f"? {clock}"


def _which(segment: Any) -> str:
    """ " whose source is webinar" for a segment, "" for every MQL."""
    try:
        described = describe_segment(segment)
    except SegmentError:
        described = "(invalid segment)"
    return f" whose {described}" if described else ""


def _share(goal: str, target: float, noun: str) -> str:
    return f"all of {noun}" if target >= 1 else f"at least {goal} of {noun}"


def describe_commitment(
    *,
    owner_team: str,
    metric: str,
    params: Mapping[str, Any] | None,
    target: float,
    yellow_threshold: float,
    review_period: str,
    segment: Any = None,
) -> str:
    """One sentence that says who promises what, how it is measured, and when it turns yellow."""
    params = params or {}
    team = _TEAMS.get(owner_team, owner_team.title())
    period = period_word(review_period)
    goal = format_value(metric, target)
    yellow = format_value(metric, yellow_threshold)
    mqls = f"each {period}'s MQLs{_which(segment)}"
    if metric == "mql_volume":
        promise = f"{team} delivers at least {goal} MQLs each {period}"
    elif metric == "mql_to_sql_rate":
        promise = f"{team} turns at least {goal} of each {period}'s MQLs into SQLs"
    elif metric == "first_contact_time":
        promise = (
            f"{team} makes first contact within {_hours(params)} of qualification "
            f"with {_share(goal, target, mqls)}"
        )
    elif metric == "follow_up_cadence":
        promise = (
            f"{team} makes at least {params.get('touches', '?')} contact attempts within "
            f"{params.get('days', '?')} days of qualification (or settles the lead sooner) "
            f"for {_share(goal, target, mqls)}"
        )
    elif metric == "disposition_time":
        promise = (
            f"{team} records a disposition (accepted, rejected or nurture) within "
            f"{_hours(params)} for {_share(goal, target, mqls)}"
        )
    elif metric == "rejection_reason_coverage":
        rejected = f"each {period}'s rejected MQLs"
        promise = f"{team} gives a reason for {_share(goal, target, rejected)}"
    elif metric == "pipeline_coverage":
        revenue = params.get("revenue_target")
        money = _number(float(revenue)) if revenue is not None else "?"
        promise = (
            f"{team} keeps open pipeline closing in the quarter at {goal} the quarterly revenue "
            f"target of {money}, checked each {period}"
        )
    else:
        promise = f"{team} meets {metric} at {goal} each {period}"
    return f"{promise} (yellow from {yellow})."


def describe_escalation(
    *,
    commitment_label: str,
    metric: str,
    threshold: float,
    periods: int,
    period_kind: str,
    notify_role: str,
) -> str:
    """ "If first contact is below 80% for 2 consecutive closed weeks, notify the executive." """
    unit = period_word(period_kind) + ("s" if periods != 1 else "")
    who = _ROLES.get(notify_role, notify_role.replace("_", " "))
    return (
        f"If “{commitment_label}” is below {format_value(metric, threshold)} for {periods} "
        f"consecutive closed {unit}, {who} is notified."
    )
