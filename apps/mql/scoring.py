"""Lead scoring: signal matching, decay, caps.

Pure module: no ORM, no Django, no settings; `now` is always passed in.

The leaf matchers (`FieldCondition.holds`, from apps/leads/field_conditions.py, and
`ActivityMatch.matches`) are exposed here rather than in rules.py because rules.py
builds on this module and both need them: fit conditions are field signals, behaviour
conditions are counted activity signals. rules.py re-exports them.

Caps and negative points: a group cap clamps the sum of the group's *positive*
contributions; negative contributions are added after the cap. A cap limits how
much one kind of engagement can add, but a penalty (free email domain,
unsubscribe) always counts in full - applying the cap to the net sum would let a
heavily engaged lead swallow its penalties silently. The total has no floor and
may be negative.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from apps.leads.field_conditions import (
    SEQUENCE_TYPES,
    FieldCondition,
    folded_text,
    is_missing,
    same_value,
)

PROPERTY_MATCHES = frozenset({"equals", "contains", "in", "startswith"})
DECAY_KINDS = frozenset({"half_life", "linear", "none"})

_SECONDS_PER_DAY = 86_400.0
# Scores are human-scale points; rounding keeps float noise (59.9999999) from
# deciding a threshold comparison.
_SCORE_DECIMALS = 6


@dataclass(frozen=True)
class ActivityFact:
    """One timestamped event on a lead, as the rule engine sees it."""

    id: int | str
    kind: str
    occurred_at: datetime
    # Excluded from the hash so facts stay hashable with a plain dict here.
    properties: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class ActivityMatch:
    """Which activities a behaviour condition or activity signal looks at."""

    kind: str
    property: str | None = None
    match: str = "equals"
    value: Any = None

    def matches(self, activity: ActivityFact) -> bool:
        """Whether the activity is of this kind and its property matches (case-insensitively)."""
        if activity.kind != self.kind:
            return False
        if self.property is None:
            return True
        actual = activity.properties.get(self.property)
        if is_missing(actual):
            return False
        values = actual if isinstance(actual, SEQUENCE_TYPES) else (actual,)
        return any(self._matches_one(v) for v in values)

    def _matches_one(self, actual: Any) -> bool:
        if self.match == "equals":
            return same_value(actual, self.value)
        if self.match == "in":
            return any(same_value(actual, e) for e in self.value)
        if self.match == "contains":
            return folded_text(self.value) in folded_text(actual)
        if self.match == "startswith":
            return folded_text(actual).startswith(folded_text(self.value))
        raise ValueError(f"unknown property match {self.match!r}")


@dataclass(frozen=True)
class Decay:
    """How a signal's points fade with the age of the activity."""

    kind: str = "none"  # half_life | linear | none
    days: float | None = None


@dataclass(frozen=True)
class ScoreRule:
    """Points for a signal: per matching activity (decaying) or once for a field condition."""

    id: str
    signal: FieldCondition | ActivityMatch
    points: float
    label: str | None = None
    group: str | None = None
    decay: Decay = field(default_factory=Decay)
    max_count: int | None = None


@dataclass(frozen=True)
class ScoreLine:
    """One contribution to a score; a cap adjustment has rule_id "cap:<group>"."""

    rule_id: str
    label: str
    points_raw: float
    points_after_decay: float
    activity_id: int | str | None
    group: str | None


def half_life_factor(age_days: float, half_life_days: float) -> float:
    """0.5 ** (age / half-life): 1 when new, 0.5 after one half-life, never 0."""
    return 0.5 ** (age_days / half_life_days)


def linear_factor(age_days: float, window_days: float) -> float:
    """1 when new, falling linearly to 0 at the end of the window, 0 after it."""
    return max(0.0, 1.0 - age_days / window_days)


def decay_factor(decay: Decay, age_days: float) -> float:
    """Share of the points an activity `age_days` old still carries (0-1)."""
    if decay.kind == "none" or decay.days is None:
        return 1.0
    if decay.kind == "half_life":
        return half_life_factor(age_days, decay.days)
    if decay.kind == "linear":
        return linear_factor(age_days, decay.days)
    raise ValueError(f"unknown decay {decay.kind!r}")


def _recency_key(activity: ActivityFact) -> tuple[datetime, str, str]:
    # Total order independent of input order: ties on time broken by kind and id.
    return (activity.occurred_at, activity.kind, str(activity.id))


def _rule_label(rule: ScoreRule) -> str:
    return rule.label or rule.id


def _cap_lines(lines: Sequence[ScoreLine], caps: Mapping[str, float]) -> list[ScoreLine]:
    positive: dict[str, float] = {}
    for line in lines:
        if line.group is not None and line.group in caps and line.points_after_decay > 0:
            positive[line.group] = positive.get(line.group, 0.0) + line.points_after_decay
    return [
        ScoreLine(
            rule_id=f"cap:{group}",
            label=f"Cap on {group} points ({_fmt(caps[group])})",
            points_raw=0.0,
            points_after_decay=caps[group] - total,
            activity_id=None,
            group=group,
        )
        for group, total in positive.items()
        if total > caps[group]
    ]


def _fmt(value: float) -> str:
    return f"{value:g}"


