"""MQL/PQL definitions: parse the stored JSON, evaluate a lead, find when it first qualified.

Pure module: no ORM, no Django, no settings; `now` is always passed in and must
be timezone-aware.

Semantics worth knowing:
- A missing `fit` or `behaviour` key, and any group without conditions, is met.
- Behaviour windows are (now - D days, now]: an activity exactly D days old no
  longer counts, and activities after `now` are ignored everywhere.
- `count: "distinct_days"` counts distinct UTC calendar dates. The pure engine
  gets no tenant timezone, and UTC keeps the answer identical on every worker;
  a session at 23:30 and 00:30 local time may therefore count as one day or two.
- Strings compare case-insensitively; numbers numerically (see scoring.same_value).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from apps.leads.field_conditions import FIELD_OPS, field_value, is_missing, is_number
from apps.leads.seniority import SENIORITY_LABELS
from apps.leads.touch_kinds import TOUCH_KIND_ALIASES, canonical_activity_kind
from apps.mql.scoring import (
    DECAY_KINDS,
    PROPERTY_MATCHES,
    ActivityFact,
    ActivityMatch,
    Decay,
    FieldCondition,
    ScoreLine,
    ScoreRule,
    score,
    score_timeline,
)

ENGAGEMENT_KINDS = frozenset(
    {
        "page_view",
        "form_submit",
        "content_download",
        "webinar_registered",
        "webinar_attended",
        "email_open",
        "email_click",
        "product_event",
    }
)
SALES_TOUCH_KINDS = frozenset({"call", "email_sent", "meeting", "sms", "social"})
ACTIVITY_KINDS = ENGAGEMENT_KINDS | SALES_TOUCH_KINDS

FIELD_LABELS: dict[str, str] = {
    "external_id": "External ID",
    "email": "Email",
    "email_domain": "Email domain",
    "first_name": "First name",
    "last_name": "Last name",
    "title": "Title",
    "seniority": "Seniority",
    "company": "Company",
    "company_domain": "Company domain",
    "company_size": "Company size",
    "annual_revenue": "Annual revenue",
    "industry": "Industry",
    "country": "Country",
    "region": "Region",
    "source": "Source",
    "campaign": "Campaign",
    "stage": "Stage",
}
LEAD_FIELDS = frozenset(FIELD_LABELS)
# Read straight off a lead; email_domain is derived from email.
LEAD_ATTRIBUTES = tuple(name for name in FIELD_LABELS if name != "email_domain")
NUMERIC_FIELDS = frozenset({"company_size", "annual_revenue"})
COUNT_MODES = frozenset({"activities", "distinct_days"})

__all__ = [
    "ACTIVITY_KINDS",
    "COUNT_MODES",
    "DECAY_KINDS",
    "ENGAGEMENT_KINDS",
    "FIELD_LABELS",
    "FIELD_OPS",
    "LEAD_ATTRIBUTES",
    "LEAD_FIELDS",
    "PROPERTY_MATCHES",
    "SALES_TOUCH_KINDS",
    "ActivityFact",
    "ActivityMatch",
    "BehaviourCondition",
    "ConditionGroup",
    "ConditionResult",
    "Decay",
    "Definition",
    "DefinitionError",
    "Evaluation",
    "FieldCondition",
    "Qualification",
    "ScoreLine",
    "ScoreRule",
    "Scoring",
    "definition_warnings",
    "describe_behaviour_condition",
    "describe_definition",
    "describe_field_condition",
    "evaluate",
    "first_qualification",
    "lead_fields",
    "parse_definition",
]

_ORDERING_OPS = frozenset({"gt", "gte", "lt", "lte", "between"})
_RULE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
# Only a pre-filter for the first-qualification walk; the exact evaluation decides.
_SCORE_TOLERANCE = 1e-3


# --- the parsed definition ---------------------------------------------------


@dataclass(frozen=True)
class BehaviourCondition:
    """At least `min_count` matching activities (or active days) in the last `within_days` days."""

    activity: ActivityMatch
    min_count: int = 1
    within_days: float | None = None  # None = any time up to now
    count: str = "activities"  # activities | distinct_days
    id: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class ConditionGroup:
    """All or any of its conditions; an empty group is met."""

    match: str = "all"
    conditions: tuple[FieldCondition | BehaviourCondition | ConditionGroup, ...] = ()
    label: str | None = None


@dataclass(frozen=True)
class Scoring:
    """Scoring rules, per-group caps on positive points, and the threshold (None = no requirement)."""

    threshold: float | None = None
    # (group, max points) pairs rather than a dict, so a definition stays immutable.
    caps: tuple[tuple[str, float], ...] = ()
    rules: tuple[ScoreRule, ...] = ()


@dataclass(frozen=True)
class Definition:
    """A parsed, valid MQL or PQL definition."""

    fit: ConditionGroup = field(default_factory=ConditionGroup)
    behaviour: ConditionGroup = field(default_factory=ConditionGroup)
    scoring: Scoring = field(default_factory=Scoring)


class DefinitionError(ValueError):
    """A definition that cannot be used; `errors` lists every problem as (json path, message)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__(
            "; ".join(f"{path or 'definition'}: {message}" for path, message in errors)
        )


