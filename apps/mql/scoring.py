"""Lead scoring: signal matching, decay, caps.

Pure module: no ORM, no Django, no settings; `now` is always passed in.

The leaf matchers (`FieldCondition.holds`, `ActivityMatch.matches`) live here
rather than in rules.py because rules.py builds on this module and both need
them: fit conditions are field signals, behaviour conditions are counted
activity signals. rules.py re-exports them.

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
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

FIELD_OPS = frozenset(
    {
        "equals",
        "not_equals",
        "in",
        "not_in",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "contains",
        "is_set",
    }
)
PROPERTY_MATCHES = frozenset({"equals", "contains", "in", "startswith"})
DECAY_KINDS = frozenset({"half_life", "linear", "none"})

_SECONDS_PER_DAY = 86_400.0
# Scores are human-scale points; rounding keeps float noise (59.9999999) from
# deciding a threshold comparison.
_SCORE_DECIMALS = 6
_SEQUENCE_TYPES = (list, tuple, set, frozenset)


@dataclass(frozen=True)
class ActivityFact:
    """One timestamped event on a lead, as the rule engine sees it."""

    id: int | str
    kind: str
    occurred_at: datetime
    # Excluded from the hash so facts stay hashable with a plain dict here.
    properties: Mapping[str, Any] = field(default_factory=dict, hash=False)


def is_missing(value: Any) -> bool:
    """True for None, blank strings and empty lists: the lead lacks that data."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, _SEQUENCE_TYPES):
        return len(value) == 0
    return False


def is_number(value: Any) -> bool:
    """True for real numeric types (bool excluded, although it subclasses int)."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def as_decimal(value: Any) -> Decimal | None:
    """Numeric value of a number or numeric string; None when it has none."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, float):
            # repr() gives the shortest round-tripping text, so 0.1 -> Decimal("0.1").
            number = Decimal(repr(value))
        elif isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, str):
            number = Decimal(value.strip())
        else:
            return None
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def same_value(actual: Any, expected: Any) -> bool:
    """Equality as users mean it: strings case-insensitively, numbers numerically."""
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.strip().casefold() == expected.strip().casefold()
    if is_number(actual) or is_number(expected):
        # Numeric only when one side really is a number, so codes such as "007"
        # and "7" stay different strings.
        a, b = as_decimal(actual), as_decimal(expected)
        return a is not None and b is not None and a == b
    return bool(actual == expected)


def _text(value: Any) -> str:
    return str(value).strip().casefold()


def field_value(fields: Mapping[str, Any], name: str) -> Any:
    """Value of a lead field; `properties.<key>` reads the lead's properties dict."""
    if name.startswith("properties."):
        properties = fields.get("properties")
        if not isinstance(properties, Mapping):
            return None
        return properties.get(name.removeprefix("properties."))
    value = fields.get(name)
    if name == "email_domain" and is_missing(value):
        # Derived when the caller did not: free-mail rules must not miss a lead.
        email = fields.get("email")
        if isinstance(email, str) and "@" in email:
            return email.rsplit("@", 1)[1].strip().lower() or None
    return value


def _ordered(actual: Any, op: str, expected: Any) -> bool:
    a = as_decimal(actual)
    if a is None:
        return False
    if op == "between":
        lo, hi = (as_decimal(v) for v in expected)
        return lo is not None and hi is not None and lo <= a <= hi
    b = as_decimal(expected)
    if b is None:
        return False
    return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]


@dataclass(frozen=True)
class FieldCondition:
    """A test on one lead field: a fit condition or a field scoring signal."""

    field: str
    op: str
    value: Any = None
    label: str | None = None
    id: str | None = None

    def holds(self, fields: Mapping[str, Any]) -> bool:
        """Whether the lead's fields meet the condition; missing data never does (but is_set false)."""
        actual = field_value(fields, self.field)
        if self.op == "is_set":
            return (not is_missing(actual)) is bool(self.value)
        if is_missing(actual):
            return False
        values = tuple(actual) if isinstance(actual, _SEQUENCE_TYPES) else (actual,)
        op, expected = self.op, self.value
        if op in {"equals", "contains"} and isinstance(actual, _SEQUENCE_TYPES):
            # A list field (technologies, tags) "equals"/"contains" x when x is one of its items.
            return any(same_value(v, expected) for v in values)
        if op == "equals":
            return same_value(actual, expected)
        if op == "not_equals":
            return not any(same_value(v, expected) for v in values)
        if op == "in":
            return any(same_value(v, e) for v in values for e in expected)
        if op == "not_in":
            return not any(same_value(v, e) for v in values for e in expected)
        if op == "contains":
            return _text(expected) in _text(actual)
        if op in {"gt", "gte", "lt", "lte", "between"}:
            return not isinstance(actual, _SEQUENCE_TYPES) and _ordered(actual, op, expected)
        raise ValueError(f"unknown field op {op!r}")


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
        values = actual if isinstance(actual, _SEQUENCE_TYPES) else (actual,)
        return any(self._matches_one(v) for v in values)

    def _matches_one(self, actual: Any) -> bool:
        if self.match == "equals":
            return same_value(actual, self.value)
        if self.match == "in":
            return any(same_value(actual, e) for e in self.value)
        if self.match == "contains":
            return _text(self.value) in _text(actual)
        if self.match == "startswith":
            return _text(actual).startswith(_text(self.value))
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
    for rule in rules:
        label = _rule_label(rule)
        signal = rule.signal
        if isinstance(signal, FieldCondition):
            if rule.points and signal.holds(fields):
                lines.append(ScoreLine(rule.id, label, rule.points, rule.points, None, rule.group))
            continue
        matching = sorted(
            (a for a in activities if a.occurred_at <= now and signal.matches(a)),
            key=_recency_key,
            reverse=True,
        )
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
    for rule in rules:
        signal = rule.signal
        if isinstance(signal, FieldCondition):
            points = rule.points if signal.holds(fields) else 0.0
            series = [points] * len(at)
        else:
            times = sorted(
                (a.occurred_at - origin) // tick for a in activities if signal.matches(a)
            )
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
