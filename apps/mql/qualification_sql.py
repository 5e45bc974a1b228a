"""The SQL copy of qualification.requirements: which leads a definition cannot qualify.

Used by apps/mql/services.py to leave, in the query that locks a batch's leads, the
ones no rule replay could qualify. It only ever errs on the side of keeping a lead:
every fragment is TRUE for a lead the pure engine (apps/mql/rules.py) could qualify,
and a condition whose exact SQL form is uncertain compiles to TRUE, so the Python walk
still decides. tests/mql/test_qualification_sql.py holds that promise on generated
leads and definitions.

Decisions:
- Text compares trimmed and case-insensitively in Python (`str.strip().casefold()`).
  PostgreSQL's lower() agrees with casefold() on ASCII only, so a value with any
  non-ASCII character is kept whatever the condition says.
- Missing data (NULL, blank text) never meets a condition, except `is_set: false`.
- Numbers compare numerically on the numeric columns (company_size, annual_revenue);
  a number compared with a text column, `properties.*` fields and list-valued
  properties are left to Python.
- Behaviour: a lead needs one stored activity matching a leaf of each behaviour
  requirement (kind, and its property when that compiles), at any time: windows
  depend on the moment walked, which SQL does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.leads.field_conditions import LEAD_TEXT_COLUMNS, as_decimal, is_number
from apps.leads.models import Activity
from apps.mql.qualification import ActivityNeed, NeedGroup, Requirements
from apps.mql.rules import NUMERIC_FIELDS, ConditionGroup, FieldCondition
from apps.mql.scoring import ActivityMatch

ACTIVITY = Activity._meta.db_table
# Whitespace str.strip() removes that is ASCII (the rest is non-ASCII: kept by the guard).
_ASCII_SPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_ORDER = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_TRUE = "TRUE"


_NAMED = re.compile(r"%\((p\d+)\)s")


@dataclass
class _Params:
    """Named parameters: a fragment may repeat a placeholder (bound once per occurrence)."""

    values: dict[str, Any]

    def __call__(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"%({name})s"

    def bind(self, sql: str) -> tuple[str, list[Any]]:
        """The SQL with positional placeholders and its parameters in their order."""
        ordered: list[Any] = []

        def positional(match: re.Match) -> str:
            ordered.append(self.values[match.group(1)])
            return "%s"

        return _NAMED.sub(positional, sql), ordered


def _folded(value: str) -> str:
    return value.strip().casefold()


def _non_ascii(expression: str) -> str:
    # \x01-\x7e: the regex engine reads the escapes (standard_conforming_strings is on).
    return f"({expression} ~ '[^\\x01-\\x7e]')"


def _text_test(expression: str, op: str, value: Any, p: _Params) -> str | None:
    """A condition on a text value (`expression` may be NULL); None when it has no safe form."""
    normal = f"lower(btrim({expression}, {p(_ASCII_SPACE)}))"
    present = f"({normal} <> '')"
    if op == "is_set":
        # A value made of non-ASCII blanks is missing for Python: keep it either way.
        test = present if value else f"({expression} IS NULL OR NOT {present})"
        return f"({test} OR coalesce({_non_ascii(expression)}, FALSE))"
    if op in {"equals", "not_equals"} and isinstance(value, str):
        test = f"{normal} {'=' if op == 'equals' else '<>'} {p(_folded(value))}"
    elif op in {"in", "not_in"} and all(isinstance(v, str) for v in value):
        test = f"{normal} = ANY({p([_folded(v) for v in value])})"
        if op == "not_in":
            test = f"NOT ({test})"
    elif op == "contains" and isinstance(value, str):
        test = f"strpos({normal}, {p(_folded(value))}) > 0"
    else:
        return None
    return f"({_non_ascii(expression)} OR ({present} AND {test}))"


def _number_test(column: str, op: str, value: Any, p: _Params) -> str | None:
    if op == "is_set":
        return f"({column} IS {'NOT ' if value else ''}NULL)"
    if op in _ORDER and is_number(value):
        return f"({column} {_ORDER[op]} {p(as_decimal(value))})"
    if op == "between" and all(is_number(v) for v in value):
        low, high = (as_decimal(v) for v in value)
        return f"({column} BETWEEN {p(low)} AND {p(high)})"
    if op in {"equals", "not_equals", "in", "not_in"}:
        wanted = [value] if op in {"equals", "not_equals"} else list(value)
        if any(isinstance(v, bool) for v in wanted):
            return None
        numbers: list[Decimal] = [d for d in map(as_decimal, wanted) if d is not None]
        test = f"{column} = ANY({p(numbers)}::numeric[])"
        if op in {"not_equals", "not_in"}:
            test = f"NOT ({test})"
        return f"({column} IS NOT NULL AND {test})"
    return None


def _field_sql(condition: FieldCondition, p: _Params) -> str | None:
    name, op, value = condition.field, condition.op, condition.value
    if name in LEAD_TEXT_COLUMNS:
        return _text_test(f"l.{name}", op, value, p)
    if name == "email_domain":
        domain = "(CASE WHEN strpos(l.email, '@') > 0 THEN substring(l.email from '@([^@]*)$') END)"
        return _text_test(domain, op, value, p)
    if name in NUMERIC_FIELDS:
        return _number_test(f"l.{name}", op, value, p)
    return None  # properties.*: JSON values of any type, left to Python


def _fit_sql(group: ConditionGroup, p: _Params) -> str:
    parts: list[str] = []
    for item in group.conditions:
        if isinstance(item, ConditionGroup):
            part = _fit_sql(item, p)
        elif isinstance(item, FieldCondition):
            part = _field_sql(item, p) or _TRUE
        else:
            part = _TRUE
        parts.append(part)
    if not parts:
        return _TRUE  # an empty group is met
    if group.match == "all":
        kept = [part for part in parts if part != _TRUE]
        return "(" + " AND ".join(kept) + ")" if kept else _TRUE
    if _TRUE in parts:
        return _TRUE
    return "(" + " OR ".join(parts) + ")"


def _property_sql(match: ActivityMatch, p: _Params) -> str:
    """The activity's property test, or TRUE when only Python can say."""
    if match.property is None:
        return _TRUE
    key = p(match.property)
    value = f"(a.properties ->> {key})"
    if match.match in {"equals", "contains", "startswith"} and isinstance(match.value, str):
        wanted = _folded(match.value)
    elif match.match == "in" and all(isinstance(v, str) for v in match.value):
        wanted = [_folded(v) for v in match.value]
    else:
        return f"(a.properties ? {key})"
    normal = f"lower(btrim({value}, {p(_ASCII_SPACE)}))"
    if match.match == "equals":
        test = f"{normal} = {p(wanted)}"
    elif match.match == "in":
        test = f"{normal} = ANY({p(wanted)})"
    elif match.match == "contains":
        test = f"strpos({normal}, {p(wanted)}) > 0"
    else:
        test = f"starts_with({normal}, {p(wanted)})"
    # A list (any item may match), a number ("7" equals 7) or non-ASCII text: Python decides.
    return (
        f"(a.properties ? {key} AND ("
        f"jsonb_typeof(a.properties -> {key}) <> 'string'"
        f" OR {_non_ascii(value)} OR {test}))"
    )


