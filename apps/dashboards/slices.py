"""Drill-down addresses: which leads stand behind a number, written as a query string.

Every tile and every chart element links to the drill-down page with one of two
slices: a ``CommitmentSlice`` (the leads a commitment counted as met / missed /
pending in a period — read from the compliance engine, so the list always matches
the tile), or a ``LeadSlice`` (the leads a chart counted: a period on one date
basis plus filters). Selectors apply them; this module only names and parses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from django.urls import reverse

from apps.compliance.metrics import RESPONSE_BUCKETS
from apps.compliance.periods import Period
from apps.dashboards.scope import ScopeError, period_from_token, period_token

__all__ = [
    "BASES",
    "BLANK",
    "OUTCOMES",
    "REACHED",
    "CommitmentSlice",
    "LeadSlice",
    "drilldown_url",
    "slice_from_params",
]

# The date a lead's membership of the period is judged by.
BASES = {
    "mql": "MQL date (cohort)",
    "created": "Created",
    "closed": "Closed (won or lost)",
    "pipeline": "Open pipeline expected to close",
    "rejected": "Rejected",
}
REACHED = ("mql", "sql", "opportunity", "won", "lost")
OUTCOMES = ("met", "missed", "pending", "all")
# Query-string stand-in for an empty source or campaign (a lead with none).
BLANK = "(none)"


@dataclass(frozen=True)
class LeadSlice:
    """Leads counted by a chart element: ``basis`` date within ``period``, plus filters."""

    basis: str
    period: Period
    as_of: datetime
    source: str | None = None  # "" = leads without a source
    campaign: str | None = None
    owner_id: int | None = None
    reached: str | None = None  # stage reached by as_of (sql_at, opportunity_at, won…)
    response: str | None = None  # speed-to-lead bucket of metrics.RESPONSE_BUCKETS
    hours: tuple[float, float | None] | None = None  # first-contact business-hours band
    reason_id: int | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, str]:
        params = {
            "basis": self.basis,
            "period": period_token(self.period),
            "at": self.as_of.isoformat(),
        }
        if self.source is not None:
            params["source"] = self.source or BLANK
        if self.campaign is not None:
            params["campaign"] = self.campaign or BLANK
        if self.owner_id is not None:
            params["owner"] = str(self.owner_id)
        if self.reached:
            params["reached"] = self.reached
        if self.response:
            params["response"] = self.response
        if self.hours is not None:
            low, high = self.hours
            params["hours"] = f"{low:g}-{'' if high is None else f'{high:g}'}"
        if self.reason_id is not None:
            params["reason"] = str(self.reason_id)
        return params


@dataclass(frozen=True)
class CommitmentSlice:
    """The leads one commitment classified as ``outcome`` for one period (as of a moment)."""

    commitment_id: int
    period: Period
    as_of: datetime
    outcome: str = "all"
    source: str | None = None
    owner_id: int | None = None

    def params(self) -> dict[str, str]:
        params = {
            "commitment": str(self.commitment_id),
            "period": period_token(self.period),
            "at": self.as_of.isoformat(),
            "outcome": self.outcome,
        }
        if self.source is not None:
            params["source"] = self.source or BLANK
        if self.owner_id is not None:
            params["owner"] = str(self.owner_id)
        return params


def drilldown_url(slice_: LeadSlice | CommitmentSlice) -> str:
    """The drill-down page listing the leads behind a number."""
    return f"{reverse('dashboards:drilldown')}?{urlencode(slice_.params())}"


def slice_from_params(
    params: Mapping[str, str], *, tz: str, now: datetime
) -> LeadSlice | CommitmentSlice:
    """Parse a drill-down query string; ScopeError names the parameter at fault."""
    period = period_from_token(params.get("period", ""), tz=tz)
    as_of = _moment(params.get("at"), now)
    source = _blankable(params.get("source"))
    if params.get("commitment"):
        outcome = params.get("outcome") or "all"
        if outcome not in OUTCOMES:
            raise ScopeError(f"Unknown outcome “{outcome}”.", field="outcome")
        return CommitmentSlice(
            commitment_id=_integer(params["commitment"], "commitment"),
            period=period,
            as_of=as_of,
            outcome=outcome,
            source=source,
            owner_id=_integer(params["owner"], "owner") if params.get("owner") else None,
        )
    basis = params.get("basis") or "mql"
    if basis not in BASES:
        raise ScopeError(f"Unknown basis “{basis}”.", field="basis")
    reached = params.get("reached") or None
    if reached is not None and reached not in REACHED:
        raise ScopeError(f"Unknown stage “{reached}”.", field="reached")
    response = params.get("response") or None
    if response is not None and response not in RESPONSE_BUCKETS:
        raise ScopeError(f"Unknown response bucket “{response}”.", field="response")
    return LeadSlice(
        basis=basis,
        period=period,
        as_of=as_of,
        source=source,
        campaign=_blankable(params.get("campaign")),
        owner_id=_integer(params["owner"], "owner") if params.get("owner") else None,
        reached=reached,
        response=response,
        hours=_hours(params.get("hours")),
        reason_id=_integer(params["reason"], "reason") if params.get("reason") else None,
    )


def _blankable(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    return "" if value == BLANK else value


def _integer(value: str, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise ScopeError(f"“{value}” is not a number.", field=name) from error


def _moment(value: str | None, now: datetime) -> datetime:
    if not value:
        return now
    try:
        moment = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError as error:
        raise ScopeError(f"“{value}” is not a date-time.", field="at") from error
    if moment.tzinfo is None:
        raise ScopeError("The date-time needs a UTC offset.", field="at")
    return moment


def _hours(value: str | None) -> tuple[float, float | None] | None:
    if not value:
        return None
    low, _, high = value.partition("-")
    try:
        return float(low), (float(high) if high else None)
    except ValueError as error:
        raise ScopeError(f"“{value}” is not an hour band like 1-2.", field="hours") from error
