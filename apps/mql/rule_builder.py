"""The browser rule builder's model: definition JSON <-> flat form fields, edits, view tree.

Pure module: no ORM, no request. Form fields are named by the same JSON paths
that `rules.parse_definition` uses in its errors (``fit.conditions[1].value``,
``scoring.rules[0].decay.days``), so every error lands next to its input. Each
node carries a hidden ``<path>.node`` field ("group", "field", "behaviour") so an
empty group survives the round trip.

Values are typed from the text the user typed: lists are comma-separated,
numbers become numbers where the operator or field is numeric, and anything
that does not convert is kept as text for parse_definition to reject with a
message at the right place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from apps.mql.rules import NUMERIC_FIELDS

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_NUMERIC_OPS = frozenset({"gt", "gte", "lt", "lte"})
SECTIONS = ("fit", "behaviour")
# Field operators as the builders show them, in the order people think of them.
FIELD_OP_LABELS = {
    "equals": "is",
    "not_equals": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "gt": "more than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "between": "between",
    "contains": "contains",
    "is_set": "is known",
}

BLANK_FIELD_CONDITION: dict[str, Any] = {"field": "company_size", "op": "gte", "value": None}
BLANK_BEHAVIOUR_CONDITION: dict[str, Any] = {
    "kind": "page_view",
    "property": "url",
    "match": "contains",
    "value": "",
    "min_count": 1,
    "within_days": 7,
}


# --- paths -----------------------------------------------------------------------


def path_tokens(path: str) -> list[str | int]:
    """ "fit.conditions[1].op" -> ["fit", "conditions", 1, "op"]."""
    tokens: list[str | int] = []
    for name, index in _TOKEN.findall(path):
        tokens.append(int(index) if index else name)
    return tokens


def _lookup(data: Any, tokens: list[str | int]) -> Any:
    for token in tokens:
        data = data[token]
    return data


# --- form -> rules -----------------------------------------------------------------


def _number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if number == number and abs(number) != float("inf") else text


def _items(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _field_value(field_name: str, op: str, text: str) -> Any:
    numeric = field_name in NUMERIC_FIELDS
    if op == "is_set":
        return text.lower() not in {"no", "false", "0"}
    if op in {"in", "not_in"}:
        items = _items(text)
        return [_number(i) if numeric else i for i in items] if items else None
    if op == "between":
        items = _items(text)
        return [_number(i) for i in items] if items else None
    if not text:
        return None
    if op in _NUMERIC_OPS or (numeric and op in {"equals", "not_equals"}):
        return _number(text)
    return text


def condition_value(field_name: str, op: str, text: str) -> Any:
    """The typed value of a field condition from the text typed next to it (other builders
    of lead-field conditions, e.g. the SLA segment, read their inputs the same way)."""
    return _field_value(field_name, op, (text or "").strip())


def _optional(out: dict[str, Any], key: str, text: str) -> None:
    if text:
        out[key] = text


def _tree(data: Mapping[str, str]) -> dict[str, Any]:
    """Nest flat path -> text pairs into dicts; list indices become sorted dict keys."""
    root: dict[Any, Any] = {}
    for path, value in data.items():
        tokens = path_tokens(path)
        if not tokens or tokens[0] not in {"fit", "behaviour", "scoring", "name", "notes"}:
            continue
        node = root
        for token in tokens[:-1]:
            node = node.setdefault(token, {})
            if not isinstance(node, dict):
                break
        else:
            node[tokens[-1]] = value.strip() if isinstance(value, str) else value
    return root


def _indexed(node: Mapping[Any, Any]) -> list[Any]:
    return [node[key] for key in sorted(k for k in node if isinstance(k, int))]


def _leaf_from_form(section: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    if section == "fit":
        out: dict[str, Any] = {"field": raw.get("field", ""), "op": raw.get("op", "")}
        value = _field_value(out["field"], out["op"], raw.get("value", ""))
        if value is not None or out["op"] != "is_set":
            out["value"] = value
    else:
        out = {"kind": raw.get("kind", "")}
        prop = raw.get("property", "")
        if prop:
            out["property"] = prop
            out["match"] = raw.get("match", "equals")
            text = raw.get("value", "")
            out["value"] = _items(text) if out["match"] == "in" else text
        out["min_count"] = _number(raw.get("min_count", "") or "1")
        if raw.get("within_days", ""):
            out["within_days"] = _number(raw["within_days"])
        if raw.get("count", "activities") != "activities":
            out["count"] = raw["count"]
    _optional(out, "label", raw.get("label", ""))
    _optional(out, "id", raw.get("id", ""))
    return out


def _group_from_form(section: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    conditions = []
    for child in _indexed(raw.get("conditions", {})):
        if not isinstance(child, Mapping):
            continue
        if child.get("node") == "group":
            conditions.append(_group_from_form(section, child))
        else:
            conditions.append(_leaf_from_form(section, child))
    group: dict[str, Any] = {"match": raw.get("match", "all") or "all", "conditions": conditions}
    _optional(group, "label", raw.get("label", ""))
    return group


def _signal_from_form(raw: Mapping[str, Any]) -> dict[str, Any]:
    if raw.get("type") == "field":
        out: dict[str, Any] = {
            "type": "field",
            "field": raw.get("field", ""),
            "op": raw.get("op", ""),
        }
        value = _field_value(out["field"], out["op"], raw.get("value", ""))
        if value is not None or out["op"] != "is_set":
            out["value"] = value
        return out
    out = {"type": "activity", "kind": raw.get("kind", "")}
    prop = raw.get("property", "")
    if prop:
        out["property"] = prop
        out["match"] = raw.get("match", "equals")
        text = raw.get("value", "")
        out["value"] = _items(text) if out["match"] == "in" else text
    return out


def _rule_from_form(raw: Mapping[str, Any]) -> dict[str, Any]:
    signal = _signal_from_form(raw.get("signal", {}))
    rule: dict[str, Any] = {
        "id": raw.get("id", ""),
        "signal": signal,
        "points": _number(raw.get("points", "")) if raw.get("points", "") else None,
    }
    _optional(rule, "label", raw.get("label", ""))
    _optional(rule, "group", raw.get("group", ""))
    decay = raw.get("decay", {})
    decay_type = decay.get("type", "none") or "none"
    if signal["type"] == "activity" and decay_type != "none":
        rule["decay"] = {"type": decay_type, "days": _number(decay.get("days", "")) or None}
    if raw.get("max_count", ""):
        rule["max_count"] = _number(raw["max_count"])
    return rule


def form_to_rules(data: Mapping[str, str]) -> dict[str, Any]:
    """The definition JSON the builder form describes (to be validated by parse_definition)."""
    tree = _tree(data)
    rules: dict[str, Any] = {}
    for section in SECTIONS:
        rules[section] = _group_from_form(section, tree.get(section, {}))
    scoring_raw = tree.get("scoring", {})
    scoring: dict[str, Any] = {}
    threshold = scoring_raw.get("threshold", "")
    if threshold:
        scoring["threshold"] = _number(threshold)
    caps = {}
    for cap in _indexed(scoring_raw.get("caps", {})):
        if isinstance(cap, Mapping) and cap.get("group", ""):
            caps[cap["group"]] = _number(cap.get("points", "")) if cap.get("points", "") else None
    if caps:
        scoring["caps"] = caps
    scoring["rules"] = [
        _rule_from_form(rule)
        for rule in _indexed(scoring_raw.get("rules", {}))
        if isinstance(rule, Mapping)
    ]
    rules["scoring"] = scoring
    return rules


# --- edits -------------------------------------------------------------------------


def _unique_id(prefix: str, taken: set[str]) -> str:
    n = 1
    while f"{prefix}_{n}" in taken:
        n += 1
    return f"{prefix}_{n}"


def apply_edit(rules: Mapping[str, Any], edit: str) -> dict[str, Any]:
    """A copy of the rules with one builder edit applied: "add_condition:fit.conditions[1]",
    "add_group:behaviour", "remove:fit.conditions[0]", "add_rule", "remove_rule:2",
    "add_cap", "remove_cap:engagement". Unknown or stale edits change nothing."""
    rules = deepcopy(dict(rules))
    action, _, target = edit.partition(":")
    for section in SECTIONS:
        rules.setdefault(section, {"match": "all", "conditions": []})
    scoring = rules.setdefault("scoring", {})
    scoring.setdefault("rules", [])
    try:
        if action in {"add_condition", "add_group"}:
            tokens = path_tokens(target)
            group = _lookup(rules, tokens)
            section = tokens[0]
            blank = BLANK_FIELD_CONDITION if section == "fit" else BLANK_BEHAVIOUR_CONDITION
            node = deepcopy(blank)
            if action == "add_group":
                node = {"match": "any", "conditions": [node]}
            group.setdefault("conditions", []).append(node)
        elif action == "remove":
            tokens = path_tokens(target)
            if len(tokens) >= 3 and isinstance(tokens[-1], int):
                del _lookup(rules, tokens[:-1])[tokens[-1]]
        elif action == "add_rule":
            taken = {str(r.get("id")) for r in scoring["rules"] if isinstance(r, Mapping)}
            scoring["rules"].append(
                {
                    "id": _unique_id("rule", taken),
                    "signal": {
                        "type": "activity",
                        "kind": "page_view",
                        "property": "url",
                        "match": "contains",
                        "value": "",
                    },
                    "points": 10,
                    "decay": {"type": "half_life", "days": 14},
                }
            )
        elif action == "remove_rule":
            del scoring["rules"][int(target)]
        elif action == "add_cap":
            caps = scoring.setdefault("caps", {})
            groups = [r.get("group") for r in scoring["rules"] if isinstance(r, Mapping)]
            free = [g for g in groups if g and g not in caps]
            caps[free[0] if free else _unique_id("group", set(caps))] = 50
        elif action == "remove_cap":
            scoring.get("caps", {}).pop(target, None)
    except (KeyError, IndexError, TypeError, ValueError):
        pass  # a stale edit (the page was behind the server): show the rules as they are
    return rules


# --- view tree ---------------------------------------------------------------------


@dataclass
class NodeView:
    """One node of the builder form: a group or a condition, with its inputs' errors."""

    path: str
    node: str  # group | field | behaviour
    data: dict[str, Any]
    # attribute -> messages; "self" = the node itself, "decay_days" = decay.days
    errors: dict[str, list[str]] = field(default_factory=dict)
    children: list[NodeView] = field(default_factory=list)
    depth: int = 0

    def value_text(self) -> str:
        return value_text(self.data.get("value"))

    def signal_value_text(self) -> str:
        signal = self.data.get("signal")
        return value_text(signal.get("value")) if isinstance(signal, Mapping) else ""

    @property
    def dom_id(self) -> str:
        return "rb-" + re.sub(r"[^a-z0-9]+", "-", self.path.lower()).strip("-")


