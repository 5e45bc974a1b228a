"""The meeting cadence: weekly huddle, monthly pipeline review, quarterly business review.

Each report is read-only data assembled from the dashboard selectors and the
compliance engine: titled tables (each one exportable as CSV) plus figures and
text. The same ``Report`` feeds the page, the CSV export and the scheduled email.
Every table is bounded (``ROW_LIMIT`` rows at most, with the total stated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q, Sum
from django.urls import reverse

from apps.accounts.csv_export import csv_text
from apps.compliance.periods import Period, PeriodKind, period_for, previous
from apps.dashboards import calculations, chart_points, charts, selectors, tiles
from apps.dashboards.models import ReportKind
from apps.dashboards.scope import Scope
from apps.dashboards.slices import CommitmentSlice, LeadSlice, drilldown_url
from apps.dispositions.models import Disposition
from apps.leads.models import Lead, Stage
from apps.sla.models import SlaClock
from apps.sla.selectors import version_in_force

__all__ = [
    "PERIOD_KIND",
    "Report",
    "ReportTable",
    "build_report",
    "default_period",
    "table_csv",
]

ROW_LIMIT = 200
PERIOD_KIND = {
    ReportKind.HUDDLE: PeriodKind.WEEK,
    ReportKind.MONTHLY: PeriodKind.MONTH,
    ReportKind.QBR: PeriodKind.QUARTER,
}


@dataclass(frozen=True)
class ReportTable:
    key: str
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[object]]
    links: Sequence[str | None] = ()  # per row: the drill-down behind it
    note: str = ""
    empty: str = "Nothing to show for this period."
    total: int | None = None  # rows that exist when more than ROW_LIMIT are shown

    @property
    def linked_rows(self) -> list[tuple[Sequence[object], str | None]]:
        links = list(self.links) + [None] * (len(self.rows) - len(self.links))
        return list(zip(self.rows, links, strict=False))


@dataclass(frozen=True)
class Report:
    kind: str
    title: str
    period: Period
    as_of: datetime
    tables: list[ReportTable]
    figures: list[selectors.ChartData] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    at_risk: calculations.PipelineAtRisk | None = None

    def table(self, key: str) -> ReportTable | None:
        return next((t for t in self.tables if t.key == key), None)


def default_period(kind: str, *, now: datetime, tz: str) -> Period:
    """The last closed period of the report: last week, last month, last quarter."""
    return previous(period_for(PERIOD_KIND[ReportKind(kind)], now, tz))


def build_report(kind: str, *, period: Period, now: datetime, tz: str) -> Report:
    # A closed period is reported as it stood when it closed (the engine's frozen numbers).
    scope = Scope(period=period, as_of=min(now, period.end), tz=tz, choice="custom")
    builder = {
        ReportKind.HUDDLE: _huddle,
        ReportKind.MONTHLY: _monthly,
        ReportKind.QBR: _qbr,
    }[ReportKind(kind)]
    return builder(scope)


def table_csv(table: ReportTable) -> str:
    """The table as CSV text (header row first); cells are written as shown on the page."""
    return csv_text(table.columns, table.rows)


# --- shared sections ----------------------------------------------------------------------


def _sla_table(scope: Scope, items: list, *, title: str) -> ReportTable:
    rows, links = [], []
    for item in items:
        commitment, result = item.commitment, item.result
        status = tiles.status_text(result.status)
        own_period = "" if item.period == scope.period else f" ({item.period.label})"
        rows.append(
            [
                tiles.commitment_title(commitment) + own_period,
                commitment.get_owner_team_display(),
                tiles.value_text(commitment.metric, result.value),
                tiles.target_text(commitment.metric, result),
                f"{status.icon} {status.label}",
                tiles.counts_text(commitment, result),
                tiles.versions_text(result.versions),
            ]
        )
        links.append(
            drilldown_url(
                CommitmentSlice(commitment_id=commitment.pk, period=item.period, as_of=item.as_of)
            )
        )
    return ReportTable(
        key="sla",
        title=title,
        columns=["Commitment", "Team", "Value", "Target", "Status", "Counts", "Measured under"],
        rows=rows,
        links=links,
        empty="No signed SLA was in force for this period.",
        note="One row per commitment: a period under two SLA versions judges each MQL by the "
        "version in force when it qualified, with targets weighted by the time each was in force.",
    )


def _money(amount: Decimal | None) -> str:
    return "" if amount is None else f"{Decimal(amount):,.0f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _when(moment: datetime | None, tz: str) -> str:
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M")


# --- weekly huddle --------------------------------------------------------------------------


def _flow_table(scope: Scope) -> ReportTable:
    """How many leads entered each stage last week, next to the week before (one query)."""
    week, before = scope.period, previous(scope.period)
    stamps = [
        ("New leads", "created_at", "created"),
        ("MQLs", "mql_at", "mql"),
        ("SQLs", "sql_at", None),
        ("Opportunities", "opportunity_at", None),
        ("Won", "closed_at", "closed"),
    ]
    aggregates = {}
    for index, (label, stamp, _basis) in enumerate(stamps):
        extra = Q(stage=Stage.WON) if label == "Won" else Q()
        for key, period in (("now", week), ("before", before)):
            in_period = Q(
                **{
                    f"{stamp}__gte": period.start,
                    f"{stamp}__lt": period.end,
                    f"{stamp}__lte": scope.as_of,
                }
            )
            aggregates[f"stage{index}_{key}"] = Count("id", filter=in_period & extra)
    totals = Lead.objects.aggregate(**aggregates)
    rows, links = [], []
    for index, (label, _stamp, basis) in enumerate(stamps):
        current, earlier = totals[f"stage{index}_now"], totals[f"stage{index}_before"]
        rows.append([label, current, earlier, f"{current - earlier:+d}"])
        links.append(
            drilldown_url(
                LeadSlice(
                    basis=basis,
                    period=week,
                    as_of=scope.as_of,
                    reached="won" if label == "Won" else None,
                )
            )
            if basis
            else None
        )
    return ReportTable(
        key="flow",
        title="Lead flow",
        columns=["Stage entered", "This period", "Period before", "Change"],
        rows=rows,
        links=links,
    )


def _breaches_table(scope: Scope) -> ReportTable:
    """Leads of the period's cohort whose clocks were missed (late or never), by due time."""
    # metrics._clock_outcome: missed = done after the due time, or not done and overdue.
    missed = Q(met_at__gt=F("due_at")) | Q(met_at__isnull=True, due_at__lt=scope.as_of)
    clocks = (
        SlaClock.objects.filter(
            started_at__gte=scope.period.start,
            started_at__lt=scope.period.end,
            started_at__lte=scope.as_of,
        )
        .filter(missed)
        .select_related("lead", "lead__owner", "commitment")
        .order_by("due_at", "id")
    )
    total = clocks.count()
    rows, links = [], []
    for clock in clocks[:ROW_LIMIT]:
        lead = clock.lead
        rows.append(
            [
                str(lead),
                lead.company,
                lead.source,
                str(lead.owner) if lead.owner else "Unassigned",
                tiles.commitment_title(clock.commitment),
                _when(clock.started_at, scope.tz),
                _when(clock.due_at, scope.tz),
                _when(clock.met_at, scope.tz) or "not yet",
            ]
        )
        links.append(reverse("leads:lead_detail", args=[lead.pk]))
    return ReportTable(
        key="breaches",
        title="Leads that breached the SLA",
        columns=["Lead", "Company", "Source", "Owner", "Commitment", "MQL at", "Due", "Done"],
        rows=rows,
        links=links,
        total=total,
        empty="No clock was missed."
        if total or _clocks_ran(scope)
        else "No SLA clock ran in this period: no SLA was in force, or no MQL arrived.",
    )


