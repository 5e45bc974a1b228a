"""What a dashboard looks at: the period picked, the moment of measurement and the filters.

Pure module: no ORM, no request. Views turn the query string into a ``Scope`` with
``scope_from_params``; selectors read it. Every period is a compliance ``Period`` in
the organization's timezone, so tiles, charts and drill-downs use the same bounds
as the compliance engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from apps.compliance.periods import Period, PeriodKind, period_for, previous

__all__ = [
    "PERIOD_CHOICES",
    "TEAM_CHOICES",
    "Scope",
    "ScopeError",
    "period_from_token",
    "period_token",
    "resolve_period",
    "scope_from_params",
]

PERIOD_CHOICES = (
    ("this_week", "This week"),
    ("last_week", "Last week"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("this_quarter", "This quarter"),
    ("last_quarter", "Last quarter"),
    ("custom", "Custom…"),
)
TEAM_CHOICES = (("marketing", "Marketing"), ("sales", "Sales"), ("shared", "Shared"))
_RELATIVE = {
    "this_week": (PeriodKind.WEEK, 0),
    "last_week": (PeriodKind.WEEK, 1),
    "this_month": (PeriodKind.MONTH, 0),
    "last_month": (PeriodKind.MONTH, 1),
    "this_quarter": (PeriodKind.QUARTER, 0),
    "last_quarter": (PeriodKind.QUARTER, 1),
}


class ScopeError(ValueError):
    """A filter value that cannot be used; ``field`` names the query parameter at fault."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Scope:
    """The period under review and the filters applied to every number.

    ``as_of`` follows the compliance engine: now for an open period, the period's end
    for a closed one — a closed period is shown as it stood when it closed, the same
    numbers as its frozen snapshot, the drill-down and the emailed report.
    """

    period: Period
    as_of: datetime
    tz: str
    choice: str = "this_week"
    team: str | None = None
    source: str | None = None
    # Set for reps: every number is restricted to the leads they own.
    owner_id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.period.contains(self.as_of)

    def params(self) -> dict[str, str]:
        """Query parameters that rebuild this scope (for links, polling and exports)."""
        params = {"period": self.choice}
        if self.choice == "custom":
            params["kind"] = str(self.period.kind)
            params["date"] = self.period.first_day.isoformat()
        if self.team:
            params["team"] = self.team
        if self.source:
            params["source"] = self.source
        return params


def resolve_period(
    choice: str,
    *,
    now: datetime,
    tz: str,
    kind: str | None = None,
    day: date | None = None,
) -> Period:
    """The period a picker choice names at ``now``; "custom" is the ``kind`` containing ``day``."""
    if choice == "custom":
        if kind not in PeriodKind.__members__.values():
            raise ScopeError("Choose week, month or quarter for a custom period.", field="kind")
        if day is None:
            raise ScopeError("Choose a date inside the custom period.", field="date")
        return period_for(PeriodKind(kind), day, tz)
    if choice not in _RELATIVE:
        raise ScopeError(f"Unknown period “{choice}”.", field="period")
    period_kind, back = _RELATIVE[choice]
    period = period_for(period_kind, now, tz)
    for _ in range(back):
        period = previous(period)
    return period


def period_token(period: Period) -> str:
    """A compact, URL-safe name of a period: "week:2026-11-16"."""
    return f"{period.kind}:{period.first_day.isoformat()}"


def period_from_token(token: str, *, tz: str) -> Period:
    """The period a ``period_token`` names, in ``tz``."""
    kind, _, start = (token or "").partition(":")
    try:
        day = date.fromisoformat(start)
        return period_for(PeriodKind(kind), day, tz)
    except ValueError as error:
        raise ScopeError(
            f"“{token}” is not a period like week:2026-11-16.", field="period"
        ) from error


def scope_from_params(
    params: Mapping[str, str],
    *,
    now: datetime,
    tz: str,
    owner_id: int | None = None,
    default_choice: str = "this_week",
) -> Scope:
    """Parse the picker and filters from a query string; ScopeError names the bad parameter."""
    choice = params.get("period") or default_choice
    day = None
    if choice == "custom":
        raw = params.get("date") or ""
        try:
            day = date.fromisoformat(raw) if raw else None
        except ValueError as error:
            raise ScopeError(f"“{raw}” is not a date (YYYY-MM-DD).", field="date") from error
    period = resolve_period(choice, now=now, tz=tz, kind=params.get("kind"), day=day)
    team = params.get("team") or None
    if team is not None and team not in dict(TEAM_CHOICES):
        raise ScopeError(f"Unknown team “{team}”.", field="team")
    source = (params.get("source") or "").strip() or None
    return Scope(
        period=period,
        as_of=min(now, period.end),
        tz=tz,
        choice=choice,
        team=team,
        source=source,
        owner_id=owner_id,
    )
