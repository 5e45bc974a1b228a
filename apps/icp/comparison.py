"""Side-by-side comparison of two ICP revisions, attribute by attribute.

Pure module: takes each revision's content as plain dicts (criteria, triggers,
pains, watering_holes, personas) and says, per row, what each side holds and
which list entries were added or removed going from left to right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apps.leads.seniority import SENIORITY_LABELS

ROWS: tuple[tuple[str, str], ...] = (
    ("employees", "Employees"),
    ("revenue", "Annual revenue"),
    ("industries", "Industries"),
    ("regions", "Regions"),
    ("technologies", "Technologies"),
    ("seniorities", "Seniority"),
    ("triggers", "Buying triggers"),
    ("pains", "Pain points"),
    ("watering_holes", "Watering holes"),
    ("personas", "Personas"),
)


@dataclass(frozen=True)
class ComparisonRow:
    key: str
    label: str
    left: tuple[str, ...]
    right: tuple[str, ...]
    added: frozenset[str]  # in right, not in left
    removed: frozenset[str]  # in left, not in right

    @property
    def changed(self) -> bool:
        return self.left != self.right


def _bound(value: Any) -> str:
    return f"{float(value):,.0f}" if value not in (None, "") else "…"


def _range(low: Any, high: Any) -> tuple[str, ...]:
    if low in (None, "") and high in (None, ""):
        return ()
    return (f"{_bound(low)} – {_bound(high)}",)


def _persona(card: Mapping[str, Any]) -> str:
    parts = [str(card.get("role") or "").strip()]
    for key, title in (("goals", "goals"), ("pains", "pains"), ("objections", "objections")):
        text = str(card.get(key) or "").strip()
        if text:
            parts.append(f"{title}: {text}")
    return " · ".join(p for p in parts if p)


def revision_entries(content: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Each comparison row's entries for one revision, as display texts."""
    criteria = content.get("criteria") or {}
    return {
        "employees": _range(criteria.get("employee_min"), criteria.get("employee_max")),
        "revenue": _range(criteria.get("revenue_min"), criteria.get("revenue_max")),
        "industries": tuple(criteria.get("industries") or ()),
        "regions": tuple(criteria.get("regions") or ()),
        "technologies": tuple(criteria.get("technologies") or ()),
        "seniorities": tuple(SENIORITY_LABELS.get(s, s) for s in criteria.get("seniorities") or ()),
        "triggers": tuple(content.get("triggers") or ()),
        "pains": tuple(content.get("pains") or ()),
        "watering_holes": tuple(content.get("watering_holes") or ()),
        "personas": tuple(_persona(card) for card in content.get("personas") or ()),
    }


def compare_revisions(left: Mapping[str, Any], right: Mapping[str, Any]) -> Sequence[ComparisonRow]:
    """One row per ICP attribute, left revision against right."""
    a, b = revision_entries(left), revision_entries(right)
    return [
        ComparisonRow(
            key=key,
            label=label,
            left=a[key],
            right=b[key],
            added=frozenset(b[key]) - frozenset(a[key]),
            removed=frozenset(a[key]) - frozenset(b[key]),
        )
        for key, label in ROWS
    ]