def _clocks_ran(scope: Scope) -> bool:
    """Whether any SLA clock started in the period (else "nothing missed" would be no news)."""
    return SlaClock.objects.filter(
        started_at__gte=scope.period.start,
        started_at__lt=scope.period.end,
        started_at__lte=scope.as_of,
    ).exists()


def _rejections_table(scope: Scope) -> ReportTable:
    dispositions = (
        Disposition.objects.filter(
            outcome__in=["rejected", "nurture"],
            occurred_at__gte=scope.period.start,
            occurred_at__lt=scope.period.end,
            occurred_at__lte=scope.as_of,
        )
        .select_related("lead", "reason_code", "actor")
        .order_by("-occurred_at", "-id")
    )
    total = dispositions.count()
    rows, links = [], []
    for item in dispositions[:ROW_LIMIT]:
        rows.append(
            [
                str(item.lead),
                item.lead.source,
                item.get_outcome_display(),
                item.reason_code.label if item.reason_code else "(no reason given)",
                item.note,
                str(item.actor) if item.actor else "",
                _when(item.occurred_at, scope.tz),
            ]
        )
        links.append(reverse("leads:lead_detail", args=[item.lead_id]))
    return ReportTable(
        key="rejections",
        title="Rejections and returns to nurture, with reasons and notes",
        columns=["Lead", "Source", "Outcome", "Reason", "Note", "By", "When"],
        rows=rows,
        links=links,
        total=total,
        empty="No MQL was rejected or returned.",
    )