# --- parsing -----------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check_keys(
    data: Mapping[str, Any], allowed: frozenset[str], path: str, errors: _Errors, hint: str = ""
) -> None:
    for key in data:
        if key not in allowed:
            suffix = f" ({hint})" if hint else ""
            errors.add(
                _join(path, str(key)), f"unknown key{suffix}; expected one of {_listing(allowed)}"
            )


def _listing(names: frozenset[str]) -> str:
    return ", ".join(sorted(names))


def _optional_text(data: Mapping[str, Any], key: str, path: str, errors: _Errors) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        errors.add(_join(path, key), "must be a non-empty text")
        return None
    return value.strip()


def _number(
    value: Any,
    path: str,
    errors: _Errors,
    *,
    positive: bool = False,
    whole_min: int | None = None,
) -> float | None:
    """Validated number; `positive` means > 0, `whole_min` means an integer >= whole_min."""
    if not is_number(value) or value != value or value in (float("inf"), float("-inf")):
        errors.add(path, "must be a number")
        return None
    if whole_min is not None:
        if int(value) != value or value < whole_min:
            errors.add(path, f"must be a whole number of at least {whole_min}")
            return None
        return int(value)
    if positive and value <= 0:
        errors.add(path, "must be greater than 0")
        return None
    return float(value) if not isinstance(value, int) else value


def _scalar_ok(value: Any) -> bool:
    return (isinstance(value, str) and bool(value.strip())) or is_number(value)


_LeafParser = Callable[
    [Mapping[str, Any], str, _Errors], FieldCondition | BehaviourCondition | None
]


def _parse_group(
    data: Any,
    path: str,
    errors: _Errors,
    parse_leaf: _LeafParser,
) -> ConditionGroup:
    if not isinstance(data, Mapping):
        errors.add(path, "must be an object with match and conditions")
        return ConditionGroup()
    _check_keys(data, frozenset({"match", "conditions", "label", "id"}), path, errors)
    match = data.get("match", "all")
    if match not in {"all", "any"}:
        errors.add(_join(path, "match"), "must be all or any")
    raw_conditions = data.get("conditions", [])
    if not isinstance(raw_conditions, list):
        errors.add(_join(path, "conditions"), "must be a list")
        raw_conditions = []
    conditions: list[FieldCondition | BehaviourCondition | ConditionGroup] = []
    for i, item in enumerate(raw_conditions):
        item_path = f"{_join(path, 'conditions')}[{i}]"
        if isinstance(item, Mapping) and "conditions" in item:
            conditions.append(_parse_group(item, item_path, errors, parse_leaf))
        elif isinstance(item, Mapping):
            leaf = parse_leaf(item, item_path, errors)
            if leaf is not None:
                conditions.append(leaf)
        else:
            errors.add(item_path, "must be an object (a condition or a group)")
    return ConditionGroup(
        match=match if match in {"all", "any"} else "all",
        conditions=tuple(conditions),
        label=_optional_text(data, "label", path, errors),
    )


def _parse_field_value(op: str, value: Any, field_name: str, path: str, errors: _Errors) -> Any:
    value_path = _join(path, "value")
    if op == "is_set":
        if value is None:
            return True
        if not isinstance(value, bool):
            errors.add(value_path, "must be true or false")
        return bool(value)
    if op in {"in", "not_in"}:
        if not isinstance(value, list) or not value:
            errors.add(value_path, "must be a non-empty list")
            return ()
        for i, item in enumerate(value):
            if not _scalar_ok(item):
                errors.add(f"{value_path}[{i}]", "must be a text or a number")
        return tuple(value)
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            errors.add(value_path, "must be a list [low, high]")
            return (0, 0)
        lo = _number(value[0], f"{value_path}[0]", errors)
        hi = _number(value[1], f"{value_path}[1]", errors)
        if lo is not None and hi is not None and lo > hi:
            errors.add(value_path, "low must not be greater than high")
        return (lo, hi)
    if op in _ORDERING_OPS:
        return _number(value, value_path, errors)
    if op in {"equals", "not_equals"}:
        if not (_scalar_ok(value) or isinstance(value, bool)):
            errors.add(value_path, "must be a text, a number or true/false")
        return value
    if op == "contains":
        if field_name in NUMERIC_FIELDS:
            errors.add(_join(path, "op"), f"contains needs a text or list field, not {field_name}")
        if not _scalar_ok(value):
            errors.add(value_path, "must be a non-empty text")
        return value
    return value


def _parse_field_condition(
    data: Mapping[str, Any], path: str, errors: _Errors, *, extra_keys: frozenset[str] = frozenset()
) -> FieldCondition | None:
    _check_keys(
        data,
        frozenset({"field", "op", "value", "label", "id"}) | extra_keys,
        path,
        errors,
        hint="fit conditions test lead fields; activity conditions belong in behaviour"
        if "kind" in data
        else "",
    )
    name = data.get("field")
    op = data.get("op")
    ok = True
    if not isinstance(name, str) or not name:
        errors.add(_join(path, "field"), "is required")
        ok = False
    elif name not in LEAD_FIELDS and not (
        name.startswith("properties.") and len(name) > len("properties.")
    ):
        errors.add(
            _join(path, "field"),
            f"unknown field {name!r}; use a lead field or properties.<key>",
        )
        ok = False
    if op is None:
        errors.add(_join(path, "op"), "is required")
        return None
    if op not in FIELD_OPS:
        errors.add(_join(path, "op"), f"unknown op {op!r}; expected one of {_listing(FIELD_OPS)}")
        return None
    if ok and op in _ORDERING_OPS and name in LEAD_FIELDS and name not in NUMERIC_FIELDS:
        errors.add(_join(path, "op"), f"{op} compares numbers; {name} is not a number field")
    value = _parse_field_value(
        op, data.get("value"), name if isinstance(name, str) else "", path, errors
    )
    if not ok:
        return None
    return FieldCondition(
        field=name,
        op=op,
        value=value,
        label=_optional_text(data, "label", path, errors),
        id=_optional_text(data, "id", path, errors),
    )


