"""Words and symbols of a scorecard tile: what a commitment promised and how it is doing.

Pure module: no ORM, no request. ``commitment`` is anything with ``metric``,
``params``, ``target``, ``label`` and ``get_metric_display`` (the SLA model); the
result is an apps.compliance.metrics.MetricResult.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apps.compliance.metrics import MetricResult, Status

__all__ = [
    "STATUS_TEXT",
    "StatusText",
    "Tile",
    "commitment_title",
    "counts_text",
    "status_text",
    "target_text",
    "unit_of",
    "value_text",
    "versions_text",
]


@dataclass(frozen=True)
class StatusText:
    label: str
    icon: str  # a symbol that survives grey-scale printing and colour blindness


STATUS_TEXT = {
    Status.GREEN: StatusText("On target", "✔"),
    Status.YELLOW: StatusText("At risk", "▲"),
    Status.RED: StatusText("Off target", "✖"),
    Status.GREY: StatusText("No data yet", "–"),
}


@dataclass(frozen=True)
class Tile:
    """One commitment on the scorecard."""

    commitment_id: int
    team: str
    title: str
    metric: str
    status: str
    status_label: str
    icon: str
    value: str
    target: str
    counts: str
    numerator: float
    denominator: float
    pending: int
    value_number: float | None = None
    links: dict[str, str] = field(default_factory=dict)
    sparkline: str | None = None  # the plotly figure as JSON
    trend: tuple[str, ...] = ()  # "Week of …: 82% (On target)" lines, the sparkline as text
    note: str = ""
    # Set when the commitment is judged over its own review period, not the one picked.
    period_label: str = ""
    # The SLA version(s) the figure was measured under: "SLA v2", "SLA v1 + v2".
    versions: str = ""
    kind: str = ""

    @property
    def has_outcomes(self) -> bool:
        """Rate metrics classify each lead met / missed / pending; counts and ratios do not."""
        return unit_of(self.metric) == "rate"


def unit_of(metric: str) -> str:
    """How a metric's value reads: "count" (MQL volume), "ratio" (coverage) or "rate"."""
    if metric == "mql_volume":
        return "count"
    if metric == "pipeline_coverage":
        return "ratio"
    return "rate"


def status_text(status: str) -> StatusText:
    return STATUS_TEXT[Status(status)]


def _clock_words(params: dict) -> str:
    hours = params.get("hours")
    clock = "business" if params.get("clock", "business") == "business" else "calendar"
    if hours is None:
        return ""
    return f"{hours:g} {clock} hour{'s' if hours != 1 else ''}"


def commitment_title(commitment: Any) -> str:
    """ "First contact within 4 business hours", or the commitment's own label."""
    if getattr(commitment, "label", ""):
        return commitment.label
    params = commitment.params or {}
    metric = commitment.metric
    if metric == "first_contact_time":
        return f"First contact within {_clock_words(params)}"
    if metric == "disposition_time":
        return f"Disposition within {_clock_words(params)}"
    if metric == "follow_up_cadence":
        return f"{params.get('touches', '?')} touches within {params.get('days', '?')} days"
    if metric == "pipeline_coverage":
        return "Pipeline coverage of the quarter's revenue target"
    return commitment.get_metric_display()


def versions_text(versions: tuple[int, ...] | list[int]) -> str:
    """ "SLA v2", or "SLA v1 + v2" for a figure measured under two versions; "" for none."""
    if not versions:
        return ""
    return "SLA " + " + ".join(f"v{number}" for number in versions)


def value_text(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    unit = unit_of(metric)
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "ratio":
        return f"{value:.1f}x"
    return f"{value * 100:.0f}%"


def target_text(metric: str, result: MetricResult) -> str:
    unit = unit_of(metric)
    if unit == "count":
        effective = result.effective_target
        if effective is not None and abs(effective - result.target) > 1e-9:
            return f"target {effective:,.0f} so far ({result.target:,.0f} for the period)"
        return f"target {result.target:,.0f}"
    if unit == "ratio":
        return f"target {result.target:.1f}x"
    return f"target {result.target * 100:.0f}% · yellow from {result.yellow_threshold * 100:.0f}%"


def counts_text(commitment: Any, result: MetricResult) -> str:
    """The counts behind the value: "41 of 52 contacted within 4 business hours; 3 pending"."""
    metric = commitment.metric
    params = commitment.params or {}
    met = int(result.numerator)
    total = int(result.denominator)
    pending = f"; {result.pending} pending" if result.pending else ""
    if metric == "first_contact_time":
        return f"{met} of {total} contacted within {_clock_words(params)}{pending}"
    if metric == "disposition_time":
        return f"{met} of {total} given a disposition within {_clock_words(params)}{pending}"
    if metric == "follow_up_cadence":
        return (
            f"{met} of {total} got {params.get('touches', '?')} touches within "
            f"{params.get('days', '?')} days{pending}"
        )
    if metric == "mql_to_sql_rate":
        return f"{met} of {total} MQLs became SQL"
    if metric == "rejection_reason_coverage":
        return f"{met} of {total} rejections carry a reason code"
    if metric == "mql_volume":
        return f"{met} MQLs"
    if metric == "pipeline_coverage":
        amount = Decimal(str(result.numerator))
        target = Decimal(str(result.denominator))
        return f"{amount:,.0f} open pipeline for a {target:,.0f} revenue target"
    return f"{met} of {total}"