def _campaign_table(scope: Scope) -> ReportTable:
    rows_qs = selectors.campaign_snapshot(scope, limit=ROW_LIMIT)
    rows, links = [], []
    for row in rows_qs:
        rows.append(
            [
                row["campaign"] or "(none)",
                row["source"] or "(none)",
                row["mqls"],
                row["sqls"],
                _pct(calculations.rate(row["sqls"], row["mqls"])),
                row["rejected"],
            ]
        )
        links.append(
            drilldown_url(
                LeadSlice(
                    basis="mql",
                    period=scope.period,
                    as_of=scope.as_of,
                    campaign=row["campaign"],
                    source=row["source"],
                )
            )
        )
    return ReportTable(
        key="campaigns",
        title="Campaign snapshot (MQL cohort)",
        columns=["Campaign", "Source", "MQLs", "SQLs", "MQL → SQL", "Disqualified"],
        rows=rows,
        links=links,
        empty="No MQLs in this period.",
    )


def _huddle(scope: Scope) -> Report:
    items = selectors.compliance_results(scope)
    volume = selectors.mql_volume_points(scope, kind=PeriodKind.WEEK, count=8)
    return Report(
        kind=ReportKind.HUDDLE,
        title=f"Weekly huddle — {scope.period.label}",
        period=scope.period,
        as_of=scope.as_of,
        tables=[
            _flow_table(scope),
            _sla_table(scope, items, title="Lead flow against the SLA"),
            _breaches_table(scope),
            _rejections_table(scope),
            _campaign_table(scope),
        ],
        figures=[
            selectors.ChartData(
                name="mql-volume",
                title="MQL volume",
                points=volume,
                figure=charts.mql_volume(volume, title="MQLs per week against target"),
            )
        ],
        at_risk=selectors.pipeline_at_risk(scope, results=items),
    )


# --- monthly pipeline review ---------------------------------------------------------------


def _pipeline_by_source(scope: Scope) -> ReportTable:
    quarter = period_for(PeriodKind.QUARTER, scope.as_of, scope.tz)
    rows_qs = (
        selectors.open_pipeline(scope.as_of)
        .order_by()
        .values("source")
        .annotate(
            deals=Count("id"),
            total=Sum("amount"),
            this_quarter=Sum(
                "amount",
                filter=Q(
                    expected_close__gte=quarter.first_day, expected_close__lte=quarter.last_day
                ),
            ),
        )
        .order_by("-total", "source")[:ROW_LIMIT]
    )
    rows = [
        [
            row["source"] or "(none)",
            row["deals"],
            _money(row["total"]),
            _money(row["this_quarter"] or Decimal(0)),
        ]
        for row in rows_qs
    ]
    return ReportTable(
        key="pipeline",
        title="Open pipeline by source",
        columns=["Source", "Open opportunities", "Amount", f"Expected in {quarter.label}"],
        rows=rows,
        empty="No open opportunities.",
    )