def _parse_activity_match(
    data: Mapping[str, Any], path: str, errors: _Errors
) -> ActivityMatch | None:
    # DESIGN.md's touch names ("email") mean the stored ones ("email_sent").
    kind = canonical_activity_kind(data.get("kind"))
    ok = True
    if kind is None:
        errors.add(_join(path, "kind"), "is required")
        ok = False
    elif kind not in ACTIVITY_KINDS:
        errors.add(
            _join(path, "kind"),
            f"unknown activity kind {kind!r}; expected one of "
            f"{_listing(ACTIVITY_KINDS | frozenset(TOUCH_KIND_ALIASES))}",
        )
        ok = False
    prop = data.get("property")
    match = data.get("match", "equals")
    value = data.get("value")
    if prop is None:
        for key in ("match", "value"):
            if key in data:
                errors.add(_join(path, key), "needs a property to match on")
                ok = False
        return ActivityMatch(kind=kind) if ok else None
    if not isinstance(prop, str) or not prop.strip():
        errors.add(_join(path, "property"), "must be a non-empty text")
        ok = False
    if match not in PROPERTY_MATCHES:
        errors.add(
            _join(path, "match"),
            f"unknown match {match!r}; expected one of {_listing(PROPERTY_MATCHES)}",
        )
        return None
    if match == "in":
        if not isinstance(value, list) or not value or not all(_scalar_ok(v) for v in value):
            errors.add(_join(path, "value"), "must be a non-empty list of texts or numbers")
            ok = False
        else:
            value = tuple(value)
    elif match == "equals":
        if not (_scalar_ok(value) or isinstance(value, bool)):
            errors.add(_join(path, "value"), "must be a text, a number or true/false")
            ok = False
    elif not isinstance(value, str) or not value.strip():
        errors.add(_join(path, "value"), "must be a non-empty text")
        ok = False
    return ActivityMatch(kind=kind, property=prop, match=match, value=value) if ok else None


def _parse_behaviour_condition(
    data: Mapping[str, Any], path: str, errors: _Errors
) -> BehaviourCondition | None:
    _check_keys(
        data,
        frozenset(
            {
                "id",
                "label",
                "kind",
                "property",
                "match",
                "value",
                "min_count",
                "within_days",
                "count",
            }
        ),
        path,
        errors,
        hint="behaviour conditions test activities; field conditions belong in fit"
        if "field" in data
        else "",
    )
    activity = _parse_activity_match(data, path, errors)
    min_count = 1
    if "min_count" in data:
        min_count = _number(data["min_count"], _join(path, "min_count"), errors, whole_min=1) or 1
    within_days = None
    if data.get("within_days") is not None:
        within_days = _number(
            data["within_days"], _join(path, "within_days"), errors, positive=True
        )
    count = data.get("count", "activities")
    if count not in COUNT_MODES:
        errors.add(_join(path, "count"), "must be activities or distinct_days")
    label = _optional_text(data, "label", path, errors)
    condition_id = _optional_text(data, "id", path, errors)
    if activity is None:
        return None
    return BehaviourCondition(
        activity=activity,
        min_count=int(min_count),
        within_days=within_days,
        count=count if count in COUNT_MODES else "activities",
        id=condition_id,
        label=label,
    )


def _parse_decay(data: Any, path: str, errors: _Errors) -> Decay:
    if data is None:
        return Decay()
    if not isinstance(data, Mapping):
        errors.add(path, "must be an object with type and days")
        return Decay()
    _check_keys(data, frozenset({"type", "days"}), path, errors)
    kind = data.get("type", "none")
    if kind not in DECAY_KINDS:
        errors.add(
            _join(path, "type"), f"unknown decay {kind!r}; expected one of {_listing(DECAY_KINDS)}"
        )
        return Decay()
    if kind == "none":
        return Decay()
    days = _number(data.get("days"), _join(path, "days"), errors, positive=True)
    return Decay(kind=kind, days=days) if days is not None else Decay()


def _parse_signal(data: Any, path: str, errors: _Errors) -> FieldCondition | ActivityMatch | None:
    if not isinstance(data, Mapping):
        errors.add(path, "must be an object with a type of activity or field")
        return None
    signal_type = data.get("type")
    if signal_type == "activity":
        _check_keys(data, frozenset({"type", "kind", "property", "match", "value"}), path, errors)
        return _parse_activity_match(data, path, errors)
    if signal_type == "field":
        return _parse_field_condition(data, path, errors, extra_keys=frozenset({"type"}))
    errors.add(_join(path, "type"), "must be activity or field")
    return None