@dataclass
class BuilderView:
    fit: NodeView
    behaviour: NodeView
    threshold: Any
    caps: list[dict[str, Any]]
    rules: list[NodeView]
    errors: dict[str, list[str]]  # path -> messages not shown next to an input
    scoring_errors: dict[str, list[str]]


def value_text(value: Any) -> str:
    """A stored value as the text the user edits (lists comma-separated)."""
    if value is None:
        return ""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list | tuple):
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _ErrorSink:
    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.left: dict[str, list[str]] = {}
        for path, message in errors:
            self.left.setdefault(path, []).append(message)

    def take(self, path: str) -> dict[str, list[str]]:
        """Errors at `path` itself ("") and at its direct attributes (a.b, a.b.c for signals)."""
        found: dict[str, list[str]] = {}
        for key in list(self.left):
            if key == path:
                found["self"] = self.left.pop(key)
            elif key.startswith(path + ".") and "conditions[" not in key[len(path) + 1 :]:
                # "decay.days" -> "decay_days": templates cannot look up dotted keys.
                found[key[len(path) + 1 :].replace(".", "_")] = self.left.pop(key)
        return found


def _group_view(section: str, data: Any, path: str, sink: _ErrorSink, depth: int) -> NodeView:
    data = data if isinstance(data, Mapping) else {}
    view = NodeView(path=path, node="group", data=dict(data), depth=depth)
    conditions = data.get("conditions", [])
    for i, child in enumerate(conditions if isinstance(conditions, list) else []):
        child_path = f"{path}.conditions[{i}]"
        if isinstance(child, Mapping) and "conditions" in child:
            view.children.append(_group_view(section, child, child_path, sink, depth + 1))
        else:
            leaf = dict(child) if isinstance(child, Mapping) else {}
            view.children.append(
                NodeView(
                    path=child_path,
                    node="field" if section == "fit" else "behaviour",
                    data=leaf,
                    depth=depth + 1,
                )
            )
    # Children first, so a group only keeps the errors that are really its own.
    for child in view.children:
        _take_errors(child, sink)
    view.errors = sink.take(path)
    return view