def score(
    rules: Sequence[ScoreRule],
    caps: Mapping[str, float],
    *,
    fields: Mapping[str, Any],
    activities: Sequence[ActivityFact],
    now: datetime,
) -> tuple[float, tuple[ScoreLine, ...]]:
    """Total score at `now` and its breakdown; the lines always add up to the total."""
    lines: list[ScoreLine] = []
    # Newest first, once: each rule's matches are then a filter of it (a stable sort of a
    # subsequence gives the subsequence of the sorted whole, so the order is the same).
    recent: list[ActivityFact] | None = None
    for rule in rules:
        label = _rule_label(rule)
        signal = rule.signal
        if isinstance(signal, FieldCondition):
            if rule.points and signal.holds(fields):
                lines.append(ScoreLine(rule.id, label, rule.points, rule.points, None, rule.group))
            continue
        if recent is None:
            recent = sorted(
                (a for a in activities if a.occurred_at <= now), key=_recency_key, reverse=True
            )
        matching = [a for a in recent if signal.matches(a)]
        if rule.max_count is not None:
            # The most recent ones: they carry the most points under any decay.
            matching = matching[: rule.max_count]
        for activity in matching:
            age_days = (now - activity.occurred_at).total_seconds() / _SECONDS_PER_DAY
            points = rule.points * decay_factor(rule.decay, age_days)
            if points:
                lines.append(
                    ScoreLine(rule.id, label, rule.points, points, activity.id, rule.group)
                )
    lines.extend(_cap_lines(lines, caps))
    total = round(math.fsum(line.points_after_decay for line in lines), _SCORE_DECIMALS)
    return total, tuple(lines)


_MICROSECONDS_PER_DAY = 86_400_000_000


def _activity_rule_series(
    rule: ScoreRule, times: Sequence[int], moments: Sequence[int]
) -> list[float]:
    """Points of one activity rule at each ascending moment (both in integer microseconds)."""
    # Integer microseconds compare exactly and much faster than aware datetimes.
    cap_count = rule.max_count
    decay = rule.decay
    series: list[float] = []
    if decay.kind == "half_life" and decay.days is not None:
        # Running sum: moving from m1 to m2 multiplies every contribution by the
        # same factor, so each activity is added once and (max_count) removed once.
        span = decay.days * _MICROSECONDS_PER_DAY
        running, added, dropped, previous = 0.0, 0, 0, None
        for moment in moments:
            if previous is not None:
                running *= 0.5 ** ((moment - previous) / span)
            while added < len(times) and times[added] <= moment:
                running += 0.5 ** ((moment - times[added]) / span)
                added += 1
            if cap_count is not None:
                while dropped < added - cap_count:
                    running -= 0.5 ** ((moment - times[dropped]) / span)
                    dropped += 1
            running = max(running, 0.0)
            previous = moment
            series.append(rule.points * running)
        return series
    prefix = [0]
    for t in times:
        prefix.append(prefix[-1] + t)  # exact: Python ints do not round
    window = (
        round(decay.days * _MICROSECONDS_PER_DAY)
        if decay.kind == "linear" and decay.days is not None
        else None
    )
    for moment in moments:
        hi = bisect_right(times, moment)
        lo = 0 if cap_count is None else max(0, hi - cap_count)
        if window is not None:
            lo = max(lo, bisect_right(times, moment - window))
            count = hi - lo
            # Sum of (1 - (m - t) / D) over the window, from exact prefix sums of t.
            weight = count - (count * moment - (prefix[hi] - prefix[lo])) / window
            series.append(rule.points * max(weight, 0.0))
        else:
            series.append(rule.points * (hi - lo))
    return series


def score_timeline(
    rules: Sequence[ScoreRule],
    caps: Mapping[str, float],
    *,
    fields: Mapping[str, Any],
    activities: Sequence[ActivityFact],
    moments: Sequence[datetime],
) -> list[float]:
    """Total score at each ascending moment, in O((activities + moments) x rules); totals only."""
    if not moments:
        return []
    origin = min([moments[0], *(a.occurred_at for a in activities)])
    tick = timedelta(microseconds=1)
    at = [(m - origin) // tick for m in moments]
    if any(b < a for a, b in pairwise(at)):
        raise ValueError("moments must be in ascending order")
    uncapped: list[list[float]] = []
    capped: dict[str, list[list[float]]] = {}
    # Each activity's time in integer microseconds, once for every rule.
    ticks = [((a.occurred_at - origin) // tick, a) for a in activities]
    for rule in rules:
        signal = rule.signal
        if isinstance(signal, FieldCondition):
            points = rule.points if signal.holds(fields) else 0.0
            series = [points] * len(at)
        else:
            times = sorted(t for t, a in ticks if signal.matches(a))
            series = _activity_rule_series(rule, times, at)
        # A rule's points have one sign, so a whole series is positive or negative.
        if rule.group is not None and rule.group in caps and rule.points > 0:
            capped.setdefault(rule.group, []).append(series)
        else:
            uncapped.append(series)
    columns = [list(map(math.fsum, zip(*group, strict=True))) for group in capped.values()]
    limits = [caps[group] for group in capped]
    totals = list(map(math.fsum, zip(*uncapped, strict=True))) if uncapped else [0.0] * len(at)
    for column, limit in zip(columns, limits, strict=True):
        totals = [total + min(value, limit) for total, value in zip(totals, column, strict=True)]
    return [round(total, _SCORE_DECIMALS) for total in totals]
