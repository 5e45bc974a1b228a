"""Conditions on a lead's fields: one meaning for MQL fit and field signals, routing, SLA segments.

Pure module: no ORM, no Django, no settings. Strings compare trimmed and case-insensitively
(casefold), numbers numerically; missing data (None, blank text, an empty list) never meets
a condition, except `is_set: false`. apps/mql/scoring.py builds its activity matching on
the same helpers; apps/leads/routing.py matches routing rules with FieldCondition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property
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
# Lead columns compared as text in the SQL copies of the conditions (mql, compliance).
LEAD_TEXT_COLUMNS = frozenset(
    {
        "external_id",
        "email",
        "first_name",
        "last_name",
        "title",
        "seniority",
        "company",
        "company_domain",
        "industry",
        "country",
        "region",
        "source",
        "campaign",
        "stage",
    }
)

SEQUENCE_TYPES = (list, tuple, set, frozenset)


def is_missing(value: Any) -> bool:
    """True for None, blank strings and empty lists: the lead lacks that data."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, SEQUENCE_TYPES):
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


def folded_text(value: Any) -> str:
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

    @cached_property
    def _folded_strings(self) -> frozenset[str] | None:
        """The folded texts of an in/not_in list made of text only (else None): a lead's
        text value is then looked up once instead of compared with each."""
        expected = self.value
        if not isinstance(expected, SEQUENCE_TYPES) or not all(
            isinstance(e, str) for e in expected
        ):
            return None
        return frozenset(e.strip().casefold() for e in expected)

    def holds(self, fields: Mapping[str, Any]) -> bool:
        """Whether the lead's fields meet the condition; missing data never does (but is_set false)."""
        actual = field_value(fields, self.field)
        if self.op == "is_set":
            return (not is_missing(actual)) is bool(self.value)
        if is_missing(actual):
            return False
        values = tuple(actual) if isinstance(actual, SEQUENCE_TYPES) else (actual,)
        op, expected = self.op, self.value
        if op in {"equals", "contains"} and isinstance(actual, SEQUENCE_TYPES):
            # A list field (technologies, tags) "equals"/"contains" x when x is one of its items.
            return any(same_value(v, expected) for v in values)
        if op == "equals":
            return same_value(actual, expected)
        if op == "not_equals":
            return not any(same_value(v, expected) for v in values)
        if op in {"in", "not_in"}:
            folded = self._folded_strings
            if folded is not None and isinstance(actual, str):
                # Every expected value is text: same_value is equality of the folded texts.
                found = actual.strip().casefold() in folded
            else:
                found = any(same_value(v, e) for v in values for e in expected)
            return found if op == "in" else not found
        if op == "contains":
            return folded_text(expected) in folded_text(actual)
        if op in {"gt", "gte", "lt", "lte", "between"}:
            return not isinstance(actual, SEQUENCE_TYPES) and _ordered(actual, op, expected)
        raise ValueError(f"unknown field op {op!r}")