def _parse_rule(data: Any, path: str, errors: _Errors) -> ScoreRule | None:
    if not isinstance(data, Mapping):
        errors.add(path, "must be an object")
        return None
    _check_keys(
        data,
        frozenset({"id", "label", "signal", "points", "group", "decay", "max_count"}),
        path,
        errors,
    )
    rule_id = data.get("id")
    if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
        errors.add(_join(path, "id"), "is required: letters, digits, _ and - only")
        rule_id = None
    signal = _parse_signal(data.get("signal"), _join(path, "signal"), errors)
    points = _number(data.get("points"), _join(path, "points"), errors)
    decay = _parse_decay(data.get("decay"), _join(path, "decay"), errors)
    max_count = None
    if data.get("max_count") is not None:
        max_count = _number(data["max_count"], _join(path, "max_count"), errors, whole_min=1)
    if isinstance(signal, FieldCondition):
        if decay.kind != "none":
            errors.add(
                _join(path, "decay"), "only activity signals decay; use none for a field signal"
            )
        if max_count is not None:
            errors.add(_join(path, "max_count"), "only applies to activity signals")
    group = _optional_text(data, "group", path, errors)
    label = _optional_text(data, "label", path, errors)
    if rule_id is None or signal is None or points is None:
        return None
    return ScoreRule(
        id=rule_id,
        signal=signal,
        points=float(points),
        label=label,
        group=group,
        decay=decay,
        max_count=int(max_count) if max_count is not None else None,
    )


def _parse_scoring(data: Any, path: str, errors: _Errors) -> Scoring:
    if data is None:
        return Scoring()
    if not isinstance(data, Mapping):
        errors.add(path, "must be an object with threshold, caps and rules")
        return Scoring()
    _check_keys(data, frozenset({"threshold", "caps", "rules"}), path, errors)
    threshold = None
    if data.get("threshold") is not None:
        threshold = _number(data["threshold"], _join(path, "threshold"), errors)
    caps: list[tuple[str, float]] = []
    raw_caps = data.get("caps") or {}
    if not isinstance(raw_caps, Mapping):
        errors.add(_join(path, "caps"), "must be an object of group: maximum points")
        raw_caps = {}
    for group, cap in raw_caps.items():
        value = _number(cap, f"{_join(path, 'caps')}.{group}", errors, positive=True)
        if value is not None:
            caps.append((str(group), float(value)))
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        errors.add(_join(path, "rules"), "must be a list")
        raw_rules = []
    rules: list[ScoreRule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw_rules):
        rule_path = f"{_join(path, 'rules')}[{i}]"
        rule = _parse_rule(item, rule_path, errors)
        # Checked on the raw id so a duplicate is reported even next to other errors.
        raw_id = item.get("id") if isinstance(item, Mapping) else None
        if isinstance(raw_id, str):
            if raw_id in seen:
                errors.add(_join(rule_path, "id"), f"duplicate rule id {raw_id!r}")
            seen.add(raw_id)
        if rule is not None:
            rules.append(rule)
    return Scoring(
        threshold=float(threshold) if threshold is not None else None,
        caps=tuple(caps),
        rules=tuple(rules),
    )


def _check_unique_ids(group: ConditionGroup, path: str, errors: _Errors) -> None:
    seen: set[str] = set()
    for leaf_path, leaf in _leaves(group, path):
        leaf_id = getattr(leaf, "id", None)
        if leaf_id is None:
            continue
        if leaf_id in seen:
            errors.add(_join(leaf_path, "id"), f"duplicate condition id {leaf_id!r}")
        seen.add(leaf_id)


def parse_definition(data: Mapping[str, Any]) -> Definition:
    """Parse stored definition JSON; raise DefinitionError listing every problem with its path."""
    errors = _Errors()
    if not isinstance(data, Mapping):
        raise DefinitionError([("", "must be an object with fit, behaviour and scoring")])
    hint = "did you mean behaviour?" if "behavior" in data else ""
    _check_keys(data, frozenset({"fit", "behaviour", "scoring"}), "", errors, hint=hint)
    fit = ConditionGroup()
    if data.get("fit") is not None:
        fit = _parse_group(data["fit"], "fit", errors, _parse_field_condition)
    behaviour = ConditionGroup()
    if data.get("behaviour") is not None:
        behaviour = _parse_group(data["behaviour"], "behaviour", errors, _parse_behaviour_condition)
    scoring = _parse_scoring(data.get("scoring"), "scoring", errors)
    _check_unique_ids(fit, "fit", errors)
    _check_unique_ids(behaviour, "behaviour", errors)
    if errors.items:
        raise DefinitionError(errors.items)
    return Definition(fit=fit, behaviour=behaviour, scoring=scoring)


# --- walking groups ----------------------------------------------------------


def _leaves(
    group: ConditionGroup, path: str
) -> Iterator[tuple[str, FieldCondition | BehaviourCondition]]:
    for i, item in enumerate(group.conditions):
        item_path = f"{path}.conditions[{i}]"
        if isinstance(item, ConditionGroup):
            yield from _leaves(item, item_path)
        else:
            yield item_path, item


def _empty_groups(group: ConditionGroup, path: str) -> Iterator[str]:
    for i, item in enumerate(group.conditions):
        if isinstance(item, ConditionGroup):
            item_path = f"{path}.conditions[{i}]"
            if not item.conditions:
                yield item_path
            yield from _empty_groups(item, item_path)