def _win_loss(scope: Scope) -> ReportTable:
    points = selectors.revenue_by_source(scope, limit=ROW_LIMIT)
    rows = [
        [p.label or "(none)", p.won, p.lost, _pct(p.win_rate), _money(p.won_amount)] for p in points
    ]
    return ReportTable(
        key="winloss",
        title="Won and lost, by source",
        columns=["Source", "Won", "Lost", "Win rate", "Won revenue"],
        rows=rows,
        links=[p.link for p in points],
        empty="No deal closed in this period.",
    )


def _reasons_table(scope: Scope) -> ReportTable:
    rows_qs = (
        Disposition.objects.filter(
            outcome__in=["rejected", "nurture"],
            occurred_at__gte=scope.period.start,
            occurred_at__lt=scope.period.end,
            occurred_at__lte=scope.as_of,
        )
        .order_by()
        .values("outcome", "reason_code__label")
        .annotate(n=Count("id"))
        .order_by("-n", "reason_code__label")[:ROW_LIMIT]
    )
    rows_list = list(rows_qs)
    total = sum(r["n"] for r in rows_list)
    rows = [
        [
            r["reason_code__label"] or "(no reason given)",
            "Rejected" if r["outcome"] == "rejected" else "Returned to nurture",
            r["n"],
            _pct(calculations.rate(r["n"], total)),
        ]
        for r in rows_list
    ]
    return ReportTable(
        key="reasons",
        title="Loss and rejection reasons",
        columns=["Reason", "Outcome", "Count", "Share"],
        rows=rows,
        empty="No MQL was rejected or returned.",
    )


def _trend_table(scope: Scope, items: list, *, count: int) -> ReportTable:
    """Each commitment's value over its last ``count`` review periods (the engine's history)."""
    rows = []
    header: list[str] = []
    for item in items:
        commitment = item.commitment
        history = selectors.commitment_history(
            commitment=commitment, count=count, as_of=scope.as_of
        )
        if not header:
            header = [period.label for period, _ in history]
        rows.append(
            [tiles.commitment_title(commitment)]
            + [
                f"{tiles.value_text(commitment.metric, r.value)} {tiles.status_text(r.status).icon}"
                for _, r in history
            ]
        )
    return ReportTable(
        key="trends",
        title="Trends (each commitment over its own review periods)",
        columns=[
            "Commitment",
            *(f"−{count - i - 1}" if i < count - 1 else "Latest" for i in range(count)),
        ],
        rows=rows,
        note="✔ on target · ▲ at risk · ✖ off target · – no data",
        empty="No signed SLA was in force.",
    )


def _monthly(scope: Scope) -> Report:
    items = selectors.compliance_results(scope)
    revenue = selectors.revenue_by_source(scope)
    reasons = selectors.rejection_reasons(scope)
    return Report(
        kind=ReportKind.MONTHLY,
        title=f"Monthly pipeline review — {scope.period.label}",
        period=scope.period,
        as_of=scope.as_of,
        tables=[
            _sla_table(scope, items, title="SLA performance per commitment"),
            _pipeline_by_source(scope),
            _win_loss(scope),
            _reasons_table(scope),
            _trend_table(scope, items, count=6),
        ],
        figures=[
            selectors.ChartData(
                name="revenue",
                title="Revenue",
                points=revenue,
                figure=charts.revenue_by_source(revenue),
            ),
            selectors.ChartData(
                name="rejections",
                title="Rejections",
                points=reasons,
                figure=charts.rejection_pareto(reasons),
            ),
        ],
    )


# --- quarterly business review -----------------------------------------------------------


