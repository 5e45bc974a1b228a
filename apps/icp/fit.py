"""ICP fit: how well a lead's firmographics match the Ideal Customer Profile.

Pure module: no ORM, no Django. Only the attributes the ICP specifies count, all
with equal weight. Missing lead data counts as not matched (a lead we know
nothing about is not a proven fit) but is flagged `matched=None` so the lead
page can say "unknown" rather than "no".

An ICP with no criteria says nothing about fit: it yields score 0, grade "D" and
no matches, and the UI should say that the ICP has no criteria yet. Grading
everybody "A" against an empty profile would tell sales every lead is ideal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.leads.seniority import SENIORITY_LABELS, derive_seniority

GRADE_BANDS: tuple[tuple[int, str], ...] = ((80, "A"), (60, "B"), (40, "C"), (0, "D"))


def is_missing(value: Any) -> bool:
    """True for None, blank strings and empty lists: the lead lacks that data."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | set | frozenset):
        return len(value) == 0
    return False


def as_decimal(value: Any) -> Decimal | None:
    """Numeric value of a number or numeric string (CSV imports); None when it has none."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


@dataclass(frozen=True)
class IcpCriteria:
    """The firmographic part of an ICP revision; empty values mean "not specified"."""

    employee_min: int | None = None
    employee_max: int | None = None
    revenue_min: Decimal | float | None = None
    revenue_max: Decimal | float | None = None
    industries: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()  # country codes or region names
    technologies: frozenset[str] = frozenset()
    seniorities: frozenset[str] = frozenset()

    def is_empty(self) -> bool:
        """True when no attribute is specified, so no lead can be graded against it."""
        return self == IcpCriteria()


@dataclass(frozen=True)
class AttributeMatch:
    """One specified ICP attribute against the lead; matched None = the lead lacks the data."""

    attribute: str
    expected: str
    actual: str  # "" when the lead lacks the data
    matched: bool | None


@dataclass(frozen=True)
class FitResult:
    """Fit score 0-100 (share of specified attributes matched), its A-D grade, and the details."""

    score: int
    grade: str
    matches: tuple[AttributeMatch, ...]


def _bound(d: Mapping[str, Any], key: str, *, whole: bool) -> Any:
    value = d.get(key)
    if value is None or value == "":
        return None
    number = as_decimal(value)
    if number is None or number < 0:
        raise ValueError(f"{key} must be a non-negative number, got {value!r}")
    if whole:
        if number != number.to_integral_value():
            raise ValueError(f"{key} must be a whole number, got {value!r}")
        return int(number)
    return number


def _names(d: Mapping[str, Any], key: str) -> frozenset[str]:
    value = d.get(key)
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, Iterable):
        raise ValueError(f"{key} must be a list of names, got {value!r}")
    return frozenset(str(item).strip() for item in value if str(item).strip())


def criteria_from_dict(d: Mapping[str, Any]) -> IcpCriteria:
    """Criteria from stored ICP JSON; keys other than the criteria (personas, pains...) are ignored."""
    criteria = IcpCriteria(
        employee_min=_bound(d, "employee_min", whole=True),
        employee_max=_bound(d, "employee_max", whole=True),
        revenue_min=_bound(d, "revenue_min", whole=False),
        revenue_max=_bound(d, "revenue_max", whole=False),
        industries=_names(d, "industries"),
        regions=_names(d, "regions"),
        technologies=_names(d, "technologies"),
        seniorities=_names(d, "seniorities"),
    )
    for low, high in (("employee_min", "employee_max"), ("revenue_min", "revenue_max")):
        lo, hi = getattr(criteria, low), getattr(criteria, high)
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"{low} must not be greater than {high}")
    return criteria


def _fmt(value: Any) -> str:
    number = as_decimal(value)
    if number is None:
        return str(value)
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,}"


def _range_text(low: Any, high: Any, unit: str) -> str:
    if low is not None and high is not None:
        return f"{_fmt(low)}-{_fmt(high)} {unit}"
    if low is not None:
        return f"at least {_fmt(low)} {unit}"
    return f"at most {_fmt(high)} {unit}"


def _range_match(attribute: str, low: Any, high: Any, unit: str, actual: Any) -> AttributeMatch:
    expected = _range_text(low, high, unit)
    number = as_decimal(actual)
    if number is None:
        return AttributeMatch(attribute, expected, "", None)
    matched = (low is None or number >= as_decimal(low)) and (
        high is None or number <= as_decimal(high)
    )
    return AttributeMatch(attribute, expected, _fmt(number), matched)


def _listing(names: Iterable[str]) -> str:
    return ", ".join(sorted(names, key=str.casefold))


def _folded(names: Iterable[str]) -> set[str]:
    return {name.strip().casefold() for name in names}


def _set_match(attribute: str, expected: frozenset[str], actual: Iterable[str]) -> AttributeMatch:
    values = [str(v).strip() for v in actual if not is_missing(v)]
    if not values:
        return AttributeMatch(attribute, _listing(expected), "", None)
    matched = bool(_folded(values) & _folded(expected))
    return AttributeMatch(attribute, _listing(expected), ", ".join(values), matched)


def _technologies(fields: Mapping[str, Any]) -> list[str]:
    properties = fields.get("properties")
    value = properties.get("technologies") if isinstance(properties, Mapping) else None
    if is_missing(value):
        value = fields.get("technologies")
    if is_missing(value):
        return []
    if isinstance(value, str):
        return [part for part in value.split(",") if part.strip()]
    return [str(item) for item in value]


def _seniority(fields: Mapping[str, Any]) -> str | None:
    value = fields.get("seniority")
    if is_missing(value) or str(value).lower() == "unknown":
        # Imports often carry a title but no seniority; derive it the way leads do.
        value = derive_seniority(fields.get("title"))
    return None if value == "unknown" else str(value)


def grade_for(score: int) -> str:
    """A >= 80, B >= 60, C >= 40, else D."""
    return next(grade for floor, grade in GRADE_BANDS if score >= floor)


def evaluate_fit(criteria: IcpCriteria, *, fields: Mapping[str, Any]) -> FitResult:
    """Grade a lead's fields against the ICP; see the module docstring for missing data and empty ICPs."""
    matches: list[AttributeMatch] = []
    if criteria.employee_min is not None or criteria.employee_max is not None:
        matches.append(
            _range_match(
                "company_size",
                criteria.employee_min,
                criteria.employee_max,
                "employees",
                fields.get("company_size"),
            )
        )
    if criteria.revenue_min is not None or criteria.revenue_max is not None:
        matches.append(
            _range_match(
                "annual_revenue",
                criteria.revenue_min,
                criteria.revenue_max,
                "in annual revenue",
                fields.get("annual_revenue"),
            )
        )
    if criteria.industries:
        matches.append(_set_match("industry", criteria.industries, [fields.get("industry")]))
    if criteria.regions:
        # A region entry may be a country code ("GB") or a region name ("EMEA").
        matches.append(
            _set_match("region", criteria.regions, [fields.get("country"), fields.get("region")])
        )
    if criteria.technologies:
        matches.append(_set_match("technologies", criteria.technologies, _technologies(fields)))
    if criteria.seniorities:
        seniority = _seniority(fields)
        match = _set_match("seniority", criteria.seniorities, [seniority] if seniority else [])
        matches.append(
            AttributeMatch(
                match.attribute,
                _listing(SENIORITY_LABELS.get(s, s) for s in criteria.seniorities),
                SENIORITY_LABELS.get(seniority, seniority) if seniority else "",
                match.matched,
            )
        )
    if not matches:
        return FitResult(score=0, grade="D", matches=())
    matched = sum(1 for m in matches if m.matched)
    # Half-up rounding: round() would send 12.5 to 12.
    fit_score = (200 * matched + len(matches)) // (2 * len(matches))
    return FitResult(score=fit_score, grade=grade_for(fit_score), matches=tuple(matches))