def _combine(match: str, results: Sequence[bool]) -> bool:
    if not results:
        return True
    return all(results) if match == "all" else any(results)


# --- plain English -----------------------------------------------------------

_KIND_PHRASES: dict[str, str] = {
    "page_view": "visited a page",
    "form_submit": "submitted a form",
    "content_download": "downloaded content",
    "webinar_registered": "registered for a webinar",
    "webinar_attended": "attended a webinar",
    "email_open": "opened an email",
    "email_click": "clicked a link in an email",
    "product_event": "had a product event",
    "call": "had a call",
    "email_sent": "was sent a sales email",
    "meeting": "had a meeting",
    "sms": "was sent a text message",
    "social": "had a social touch",
}
_OP_PHRASES = {
    "equals": "is",
    "not_equals": "is not",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "contains": "contains",
}
_DECAY_PHRASES = {
    "half_life": "halving every {days}",
    "linear": "fading to nothing over {days}",
}


def _fmt_number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,}" if is_number(value) else str(value)


def _fmt_value(value: Any, field_name: str = "") -> str:
    if field_name == "seniority" and isinstance(value, str):
        return SENIORITY_LABELS.get(value.lower(), value)
    return _fmt_number(value)


def _fmt_list(values: Sequence[Any], field_name: str = "", *, last: str = "or") -> str:
    texts = [_fmt_value(v, field_name) for v in values]
    if len(texts) <= 1:
        return "".join(texts)
    return f"{', '.join(texts[:-1])} {last} {texts[-1]}"


def _fmt_days(days: float) -> str:
    return "day" if days == 1 else f"{_fmt_number(days)} days"


def _field_label(name: str) -> str:
    if name.startswith("properties."):
        return f"Property {name.removeprefix('properties.')}"
    return FIELD_LABELS.get(name, name)


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def describe_field_condition(condition: FieldCondition) -> str:
    """Plain-English sentence for a field condition, e.g. "Company size is at least 200"."""
    label, op, value, name = (
        _field_label(condition.field),
        condition.op,
        condition.value,
        condition.field,
    )
    if op == "is_set":
        return f"{label} is {'known' if value else 'not known'}"
    if op == "in":
        return f"{label} is one of {_fmt_list(value, name)}"
    if op == "not_in":
        return f"{label} is none of {_fmt_list(value, name)}"
    if op == "between":
        return f"{label} is between {_fmt_number(value[0])} and {_fmt_number(value[1])}"
    if op == "contains":
        return f'{label} contains "{value}"'
    return f"{label} {_OP_PHRASES[op]} {_fmt_value(value, name)}"


def _describe_activity(activity: ActivityMatch) -> str:
    phrase = _KIND_PHRASES.get(activity.kind, f"had a {activity.kind} activity")
    if activity.property is None:
        return phrase
    verbs = {"equals": "is", "contains": "contains", "startswith": "starts with", "in": "is one of"}
    value = _fmt_list(activity.value) if activity.match == "in" else _fmt_value(activity.value)
    return f"{phrase} whose {activity.property} {verbs[activity.match]} {value}"


def describe_behaviour_condition(condition: BehaviourCondition) -> str:
    """Plain-English sentence, e.g. "Visited a page whose url contains /pricing at least once in the last 7 days"."""
    text = _describe_activity(condition.activity)
    n = condition.min_count
    if condition.count == "distinct_days":
        text += f" on at least {n} different {'day' if n == 1 else 'days'}"
    else:
        text += " at least once" if n == 1 else f" at least {n} times"
    if condition.within_days is not None:
        text += f" in the last {_fmt_days(condition.within_days)}"
    return _capitalize(text)


def _describe_node(node: FieldCondition | BehaviourCondition | ConditionGroup) -> str:
    if isinstance(node, FieldCondition):
        return describe_field_condition(node)
    if isinstance(node, BehaviourCondition):
        return describe_behaviour_condition(node)
    if not node.conditions:
        return "(an empty group, always met)"
    head = "All of" if node.match == "all" else "At least one of"
    joiner = "; and " if node.match == "all" else "; or "
    return f"{head}: {joiner.join(_describe_node(child) for child in node.conditions)}"


def _describe_rule(rule: ScoreRule) -> str:
    points = f"{rule.points:+g} points"
    signal = rule.signal
    if isinstance(signal, FieldCondition):
        condition = describe_field_condition(signal)
        text = f"{points} if {condition[:1].lower()}{condition[1:]}"
    else:
        text = f"{points} each time the lead {_describe_activity(signal)}"
        if rule.decay.kind != "none" and rule.decay.days is not None:
            text += ", " + _DECAY_PHRASES[rule.decay.kind].format(days=_fmt_days(rule.decay.days))
        if rule.max_count is not None:
            text += f", counting at most {rule.max_count}"
    return f"{rule.label or rule.id}: {text}"


