"""The charts the dashboards offer: name → title, who sees it on the charts page, and how
its data is read (selectors) and drawn (charts). The charts page and the chart API
both serve from this one table, so a chart and its JSON never disagree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from apps.accounts.exceptions import DomainError
from apps.compliance.periods import PeriodKind
from apps.dashboards import charts, selectors, tiles
from apps.dashboards.scope import Scope
from apps.sla.models import Commitment
from apps.sla.selectors import version_in_force

__all__ = ["CHARTS", "ChartSpec", "chart_build", "chart_spec", "charts_for_role"]


@dataclass(frozen=True)
class ChartSpec:
    name: str
    title: str
    build: Callable[..., selectors.ChartData]
    for_reps: bool = True  # reps see it restricted to their own leads
    wide: bool = False
    # What the card says instead of drawing zeros when there is nothing to draw yet.
    empty: str = "No data for this period yet."


def _first_contact(scope: Scope, **_options) -> selectors.ChartData:
    bins, info = selectors.first_contact_bins(scope)
    by_version = info.pop("sla_hours_by_version", {})
    note = ""
    if info["median_hours"] is not None:
        note = (
            f"Median {info['median_hours']:.1f} h, p90 {info['p90_hours']:.1f} h in "
            f"{info['clock']} hours, over {sum(b.count for b in bins)} contacted MQLs."
        )
    if by_version:
        note += " Each MQL is judged by its own SLA version: " + ", ".join(
            f"v{number} within {hours:g} h" for number, hours in sorted(by_version.items())
        )
        note += "; the line marks the newest."
    return selectors.ChartData(
        name="first-contact",
        title="Time to first contact",
        points=bins,
        figure=charts.first_contact_distribution(bins, **info),
        note=note,
    )


def _trend_commitment(scope: Scope, commitment_id: int | None) -> Commitment | None:
    if commitment_id is not None:
        found = Commitment.objects.select_related("version").filter(pk=commitment_id).first()
        if found is None:
            raise DomainError("No such commitment.", field="commitment")
        return found
    version = version_in_force(at=scope.as_of)
    if version is None:
        return None
    commitments = list(version.commitments.select_related("version").order_by("position", "id"))
    return next(
        (c for c in commitments if c.metric == "first_contact_time"),
        commitments[0] if commitments else None,
    )


def _trend(scope: Scope, *, commitment: int | None = None, **_options) -> selectors.ChartData:
    found = _trend_commitment(scope, commitment)
    if found is None:
        points = []
        figure = charts.compliance_trend([], target=0, yellow_threshold=0, title="Compliance trend")
        return selectors.ChartData(
            name="compliance-trend",
            title="Compliance trend",
            points=points,
            figure=figure,
            note="No signed SLA is in force.",
        )
    points = selectors.compliance_trend(scope, commitment=found)
    title = tiles.commitment_title(found)
    return selectors.ChartData(
        name="compliance-trend",
        title=title,
        points=points,
        figure=charts.compliance_trend(
            points,
            target=found.target,
            yellow_threshold=found.yellow_threshold,
            title=title,
            subtitle=f"per {found.review_period}, against target and yellow threshold",
            unit=tiles.unit_of(found.metric),
        ),
    )


def _kind(kind: str | None) -> PeriodKind:
    if kind in (None, ""):
        return PeriodKind.WEEK
    if kind not in ("week", "month"):
        raise DomainError("Choose week or month.", field="kind")
    return PeriodKind(kind)


def _volume(scope: Scope, *, kind: str | None = None, **_options) -> selectors.ChartData:
    period_kind = _kind(kind)
    points = selectors.mql_volume_points(
        scope, kind=period_kind, count=8 if period_kind == "week" else 6
    )
    return selectors.ChartData(
        name="mql-volume",
        title="MQL volume",
        points=points,
        figure=charts.mql_volume(points, title=f"MQLs per {period_kind} against target"),
        note="The open period's target is pro-rated by the share of the period elapsed.",
    )


def _sql_weekly(scope: Scope, *, kind: str | None = None, **_options) -> selectors.ChartData:
    period_kind = _kind(kind)
    bars = selectors.mql_to_sql_by_period(scope, kind=period_kind)
    return selectors.ChartData(
        name="mql-to-sql-weekly",
        title="MQL → SQL by cohort",
        points=bars,
        figure=charts.conversion_bars(bars, title=f"MQL → SQL by {period_kind} of MQL"),
    )


def _sql_by(field: str, label: str) -> Callable[..., selectors.ChartData]:
    def build(scope: Scope, **_options) -> selectors.ChartData:
        bars = selectors.mql_to_sql_by(scope, field=field)
        return selectors.ChartData(
            name=f"mql-to-sql-{field}",
            title=f"MQL → SQL by {label}",
            points=bars,
            figure=charts.conversion_bars(
                bars, title=f"MQL → SQL by {label}", subtitle=scope.period.label, horizontal=True
            ),
        )

    return build


def _funnel(scope: Scope, **_options) -> selectors.ChartData:
    stages = selectors.funnel_stages(scope)
    return selectors.ChartData(
        name="funnel",
        title="Funnel",
        points=stages,
        figure=charts.funnel(
            stages, title="Funnel", subtitle=f"Leads created in {scope.period.label}"
        ),
    )


def _rejections(scope: Scope, **_options) -> selectors.ChartData:
    bars = selectors.rejection_reasons(scope)
    return selectors.ChartData(
        name="rejections",
        title="Rejection reasons",
        points=bars,
        figure=charts.rejection_pareto(bars),
    )


def _reps(scope: Scope, **_options) -> selectors.ChartData:
    # An open period organization-wide: the per-owner counts the sweep stored, as the
    # scorecard's rep rows (computed live otherwise).
    bars = selectors.rep_compliance(scope, latest=True)
    return selectors.ChartData(
        name="reps",
        title="Compliance per rep",
        points=bars,
        figure=charts.rep_compliance(bars),
        note="Pending clocks are left out of each rate.",
    )


def _speed(scope: Scope, **_options) -> selectors.ChartData:
    bars = selectors.speed_to_lead(scope)
    return selectors.ChartData(
        name="speed-to-lead",
        title="Speed to lead",
        points=bars,
        figure=charts.speed_to_lead(bars),
        note="Your own leads test the claim that fast follow-up converts better.",
    )


def _coverage(scope: Scope, **_options) -> selectors.ChartData:
    points = selectors.pipeline_coverage_points(scope)
    return selectors.ChartData(
        name="coverage",
        title="Pipeline coverage",
        points=points,
        figure=charts.pipeline_coverage(points),
        note=""
        if any(p.revenue_target for p in points)
        else "Add a pipeline-coverage commitment with a revenue target to the SLA to see the ratio.",
    )


def _revenue(scope: Scope, **_options) -> selectors.ChartData:
    points = selectors.revenue_by_source(scope)
    return selectors.ChartData(
        name="revenue",
        title="Win rate and revenue by source",
        points=points,
        figure=charts.revenue_by_source(points),
    )


CHARTS: dict[str, ChartSpec] = {
    spec.name: spec
    for spec in (
        ChartSpec(
            "first-contact",
            "Time to first contact",
            _first_contact,
            empty="No MQL was contacted in this period yet.",
        ),
        ChartSpec(
            "compliance-trend",
            "Compliance trend",
            _trend,
            empty="No compliance figures yet: they appear once an SLA is signed and MQLs arrive.",
        ),
        ChartSpec(
            "mql-volume",
            "MQL volume",
            _volume,
            for_reps=False,
            empty="No MQLs in these periods yet.",
        ),
        ChartSpec(
            "mql-to-sql-weekly",
            "MQL → SQL by cohort",
            _sql_weekly,
            empty="No MQLs in these periods yet.",
        ),
        ChartSpec(
            "mql-to-sql-source",
            "MQL → SQL by source",
            _sql_by("source", "source"),
            empty="No MQLs in this period yet.",
        ),
        ChartSpec(
            "mql-to-sql-campaign",
            "MQL → SQL by campaign",
            _sql_by("campaign", "campaign"),
            empty="No MQLs in this period yet.",
        ),
        ChartSpec("funnel", "Funnel", _funnel, empty="No leads were created in this period yet."),
        ChartSpec(
            "rejections",
            "Rejection reasons",
            _rejections,
            empty="No MQL was rejected in this period.",
        ),
        ChartSpec(
            "reps",
            "Compliance per rep",
            _reps,
            empty="No clock of a sales commitment ran in this period yet.",
        ),
        ChartSpec("speed-to-lead", "Speed to lead", _speed, empty="No MQLs in this period yet."),
        ChartSpec(
            "coverage",
            "Pipeline coverage",
            _coverage,
            for_reps=False,
            empty="No open opportunity is expected to close in these quarters.",
        ),
        ChartSpec(
            "revenue",
            "Win rate and revenue by source",
            _revenue,
            empty="No deal was won or lost in this period.",
        ),
    )
}


def charts_for_role(role: str | None) -> list[ChartSpec]:
    return [spec for spec in CHARTS.values() if role != "rep" or spec.for_reps]


def chart_spec(name: str, *, role: str | None = None) -> ChartSpec:
    """The chart by name; DomainError (field "chart") for an unknown or withheld one."""
    spec = CHARTS.get(name)
    if spec is None or spec not in charts_for_role(role):
        raise DomainError(f"Unknown chart “{name}”.", field="chart")
    return spec


def chart_build(
    name: str, *, scope: Scope, role: str | None = None, **options
) -> selectors.ChartData:
    """Build one chart by name, live (the pages read it through apps.dashboards.snapshots)."""
    return chart_spec(name, role=role).build(scope, **options)
