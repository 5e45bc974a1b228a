"""The points the dashboards' charts are drawn from: frozen dataclasses the selectors fill
and apps/dashboards/charts.py draws, and whether a chart has anything to draw at all.
Pure module: no ORM, no request, no settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from apps.dashboards.calculations import coverage_ratio, rate

__all__ = [
    "CountBar",
    "CoveragePoint",
    "FunnelStage",
    "HourBin",
    "RateBar",
    "ReasonBar",
    "RepBar",
    "RevenuePoint",
    "TrendPoint",
    "VolumePoint",
    "has_data",
]


@dataclass(frozen=True)
class HourBin:
    """One bar of the time-to-first-contact distribution: [lower, upper) business hours."""

    label: str
    lower: float
    upper: float | None  # None: open-ended last bin
    count: int
    link: str | None = None


@dataclass(frozen=True)
class TrendPoint:
    """One period of a commitment: its value (fraction, count or ratio) and RAG status."""

    label: str
    value: float | None
    status: str
    link: str | None = None
    numerator: float | None = None
    denominator: float | None = None


@dataclass(frozen=True)
class VolumePoint:
    """MQLs of one period against its (pro-rated when the period is still open) target."""

    label: str
    count: int
    target: float | None = None
    is_open: bool = False
    link: str | None = None


@dataclass(frozen=True)
class RateBar:
    """A conversion: numerator of denominator (e.g. MQLs that became SQL) for one category."""

    label: str
    numerator: int
    denominator: int
    link: str | None = None

    @property
    def value(self) -> float | None:
        return rate(self.numerator, self.denominator)


@dataclass(frozen=True)
class CountBar:
    label: str
    count: int
    link: str | None = None


@dataclass(frozen=True)
class FunnelStage:
    """Leads that reached a stage; ``median_days`` is the median time spent before the next one."""

    label: str
    count: int
    median_days: float | None = None
    link: str | None = None


@dataclass(frozen=True)
class ReasonBar:
    """Rejections with one reason code from one source."""

    reason: str
    source: str
    count: int
    link: str | None = None


@dataclass(frozen=True)
class RepBar:
    """One rep's result on one clock metric: met of met + missed (pending left out)."""

    rep: str
    metric: str
    met: int
    missed: int
    pending: int = 0
    link: str | None = None

    @property
    def value(self) -> float | None:
        return rate(self.met, self.met + self.missed)


@dataclass(frozen=True)
class CoveragePoint:
    """Open pipeline expected to close in one quarter against its revenue target."""

    label: str
    amount: Decimal
    revenue_target: Decimal | None
    link: str | None = None

    @property
    def ratio(self) -> float | None:
        return coverage_ratio(self.amount, self.revenue_target)


@dataclass(frozen=True)
class RevenuePoint:
    """Deals closed from one source/channel: won amount and won / lost counts."""

    label: str
    won_amount: Decimal
    won: int
    lost: int
    link: str | None = None

    @property
    def win_rate(self) -> float | None:
        return rate(self.won, self.won + self.lost)


def has_data(points: Sequence[object]) -> bool:
    """Whether a chart has anything to draw: some MQL, lead, rejection, deal or amount — not
    only zeros and "no data" rates (a new organization's chart is an empty state, not a row
    of zero bars on a -1…1 axis)."""
    for point in points:
        if isinstance(point, RateBar):
            found = point.denominator > 0
        elif isinstance(point, HourBin | VolumePoint | FunnelStage | ReasonBar | CountBar):
            found = point.count > 0
        elif isinstance(point, TrendPoint):
            found = point.value is not None
        elif isinstance(point, RepBar):
            found = point.met + point.missed + point.pending > 0
        elif isinstance(point, CoveragePoint):
            found = point.amount > 0
        elif isinstance(point, RevenuePoint):
            found = point.won + point.lost > 0
        else:
            found = True
        if found:
            return True
    return False