def describe_definition(defn: Definition) -> list[str]:
    """Plain-English sentences for the one-page SLA document, in reading order."""
    lines: list[str] = []
    for title, group, verb, noun in (
        ("Fit", defn.fit, "meet", "conditions"),
        ("Behaviour", defn.behaviour, "show", "signals"),
    ):
        if not group.conditions:
            lines.append(f"{title}: no condition")
            continue
        which = "all" if group.match == "all" else "at least one"
        lines.append(f"{title}: the lead must {verb} {which} of these {noun}")
        lines.extend(_describe_node(child) for child in group.conditions)
    scoring = defn.scoring
    if scoring.threshold is None:
        lines.append("No score requirement")
    else:
        lines.append(f"Score of at least {_fmt_number(scoring.threshold)} points")
    lines.extend(_describe_rule(rule) for rule in scoring.rules)
    lines.extend(
        f"At most {_fmt_number(cap)} points from {group} signals (penalties always count)"
        for group, cap in scoring.caps
    )
    return lines


# --- warnings ----------------------------------------------------------------


def _max_reachable(scoring: Scoring) -> float | None:
    """Most points a lead can earn, or None when unbounded (an uncapped, uncounted activity rule)."""
    caps = dict(scoring.caps)
    by_group: dict[str | None, float] = {}
    for rule in scoring.rules:
        if rule.points <= 0:
            continue
        if isinstance(rule.signal, FieldCondition):
            most: float | None = rule.points
        elif rule.max_count is not None:
            most = rule.points * rule.max_count
        else:
            most = None
        if most is None:
            if rule.group not in caps:
                return None
            most = caps[rule.group]
        by_group[rule.group] = by_group.get(rule.group, 0.0) + most
    return sum(
        min(total, caps[group]) if group in caps else total for group, total in by_group.items()
    )


def definition_warnings(defn: Definition) -> list[str]:
    """Problems that do not make a definition invalid but that its authors should see."""
    warnings: list[str] = []
    if not defn.behaviour.conditions:
        warnings.append("No behaviour condition: fit alone floods sales with non-buyers.")
    if not defn.fit.conditions:
        warnings.append(
            "No fit condition: any lead showing the behaviour qualifies, whatever the company."
        )
    for title, group in (("fit", defn.fit), ("behaviour", defn.behaviour)):
        warnings.extend(
            f"{path} is an empty group: it is always met." for path in _empty_groups(group, title)
        )
    scoring = defn.scoring
    if scoring.threshold is None and scoring.rules:
        warnings.append(
            "Scoring rules are defined but there is no threshold: the score never decides."
        )
    if scoring.threshold is not None:
        if not scoring.rules:
            warnings.append("A threshold is set but there are no scoring rules: every score is 0.")
        elif scoring.threshold <= 0:
            warnings.append("A threshold of 0 or less is met by every lead without penalties.")
        reachable = _max_reachable(scoring)
        if scoring.rules and reachable is not None and reachable < scoring.threshold:
            warnings.append(
                f"The threshold of {_fmt_number(scoring.threshold)} points can never be reached: "
                f"a lead can earn at most {reachable:g}."
            )
    used_groups = {rule.group for rule in scoring.rules}
    warnings.extend(
        f"The cap on {group} applies to no scoring rule."
        for group, _ in scoring.caps
        if group not in used_groups
    )
    warnings.extend(
        f"Scoring rule {rule.id} gives 0 points." for rule in scoring.rules if rule.points == 0
    )
    return warnings


# --- evaluation --------------------------------------------------------------


@dataclass(frozen=True)
class ConditionResult:
    """Outcome of one fit or behaviour leaf condition, with what the lead actually had."""

    path: str
    label: str
    met: bool
    detail: str