def _take_errors(view: NodeView, sink: _ErrorSink) -> None:
    if view.node != "group":
        view.errors = sink.take(view.path)


def builder_view(rules: Mapping[str, Any], errors: list[tuple[str, str]] = ()) -> BuilderView:
    """The tree the builder template renders, with each error attached where it belongs."""
    sink = _ErrorSink(list(errors))
    fit = _group_view("fit", rules.get("fit"), "fit", sink, 0)
    behaviour = _group_view("behaviour", rules.get("behaviour"), "behaviour", sink, 0)
    scoring = rules.get("scoring") if isinstance(rules.get("scoring"), Mapping) else {}
    rule_views = []
    for i, rule in enumerate(scoring.get("rules") or []):
        path = f"scoring.rules[{i}]"
        view = NodeView(
            path=path, node="rule", data=dict(rule) if isinstance(rule, Mapping) else {}
        )
        view.errors = sink.take(path)
        rule_views.append(view)
    caps = []
    raw_caps = scoring.get("caps") if isinstance(scoring.get("caps"), Mapping) else {}
    for group, points in raw_caps.items():
        caps.append(
            {
                "group": group,
                "points": value_text(points),
                "errors": sink.left.pop(f"scoring.caps.{group}", []),
            }
        )
    scoring_errors = sink.take("scoring")
    return BuilderView(
        fit=fit,
        behaviour=behaviour,
        threshold=value_text(scoring.get("threshold")),
        caps=caps,
        rules=rule_views,
        errors=sink.left,
        scoring_errors=scoring_errors,
    )
