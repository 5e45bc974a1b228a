"""Small dashboard arithmetic: rates, bins, Pareto shares, CAC and the pipeline put at risk.

Pure module: no ORM, no settings, no clock. Selectors feed it numbers they counted in
SQL; charts and reports show what it returns. Rates are fractions 0-1, None when the
denominator is 0 (a chart shows "no data", never a made-up 0 %).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "COVERAGE_BAND",
    "PipelineAtRisk",
    "cac",
    "contact_hour_edges",
    "coverage_ratio",
    "edge_label",
    "hour_bins",
    "pareto_cumulative",
    "pipeline_at_risk",
    "rate",
]

# Healthy pipeline coverage: 3x to 4x the revenue target (the domain articles' rule of thumb).
COVERAGE_BAND = (3.0, 4.0)

# Bin edges (business hours) of the time-to-first-contact distribution; the SLA's own
# hour count is added so the SLA line always falls on a bin edge.
_STANDARD_EDGES = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 24.0, 40.0)


def rate(numerator: float, denominator: float) -> float | None:
    """numerator ÷ denominator, 0-1 for counts; None when the denominator is 0."""
    return numerator / denominator if denominator else None


def coverage_ratio(amount: Decimal | float, revenue_target: Decimal | float | None) -> float | None:
    """Open pipeline ÷ revenue target as a ratio (3.2 = 3.2x); None without a positive target."""
    if revenue_target is None or Decimal(str(revenue_target)) <= 0:
        return None
    return float(Decimal(str(amount)) / Decimal(str(revenue_target)))


def cac(spend: Decimal | None, customers: int) -> Decimal | None:
    """Customer acquisition cost: spend ÷ new customers won, in money; None when either is missing."""
    if spend is None or customers <= 0:
        return None
    return (Decimal(spend) / customers).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def contact_hour_edges(sla_hours: float | None) -> list[float]:
    """Histogram edges in business hours, including the SLA hour count when there is one."""
    edges = set(_STANDARD_EDGES)
    if sla_hours is not None and sla_hours > 0:
        edges.add(float(sla_hours))
    return sorted(edges)


def hour_bins(hours: Iterable[float], edges: Sequence[float]) -> list[int]:
    """Counts per bin [edges[i], edges[i+1]); the last bin is open-ended (>= edges[-1]).

    Values below edges[0] are counted in the first bin. len(result) == len(edges).
    """
    if not edges:
        raise ValueError("hour_bins needs at least one edge")
    counts = [0] * len(edges)
    for value in hours:
        index = 0
        for i, edge in enumerate(edges):
            if value >= edge:
                index = i
            else:
                break
        counts[index] += 1
    return counts


def edge_label(lower: float, upper: float | None) -> str:
    """Bin label in hours or minutes: "0–15 min", "1–2 h", "40 h +"."""

    def fmt(hours: float) -> str:
        if hours < 1:
            return f"{round(hours * 60)} min"
        return f"{hours:g} h"

    if upper is None:
        return f"{fmt(lower)} +"
    if upper <= 1:
        return f"{round(lower * 60)}–{round(upper * 60)} min"
    return f"{lower:g}–{upper:g} h"


def pareto_cumulative(counts: Sequence[int]) -> list[float]:
    """Cumulative share (0-1) of counts already sorted in descending order; [] for no counts."""
    total = sum(counts)
    if not total:
        return [0.0 for _ in counts]
    running = 0
    shares = []
    for count in counts:
        running += count
        shares.append(running / total)
    return shares


@dataclass(frozen=True)
class PipelineAtRisk:
    """Revenue put at risk by missed first-contact clocks, with the inputs shown under the number."""

    missed: int
    in_sla_rate: float | None  # won ÷ closed-or-not MQLs contacted on time (0-1)
    out_sla_rate: float | None  # the same for MQLs whose clock was missed
    average_won_amount: Decimal | None
    amount: Decimal | None  # None when a rate or the average is unknown
    method: str


def pipeline_at_risk(
    *,
    missed: int,
    in_sla_won: int,
    in_sla_total: int,
    out_sla_won: int,
    out_sla_total: int,
    average_won_amount: Decimal | None,
) -> PipelineAtRisk:
    """missed MQLs × (in-SLA win rate − out-of-SLA win rate) × average won amount.

    Uses the organization's own history: the two win rates come from earlier cohorts
    whose first-contact clock was met or missed. A negative gap (late leads won more
    often) puts nothing at risk, so the gap is floored at 0. Money is rounded to
    whole units; None when either rate or the average won amount is unknown.
    """
    in_rate = rate(in_sla_won, in_sla_total)
    out_rate = rate(out_sla_won, out_sla_total)
    amount: Decimal | None = None
    if in_rate is not None and out_rate is not None and average_won_amount is not None:
        gap = max(in_rate - out_rate, 0.0)
        raw = Decimal(missed) * Decimal(str(gap)) * Decimal(average_won_amount)
        amount = raw.quantize(Decimal(1), rounding=ROUND_HALF_UP)

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0%}"

    money = "n/a" if average_won_amount is None else f"{Decimal(average_won_amount):,.0f}"
    method = (
        f"{missed} missed first-contact clocks × ({pct(in_rate)} win rate when contacted "
        f"within the SLA [{in_sla_won} of {in_sla_total}] − {pct(out_rate)} when not "
        f"[{out_sla_won} of {out_sla_total}]) × {money} average won deal."
    )
    return PipelineAtRisk(
        missed=missed,
        in_sla_rate=in_rate,
        out_sla_rate=out_rate,
        average_won_amount=average_won_amount,
        amount=amount,
        method=method,
    )