@dataclass(frozen=True)
class Evaluation:
    """Whether a lead meets a definition at a moment, and why."""

    qualified: bool
    fit_met: bool
    behaviour_met: bool
    score: float
    threshold: float | None
    conditions: tuple[ConditionResult, ...]
    score_lines: tuple[ScoreLine, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Qualification:
    """The first moment a lead met a definition: this is its mql_at."""

    at: datetime
    trigger_activity_id: int | str | None  # None: a field change (not_before) or plain time (now)
    evaluation: Evaluation


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _utc_date(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


class _LeafIndex:
    """Matching activity times of one behaviour condition, sorted once; counts at any moment in O(log n)."""

    def __init__(self, condition: BehaviourCondition, activities: Sequence[ActivityFact]) -> None:
        self.condition = condition
        self.times = sorted(a.occurred_at for a in activities if condition.activity.matches(a))
        self.window = (
            timedelta(days=condition.within_days) if condition.within_days is not None else None
        )
        # new_days[j] = how many of times[1:j] fall on a different UTC date than the one before
        # (only distinct-day counts read it).
        self.new_days = [0, 0]
        if condition.count == "activities":
            return
        dates = [_utc_date(t) for t in self.times]
        for i in range(1, len(dates)):
            self.new_days.append(self.new_days[-1] + (dates[i] != dates[i - 1]))

    def count(self, now: datetime) -> int:
        hi = bisect_right(self.times, now)
        lo = bisect_right(self.times, now - self.window) if self.window is not None else 0
        if hi <= lo:
            return 0
        if self.condition.count == "activities":
            return hi - lo
        return 1 + self.new_days[hi] - self.new_days[lo + 1]

    def met(self, now: datetime) -> bool:
        return self.count(now) >= self.condition.min_count


@dataclass(frozen=True)
class _IndexedGroup:
    match: str
    children: tuple[_IndexedGroup | _LeafIndex, ...]

    def met(self, now: datetime) -> bool:
        results = [child.met(now) for child in self.children]
        return _combine(self.match, results)


def _index_behaviour(group: ConditionGroup, activities: Sequence[ActivityFact]) -> _IndexedGroup:
    children: list[_IndexedGroup | _LeafIndex] = []
    for item in group.conditions:
        if isinstance(item, ConditionGroup):
            children.append(_index_behaviour(item, activities))
        elif isinstance(item, BehaviourCondition):
            children.append(_LeafIndex(item, activities))
    return _IndexedGroup(group.match, tuple(children))


def _fit_results(
    group: ConditionGroup, path: str, fields: Mapping[str, Any], out: list[ConditionResult]
) -> bool:
    results: list[bool] = []
    for i, item in enumerate(group.conditions):
        item_path = f"{path}.conditions[{i}]"
        if isinstance(item, ConditionGroup):
            results.append(_fit_results(item, item_path, fields, out))
        elif isinstance(item, FieldCondition):
            met = item.holds(fields)
            actual = field_value(fields, item.field)
            name = _field_label(item.field).lower()
            if is_missing(actual):
                detail = f"{name} is not known"
            elif isinstance(actual, list | tuple | set | frozenset):
                detail = f"{name} is {_fmt_list(list(actual), item.field, last='and')}"
            else:
                detail = f"{name} is {_fmt_value(actual, item.field)}"
            out.append(
                ConditionResult(
                    item_path, item.label or describe_field_condition(item), met, detail
                )
            )
            results.append(met)
    return _combine(group.match, results)


def _fit_met(group: ConditionGroup, fields: Mapping[str, Any]) -> bool:
    """_fit_results' verdict without its explanation (the walk's early exit)."""
    results = [
        _fit_met(item, fields) if isinstance(item, ConditionGroup) else item.holds(fields)
        for item in group.conditions
        if isinstance(item, ConditionGroup | FieldCondition)
    ]
    return _combine(group.match, results)


def _behaviour_results(
    group: ConditionGroup,
    indexed: _IndexedGroup,
    path: str,
    now: datetime,
    out: list[ConditionResult],
) -> bool:
    results: list[bool] = []
    for i, (item, child) in enumerate(zip(group.conditions, indexed.children, strict=True)):
        item_path = f"{path}.conditions[{i}]"
        if isinstance(child, _IndexedGroup) and isinstance(item, ConditionGroup):
            results.append(_behaviour_results(item, child, item_path, now, out))
            continue
        if not isinstance(child, _LeafIndex):
            raise TypeError(f"{item_path}: behaviour groups hold behaviour conditions only")
        condition = child.condition
        count = child.count(now)
        met = count >= condition.min_count
        window = f" in the last {_fmt_days(condition.within_days)}" if condition.within_days else ""
        if condition.count == "distinct_days":
            detail = f"active on {count} different {'day' if count == 1 else 'days'}{window}"
        else:
            detail = f"{count} matching {'activity' if count == 1 else 'activities'}{window}"
        detail += f" (needs {condition.min_count})"
        label = condition.label or describe_behaviour_condition(condition)
        out.append(ConditionResult(item_path, label, met, detail))
        results.append(met)
    return _combine(group.match, results)


def _reasons(
    *,
    defn: Definition,
    qualified: bool,
    fit_met: bool,
    behaviour_met: bool,
    total: float,
    conditions: Sequence[ConditionResult],
) -> tuple[str, ...]:
    threshold = defn.scoring.threshold
    score_met = threshold is None or total >= threshold
    if qualified:
        reasons = ["Qualified: fit, behaviour and score requirements are all met."]
    else:
        missed = [
            name
            for name, met in (("fit", fit_met), ("behaviour", behaviour_met), ("score", score_met))
            if not met
        ]
        reasons = [f"Not qualified: {_fmt_list(missed, last='and')} not met."]
    for title, group in (("fit", defn.fit), ("behaviour", defn.behaviour)):
        if not group.conditions:
            reasons.append(f"No {title} condition, so {title} is met.")
    reasons.extend(f"{'Met' if c.met else 'Not met'}: {c.label} - {c.detail}." for c in conditions)
    if threshold is not None:
        verb = "reaches" if score_met else "is below"
        reasons.append(f"Score {total:g} {verb} the threshold of {threshold:g}.")
    return tuple(reasons)


def _evaluate_indexed(
    defn: Definition,
    *,
    fields: Mapping[str, Any],
    activities: Sequence[ActivityFact],
    indexed: _IndexedGroup,
    now: datetime,
) -> Evaluation:
    conditions: list[ConditionResult] = []
    fit_met = _fit_results(defn.fit, "fit", fields, conditions)
    behaviour_met = _behaviour_results(defn.behaviour, indexed, "behaviour", now, conditions)
    total, lines = score(
        defn.scoring.rules, dict(defn.scoring.caps), fields=fields, activities=activities, now=now
    )
    threshold = defn.scoring.threshold
    qualified = fit_met and behaviour_met and (threshold is None or total >= threshold)
    return Evaluation(
        qualified=qualified,
        fit_met=fit_met,
        behaviour_met=behaviour_met,
        score=total,
        threshold=threshold,
        conditions=tuple(conditions),
        score_lines=lines,
        reasons=_reasons(
            defn=defn,
            qualified=qualified,
            fit_met=fit_met,
            behaviour_met=behaviour_met,
            total=total,
            conditions=conditions,
        ),
    )


def evaluate(
    defn: Definition,
    *,
    fields: Mapping[str, Any],
    activities: Sequence[ActivityFact],
    now: datetime,
) -> Evaluation:
    """Whether the lead meets the definition at `now` (activities after `now` ignored), with reasons."""
    _require_aware(now, "now")
    indexed = _index_behaviour(defn.behaviour, activities)
    return _evaluate_indexed(defn, fields=fields, activities=activities, indexed=indexed, now=now)


def _activity_order(activity: ActivityFact) -> tuple[datetime, str, str]:
    # A total order, so out-of-order delivery sorts to the same sequence.
    return (activity.occurred_at, activity.kind, str(activity.id))


# The activity matchers of a definition (behaviour leaves, then scoring signals), by the
# definition's identity: a batch replays one definition for a thousand leads, and walking
# its tree for every activity of every lead cost more than the matching. The entry keeps
# the definition alive, so its id cannot be reused while cached; a handful of
# definitions are ever in use at once.
_SIGNALS: dict[int, tuple[Definition, tuple[ActivityMatch, ...]]] = {}
_SIGNALS_MAX = 64


def _signal_matches(defn: Definition) -> tuple[ActivityMatch, ...]:
    cached = _SIGNALS.get(id(defn))
    if cached is not None and cached[0] is defn:
        return cached[1]
    behaviour = [
        leaf.activity
        for _, leaf in _leaves(defn.behaviour, "")
        if isinstance(leaf, BehaviourCondition)
    ]
    scoring = [rule.signal for rule in defn.scoring.rules if isinstance(rule.signal, ActivityMatch)]
    matches = (*behaviour, *scoring)
    if len(_SIGNALS) >= _SIGNALS_MAX:
        _SIGNALS.clear()
    _SIGNALS[id(defn)] = (defn, matches)
    return matches


def _is_signal(defn: Definition, activity: ActivityFact) -> bool:
    return any(match.matches(activity) for match in _signal_matches(defn))


def first_qualification(
    defn: Definition,
    *,
    fields: Mapping[str, Any],
    activities: Sequence[ActivityFact],
    not_before: datetime | None,
    now: datetime,
) -> Qualification | None:
    """The first moment in [not_before, now] at which the lead met the definition: its mql_at."""
    # Candidates: not_before, every activity time in [not_before, now], and now itself,
    # so a lead that qualifies at now always gets an answer (a decaying penalty can let
    # a lead qualify between activities). Activities before not_before still count as
    # history. The trigger is an activity at the moment that a condition or signal looks
    # at (ties broken by kind and id), else None: a field change or the passing of time.
    _require_aware(now, "now")
    if not_before is not None:
        _require_aware(not_before, "not_before")
        if not_before > now:
            return None
    if not _fit_met(defn.fit, fields):
        return None  # fields do not change over the walk, so neither does fit
    ordered = sorted((a for a in activities if a.occurred_at <= now), key=_activity_order)
    times = [a.occurred_at for a in ordered]
    candidates = {t for t in times if not_before is None or t >= not_before}
    candidates.add(now)
    if not_before is not None:
        candidates.add(not_before)
    moments = sorted(candidates)
    indexed = _index_behaviour(defn.behaviour, ordered)
    # Only the moments at which the behaviour is met can qualify (the same test the walk
    # made first): the score timeline is computed at those alone.
    moments = [moment for moment in moments if indexed.met(moment)]
    scoring = defn.scoring
    threshold = scoring.threshold
    totals: list[float] | None = None
    if threshold is not None and moments:
        # Totals only, in one pass; exact evaluation confirms the moment found.
        totals = score_timeline(
            scoring.rules, dict(scoring.caps), fields=fields, activities=ordered, moments=moments
        )
    for i, moment in enumerate(moments):
        if (
            totals is not None
            and threshold is not None
            and totals[i] < threshold - _SCORE_TOLERANCE
        ):
            continue
        known = ordered[: bisect_right(times, moment)]
        evaluation = _evaluate_indexed(
            defn, fields=fields, activities=known, indexed=indexed, now=moment
        )
        if not evaluation.qualified:
            continue
        at_moment = ordered[bisect_left(times, moment) : len(known)]
        relevant = [a for a in at_moment if _is_signal(defn, a)]
        trigger = (relevant or at_moment or [None])[0]
        return Qualification(
            at=moment,
            trigger_activity_id=trigger.id if trigger is not None else None,
            evaluation=evaluation,
        )
    return None


def lead_fields(lead: Any) -> dict[str, Any]:
    """A lead (or any object with its attributes) as the engine reads it: email_domain derived, properties a dict.

    The one place that turns a lead into rule-engine fields, so MQL rules, ICP fit and
    SLA segments all see the same values.
    """
    fields: dict[str, Any] = {name: getattr(lead, name, None) for name in LEAD_ATTRIBUTES}
    email = fields.get("email") or ""
    fields["email_domain"] = email.rsplit("@", 1)[1].lower() if "@" in email else None
    fields["properties"] = getattr(lead, "properties", None) or {}
    return fields