def _revenue_by_channel(scope: Scope) -> ReportTable:
    """Won revenue and pipeline created per channel (the lead's source), with spend and CAC."""
    quarter = scope.period
    won = (
        Lead.objects.filter(
            stage=Stage.WON,
            closed_at__gte=quarter.start,
            closed_at__lt=quarter.end,
            closed_at__lte=scope.as_of,
        )
        .order_by()
        .values("source")
        .annotate(deals=Count("id"), revenue=Sum("amount"))
    )
    created = (
        Lead.objects.filter(
            opportunity_at__gte=quarter.start,
            opportunity_at__lt=quarter.end,
            opportunity_at__lte=scope.as_of,
        )
        .order_by()
        .values("source")
        .annotate(pipeline=Sum("amount"))
    )
    spend = selectors.spend_by_channel(period=quarter)
    by_source: dict[str, dict] = {}
    for row in won:
        by_source.setdefault(row["source"], {}).update(deals=row["deals"], revenue=row["revenue"])
    for row in created:
        by_source.setdefault(row["source"], {}).update(pipeline=row["pipeline"])
    for channel in spend:
        by_source.setdefault(channel, {})
    rows, links = [], []
    ordered = sorted(by_source.items(), key=lambda kv: (-(kv[1].get("revenue") or 0), kv[0]))
    for source, values in ordered[:ROW_LIMIT]:
        channel_spend = spend.get(source)
        deals = values.get("deals", 0)
        cost = calculations.cac(channel_spend, deals)
        rows.append(
            [
                source or "(none)",
                deals,
                _money(values.get("revenue") or Decimal(0)),
                _money(values.get("pipeline") or Decimal(0)),
                _money(channel_spend) if channel_spend is not None else "not entered",
                _money(cost) if cost is not None else "n/a",
            ]
        )
        links.append(
            drilldown_url(
                LeadSlice(
                    basis="closed",
                    period=quarter,
                    as_of=scope.as_of,
                    source=source,
                    reached="won",
                )
            )
        )
    return ReportTable(
        key="revenue",
        title="Revenue influenced by channel, and CAC",
        columns=["Channel", "Won deals", "Won revenue", "Pipeline created", "Spend", "CAC"],
        rows=rows,
        links=links,
        note="Revenue is attributed to the lead's source. CAC = the channel's spend in the quarter "
        "÷ deals it won; enter spend under Settings → Marketing spend.",
        empty="No revenue and no spend in this quarter.",
    )


def _coverage_table(scope: Scope) -> tuple[ReportTable, list[chart_points.CoveragePoint]]:
    points = selectors.pipeline_coverage_points(scope, quarters=3)
    low, high = calculations.COVERAGE_BAND
    rows = []
    for point in points:
        ratio = point.ratio
        if ratio is None:
            verdict = "– no revenue target in the SLA"
        elif ratio < low:
            verdict = f"✖ below {low:g}x"
        elif ratio > high:
            verdict = f"▲ above {high:g}x (check deal quality)"
        else:
            verdict = "✔ in the band"
        rows.append(
            [
                point.label,
                _money(point.amount),
                _money(point.revenue_target),
                "n/a" if ratio is None else f"{ratio:.1f}x",
                verdict,
            ]
        )
    table = ReportTable(
        key="coverage",
        title="Pipeline coverage",
        columns=[
            "Quarter",
            "Open pipeline",
            "Revenue target",
            "Coverage",
            f"{low:g}x–{high:g}x band",
        ],
        rows=rows,
        links=[p.link for p in points],
    )
    return table, points


def _sla_quarter_table(scope: Scope, items: list) -> tuple[ReportTable, dict[int, list]]:
    """Per commitment: the quarter's value and how many of its review periods (weeks, months)
    inside the quarter were green / yellow / red."""
    rows, weekly = [], {}
    per_quarter = {PeriodKind.WEEK: 14, PeriodKind.MONTH: 3, PeriodKind.QUARTER: 1}
    last = min(scope.as_of, scope.period.end - timedelta(microseconds=1))
    for item in items:
        commitment, result = item.commitment, item.result
        history = selectors.commitment_history(
            commitment=commitment,
            count=per_quarter[PeriodKind(commitment.review_period)],
            as_of=last,
        )
        history = [(p, r) for p, r in history if scope.period.contains(p.start)]
        weekly[commitment.pk] = history
        counts = dict.fromkeys(("green", "yellow", "red", "grey"), 0)
        for _, r in history:
            counts[str(r.status)] += 1
        own_period = "" if item.period == scope.period else f" ({item.period.label})"
        rows.append(
            [
                tiles.commitment_title(commitment) + own_period,
                commitment.get_owner_team_display(),
                tiles.value_text(commitment.metric, result.value),
                tiles.target_text(commitment.metric, result),
                f"{tiles.status_text(result.status).icon} {tiles.status_text(result.status).label}",
                counts["green"],
                counts["yellow"],
                counts["red"],
                tiles.versions_text(result.versions),
            ]
        )
    table = ReportTable(
        key="sla",
        title="SLA performance over the quarter",
        columns=[
            "Commitment",
            "Team",
            "Quarter",
            "Target",
            "Status",
            "Periods ✔",
            "Periods ▲",
            "Periods ✖",
            "Measured under",
        ],
        rows=rows,
        empty="No signed SLA was in force for this quarter.",
    )
    return table, weekly