def _need_sql(need: ActivityNeed | NeedGroup, p: _Params) -> str:
    if isinstance(need, ActivityNeed):
        tests = []
        for match in need.matches:
            kind = p(match.kind)
            prop = _property_sql(match, p)
            tests.append(f"(a.kind = {kind}" + (f" AND {prop})" if prop != _TRUE else ")"))
        # One index probe of the lead's activities for all the alternatives. A scalar
        # subquery rather than EXISTS: the planner may turn an EXISTS into a hash of every
        # matching activity of the table, a cost that grows with the table, not the batch.
        return (
            f"coalesce((SELECT TRUE FROM {ACTIVITY} a WHERE a.lead_id = l.id"  # noqa: S608 - table name from the model; values are parameters
            f" AND ({' OR '.join(tests)}) LIMIT 1), FALSE)"
        )
    parts = [_need_sql(child, p) for child in need.needs]
    if not parts:
        return _TRUE
    return "(" + f" {'AND' if need.match == 'all' else 'OR'} ".join(parts) + ")"


def requirements_sql(requirements: Requirements) -> tuple[str, list[Any]]:
    """A boolean SQL expression over the lead row `l`: FALSE only for a lead that cannot
    meet the definition (its fit fails, or it lacks every activity a behaviour needs)."""
    p = _Params({})
    parts = [_fit_sql(requirements.fit, p)]
    if requirements.activities is not None:
        parts.append(_need_sql(requirements.activities, p))
    kept = [part for part in parts if part != _TRUE]
    return p.bind("(" + " AND ".join(kept) + ")" if kept else _TRUE)
