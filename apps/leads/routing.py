"""Routing rule conditions: which lead fields a rule may test, how, and whether a lead matches.

Pure module: no ORM. Matching uses the `FieldCondition` the MQL engine uses too
(apps/leads/field_conditions.py), so "company size ≥ 500" means exactly the same thing in
routing and in the MQL fit conditions: strings compare case-insensitively, numbers numerically, missing data
never matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apps.leads.field_conditions import FieldCondition, as_decimal

ROUTING_FIELDS: dict[str, str] = {
    "country": "Country (ISO code)",
    "region": "Region",
    "industry": "Industry",
    "company_size": "Company size (employees)",
    "annual_revenue": "Annual revenue",
    "source": "Source",
    "campaign": "Campaign",
    "seniority": "Seniority",
}
NUMERIC_FIELDS = frozenset({"company_size", "annual_revenue"})
ROUTING_OPS: dict[str, str] = {
    "equals": "is",
    "not_equals": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "gte": "≥",
    "lte": "≤",
    "contains": "contains",
    "is_set": "is known",
}
LIST_OPS = frozenset({"in", "not_in"})
ORDER_OPS = frozenset({"gte", "lte"})


def condition_clean(raw: Any) -> tuple[dict[str, Any] | None, str | None]:
    """A normalised {field, op, value} condition, or a message saying what is wrong with it."""
    if not isinstance(raw, Mapping):
        return None, "Each condition is an object {field, op, value}."
    field_name, op, value = raw.get("field"), raw.get("op"), raw.get("value")
    if field_name not in ROUTING_FIELDS:
        return None, f"Unknown field “{field_name}”; one of {', '.join(ROUTING_FIELDS)}."
    if op not in ROUTING_OPS:
        return None, f"Unknown operator “{op}”; one of {', '.join(ROUTING_OPS)}."
    if op == "is_set":
        return {
            "field": field_name,
            "op": op,
            "value": value in (True, "true", "1", 1, "yes"),
        }, None
    if op in ORDER_OPS:
        if field_name not in NUMERIC_FIELDS:
            return None, f"“{ROUTING_OPS[op]}” compares numbers; use it on company size or revenue."
        number = as_decimal(value)
        if number is None:
            return None, f"{ROUTING_FIELDS[field_name]}: “{value}” is not a number."
        return {
            "field": field_name,
            "op": op,
            "value": int(number) if number == int(number) else float(number),
        }, None
    if op in LIST_OPS:
        values = value if isinstance(value, list) else str(value or "").split(",")
        values = [str(v).strip() for v in values if str(v).strip()]
        if not values:
            return None, f"{ROUTING_FIELDS[field_name]}: list at least one value (comma-separated)."
        if field_name == "country":
            values = [v.upper() for v in values]
        return {"field": field_name, "op": op, "value": values}, None
    text = str(value if value is not None else "").strip()
    if not text:
        return None, f"{ROUTING_FIELDS[field_name]}: enter a value."
    if field_name == "country":
        text = text.upper()
    return {"field": field_name, "op": op, "value": text}, None


def conditions_clean(raw: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """All conditions of a rule, normalised, and the messages for the bad ones."""
    if raw in (None, ""):
        return [], []
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return [], ["Conditions are a list of {field, op, value}."]
    cleaned, problems = [], []
    for number, item in enumerate(raw, start=1):
        condition, problem = condition_clean(item)
        if problem:
            problems.append(f"Condition {number}: {problem}")
        else:
            cleaned.append(condition)
    return cleaned, problems


def rule_matches(conditions: Sequence[Mapping[str, Any]], fields: Mapping[str, Any]) -> bool:
    """Whether a lead's fields meet every condition (a rule with none matches every lead)."""
    return all(
        FieldCondition(field=c["field"], op=c["op"], value=c.get("value")).holds(fields)
        for c in conditions
    )


def describe_condition(condition: Mapping[str, Any]) -> str:
    """“Company size (employees) ≥ 500” for the rules list."""
    label = ROUTING_FIELDS.get(condition.get("field", ""), condition.get("field", "?"))
    op = ROUTING_OPS.get(condition.get("op", ""), condition.get("op", "?"))
    value = condition.get("value")
    if condition.get("op") == "is_set":
        return f"{label} {'is known' if value else 'is unknown'}"
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    return f"{label} {op} {value}"