def review_questions(
    *,
    items: list,
    weekly: dict[int, list],
    reasons: Sequence[chart_points.ReasonBar],
    coverage: Sequence[chart_points.CoveragePoint],
    review_date=None,
) -> list[str]:
    """The questions the SLA review should answer next quarter, drawn from this quarter's data."""
    questions: list[str] = []
    for item in items:
        commitment, result = item.commitment, item.result
        title = tiles.commitment_title(commitment)
        history = weekly.get(commitment.pk, [])
        periods = len(history)
        unit = f"{commitment.review_period}s"
        red = sum(1 for _, r in history if str(r.status) == "red")
        green = sum(1 for _, r in history if str(r.status) == "green")
        if periods and red * 2 >= periods:
            questions.append(
                f"“{title}” was off target in {red} of {periods} {unit}: is the target realistic, "
                "or does the team need more capacity, better routing or a different process?"
            )
        elif periods and green == periods and result.value is not None:
            questions.append(
                f"“{title}” was on target in every one of its {unit} "
                f"({tiles.value_text(commitment.metric, result.value)} for the quarter): "
                "raise the target next quarter?"
            )
        if str(result.status) == "grey":
            questions.append(
                f"“{title}” had no data this quarter: is it still measured, and still wanted?"
            )
    totals: dict[str, int] = {}
    for bar in reasons:
        totals[bar.reason] = totals.get(bar.reason, 0) + bar.count
    total = sum(totals.values())
    if total:
        reason, count = max(totals.items(), key=lambda kv: kv[1])
        if count / total >= 0.3:
            questions.append(
                f"“{reason}” accounts for {count / total:.0%} of rejections ({count} of {total}): "
                "should the MQL definition change so these leads no longer qualify?"
            )
    low, _high = calculations.COVERAGE_BAND
    # The quarter after the one under review is the one the team can still change.
    questions.extend(
        f"Pipeline coverage for {point.label} is {point.ratio:.1f}x, below {low:g}x: "
        "what will marketing and sales do differently to build it?"
        for point in coverage[1:2]
        if point.ratio is not None and point.ratio < low
    )
    if review_date is not None:
        questions.append(f"The SLA is due for review on {review_date:%d %B %Y}: book the session.")
    questions.append(
        "Are the reason codes still the ones reps need, and are the business hours still right?"
    )
    return questions


def _qbr(scope: Scope) -> Report:
    items = selectors.compliance_results(scope)
    sla_table, weekly = _sla_quarter_table(scope, items)
    coverage_table, coverage_points = _coverage_table(scope)
    reasons = selectors.rejection_reasons(scope)
    version = version_in_force(at=scope.as_of)
    questions = review_questions(
        items=items,
        weekly=weekly,
        reasons=reasons,
        coverage=coverage_points,
        review_date=version.review_date if version is not None else None,
    )
    revenue = selectors.revenue_by_source(scope)
    return Report(
        kind=ReportKind.QBR,
        title=f"Quarterly business review — {scope.period.label}",
        period=scope.period,
        as_of=scope.as_of,
        tables=[
            _revenue_by_channel(scope),
            coverage_table,
            sla_table,
            ReportTable(
                key="questions",
                title="SLA review questions for next quarter",
                columns=["Question"],
                rows=[[q] for q in questions],
            ),
        ],
        figures=[
            selectors.ChartData(
                name="revenue",
                title="Revenue",
                points=revenue,
                figure=charts.revenue_by_source(revenue),
            ),
            selectors.ChartData(
                name="coverage",
                title="Coverage",
                points=coverage_points,
                figure=charts.pipeline_coverage(coverage_points),
            ),
        ],
        questions=questions,
    )
