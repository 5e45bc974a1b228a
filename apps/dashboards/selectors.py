"""Reads of the dashboards: the scorecard, chart data, drill-down lists.

Compliance numbers come from the compliance engine (apps.compliance.selectors: live
set-based SQL or its snapshots); everything else is a set-based aggregate: each
function runs a fixed number of queries whatever the number of leads, and returns
plain dataclasses for apps/dashboards/charts.py. Every point carries the drill-down
link to the leads it counts, built from the same filter the aggregate used, so a
list always matches its number.

Cohorts are the engine's: MQL events of kind "mql" whose ``qualified_at`` falls in
the period (a lead that qualified twice counts twice in the numbers and once in a
list of leads). An event owns the facts of its window, from its ``qualified_at`` to the
lead's next MQL event (``_windowed``): it converted when the lead reached SQL there, and
its first touch is the first one there. The MQL charts (volume, conversion by cohort,
source and campaign, speed to lead) read those facts from the per-MQL-event fact table
(``_facts``): one GROUP BY over a range of it each, so a scope nobody viewed before is
computed in the request in milliseconds; drill-down lists read the raw rows.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    DateTimeField,
    F,
    FloatField,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncQuarter
from django.http import Http404
from django.utils import timezone

from apps.accounts.models import User
from apps.compliance import kind_metrics, kind_selectors, metrics
from apps.compliance import selectors as compliance
from apps.compliance.metrics import MetricResult, Status
from apps.compliance.models import MqlEventFact
from apps.compliance.periods import (
    Period,
    PeriodKind,
    following,
    period_for,
    previous,
)
from apps.dashboards import calculations, chart_points, charts, tiles
from apps.dashboards.models import MarketingSpend
from apps.dashboards.scope import Scope
from apps.dashboards.slices import CommitmentSlice, LeadSlice, drilldown_url, slice_from_params
from apps.dispositions.models import Disposition, ReasonCode
from apps.leads.models import Activity, Lead, Stage, StageChange
from apps.mql.models import MqlEvent
from apps.sla import business_time
from apps.sla.models import ClockKind, Commitment, SlaClock, SlaVersion, Team
from apps.sla.selectors import calendar_for_version

__all__ = [
    "CLOCK_METRIC_LABELS",
    "RESPONSE_LIMITS",
    "ChartData",
    "Scorecard",
    "campaign_snapshot",
    "commitment_history",
    "commitment_period",
    "commitment_slice_queryset",
    "compliance_results",
    "drilldown",
    "first_contact_bins",
    "funnel_stages",
    "lead_slice_queryset",
    "marketing_spend_list",
    "mql_to_sql_by",
    "mql_to_sql_by_period",
    "mql_volume_points",
    "open_pipeline",
    "organization_timezone",
    "pipeline_at_risk",
    "pipeline_coverage_points",
    "rejection_reasons",
    "rep_compliance",
    "revenue_by_source",
    "scorecard",
    "source_list",
    "speed_to_lead",
    "spend_by_channel",
]

CLOCK_METRIC_LABELS = {
    "first_contact_time": "First contact",
    "follow_up_cadence": "Follow-up cadence",
    "disposition_time": "Disposition",
}
# Team order per role: each leader sees their own side's promises first.
TEAM_ORDER = {
    "marketing_leader": ("marketing", "shared", "sales"),
    "marketer": ("marketing", "shared", "sales"),
    "sales_leader": ("sales", "shared", "marketing"),
    "rep": ("sales", "shared", "marketing"),
}
DEFAULT_TEAM_ORDER = ("marketing", "sales", "shared")
SPARKLINE_PERIODS = 8
# Category charts (sources, campaigns) show the largest ones.
TOP_CATEGORIES = 12
# Upper bounds (exclusive, calendar seconds) of metrics.response_bucket, for the same
# bucketing in SQL; a test checks both agree at every boundary.
RESPONSE_LIMITS = ((5 * 60, "< 5 min"), (3600, "< 1 h"), (4 * 3600, "< 4 h"), (24 * 3600, "< 24 h"))
_JUST_BEFORE = timedelta(microseconds=1)
# The window end of a lead's last MQL event: no later event closes it.
_NEVER = datetime(9999, 12, 31, tzinfo=UTC)


class Median(Aggregate):
    """PostgreSQL percentile_cont(0.5): the same median the compliance metrics use."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _epoch(expression) -> Func:
    return Func(
        expression, template="EXTRACT(EPOCH FROM %(expressions)s)", output_field=FloatField()
    )


# --- organization ----------------------------------------------------------------------


def organization_timezone() -> str:
    """The organization's timezone, as the compliance engine decides it (periods are in it)."""
    return compliance.organization_timezone()


SOURCES_LISTED = 100
# The next source after the previous one, one index probe each on (source, campaign): a
# DISTINCT over every lead read a million rows (over 100 ms) at every scorecard view.
_SOURCES_SQL = f"""
    WITH RECURSIVE found(source, n) AS (
      (SELECT l.source, 1 FROM {Lead._meta.db_table} l
       WHERE l.source > '' ORDER BY l.source LIMIT 1)
      UNION ALL
      SELECT (SELECT l.source FROM {Lead._meta.db_table} l
              WHERE l.source > found.source ORDER BY l.source LIMIT 1), found.n + 1
      FROM found WHERE found.source IS NOT NULL AND found.n < %s
    )
    SELECT source FROM found WHERE source IS NOT NULL ORDER BY n"""  # noqa: S608 - table name only; the limit is bound


def source_list() -> list[str]:
    """Lead sources in use, for the filters (bounded: the first 100 alphabetically). One
    query of at most 100 index probes, whatever the number of leads."""
    with connection.cursor() as cursor:
        cursor.execute(_SOURCES_SQL, [SOURCES_LISTED])
        return [source for (source,) in cursor.fetchall()]


def _leads(*, owner_id: int | None = None, source: str | None = None) -> QuerySet[Lead]:
    leads = Lead.objects.all()
    if owner_id is not None:
        leads = leads.filter(owner_id=owner_id)
    if source is not None:
        leads = leads.filter(source=source)
    return leads


def _in_period(field: str, period: Period, as_of: datetime) -> Q:
    return Q(**{f"{field}__gte": period.start, f"{field}__lt": period.end, f"{field}__lte": as_of})


def _events(
    period: Period,
    as_of: datetime,
    *,
    owner_id: int | None = None,
    source: str | None = None,
    campaign: str | None = None,
) -> QuerySet[MqlEvent]:
    """The period's MQL cohort as the engine defines it: MQL events qualified in it by as_of."""
    events = MqlEvent.objects.filter(_in_period("qualified_at", period, as_of), kind="mql")
    if owner_id is not None:
        events = events.filter(lead__owner_id=owner_id)
    if source is not None:
        events = events.filter(lead__source=source)
    if campaign is not None:
        events = events.filter(lead__campaign=campaign)
    return events


def _windowed(events: QuerySet[MqlEvent]) -> QuerySet[MqlEvent]:
    """Each event with ``window_end``, its lead's next MQL event (compliance.mql_event_window_end)
    or never, and ``converted_at``, when the lead reached SQL inside [qualified_at, window_end)
    (DESIGN: an event owns the facts of its window) — metric_sql's ``converted_at``: the lead's
    sql_at there, or (a lead back from nurture that converted again) the first stage change to
    SQL there; NULL when none. ``_converted`` and ``_first_touch`` read them. Idempotent."""
    if "window_end" in events.query.annotations:
        return events
    again = StageChange.objects.filter(
        lead=OuterRef("lead"),
        to_stage=Stage.SQL,
        occurred_at__gte=OuterRef("qualified_at"),
        occurred_at__lt=OuterRef("window_end"),
    )
    return events.annotate(
        window_end=Coalesce(
            compliance.mql_event_window_end(), Value(_NEVER, output_field=DateTimeField())
        )
    ).annotate(
        converted_at=Case(
            When(
                lead__sql_at__gte=F("qualified_at"),
                lead__sql_at__lt=F("window_end"),
                then=F("lead__sql_at"),
            ),
            # sql_at keeps the lead's first SQL time, so only a lead that was SQL before this
            # MQL can have converted again: the cheap comparison spares the subquery for the
            # others.
            When(
                lead__sql_at__lt=F("qualified_at"),
                then=Subquery(
                    again.order_by()
                    .values("lead")
                    .annotate(first=Min("occurred_at"))
                    .values("first")
                ),
            ),
            default=None,
            output_field=DateTimeField(),
        )
    )


def _converted(as_of: datetime) -> Q:
    """A ``_windowed`` MQL event that became SQL inside its window by as_of. A plain comparison
    with the event's own column, so an ``aggregate`` over it (which Django runs on a wrapped
    subquery once an annotation holds one) needs no outer reference."""
    return Q(converted_at__lte=as_of)


def _facts(
    period: Period,
    as_of: datetime,
    *,
    owner_id: int | None = None,
    source: str | None = None,
) -> QuerySet[MqlEventFact]:
    """The period's MQL cohort (the same events as ``_events``) read from the per-MQL-event fact
    table (apps/compliance/facts.py): an index range scan of (kind, mql_at). Each row carries
    its window's facts — ``sql_at`` (its conversion, ``_windowed``'s ``converted_at``) and
    ``first_touch_at`` (its first sales touch) — and the lead's owner and source now, which the
    hand-off pipeline keeps current; a chart is one GROUP BY over it (``_analytical``)."""
    facts = MqlEventFact.objects.filter(_in_period("mql_at", period, as_of), kind="mql").order_by()
    if owner_id is not None:
        facts = facts.filter(owner_id=owner_id)
    if source is not None:
        facts = facts.filter(source=source)
    return facts


def _fact_converted(as_of: datetime) -> Q:
    """A fact row's event became SQL inside its window by as_of (``_converted``): its stored
    conversion is the first one in the window, so "by as_of" is a comparison."""
    return Q(sql_at__lte=as_of)


@contextmanager
def _analytical() -> Iterator[None]:
    """Run a chart's aggregate with PostgreSQL's JIT switched off (``SET LOCAL``: until the
    end of the current transaction), as the compliance engine's reads of the fact table do:
    compiling these short range scans costs more than it saves (issue #13)."""
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        yield


# --- compliance ------------------------------------------------------------------------


def commitment_period(scope: Scope, commitment: Commitment) -> Period:
    """The period a commitment is judged over for the scope (compliance.judged_period): its
    own review period containing the picked one when that is longer, else the picked one."""
    return compliance.judged_period(commitment, scope.period, moment=_history_moment(scope))


def _kinds(
    scope: Scope, *, catalog, viewer=None, metrics_only: frozenset[str] | None = None
) -> list:
    """The commitment kinds in force in the scope's period that the viewer's role may read,
    restricted to the team filter (and to ``metrics_only``), in the newest version's order."""
    kinds = kind_selectors.commitment_kinds(period=scope.period, catalog=catalog)
    if metrics_only is not None:
        kinds = [k for k in kinds if k.metric in metrics_only]
    if scope.team:
        kinds = [k for k in kinds if k.owner_team == scope.team]
    if viewer is not None:
        allowed = compliance.compliance_scope(viewer)
        kinds = [k for k in kinds if allowed.admits(k.commitment)]
    return kinds


def _fresh_since(scope: Scope, *, latest: bool) -> datetime | None:
    """With ``latest``, for an open period viewed organization-wide as of now: the oldest
    sweep snapshot still served (``DASHBOARD_SCORECARD_MAX_AGE_SECONDS`` before now); else
    None (computed live as of the scope's moment: a rep, a source, an earlier moment)."""
    if not latest or not scope.is_open or scope.owner_id is not None or scope.source is not None:
        return None
    oldest = timezone.now() - timedelta(seconds=settings.DASHBOARD_SCORECARD_MAX_AGE_SECONDS)
    return oldest if scope.as_of >= oldest else None


def compliance_results(
    scope: Scope,
    *,
    viewer=None,
    with_outcomes: bool = False,
    metrics_only: frozenset[str] | None = None,
    catalog: Sequence[Commitment] | None = None,
    latest: bool = False,
    with_owner_counts: bool = False,
) -> list[compliance.CommitmentResult]:
    """The engine's results for the scope — one per commitment kind, each over
    ``commitment_period`` and the SLA versions in force during it — restricted to what the
    viewer's role may read and to the team and source filters (coverage is the whole
    quarter's pipeline). Without a source filter or outcomes, a closed period's numbers
    come from its snapshots; with ``latest`` so do an open period's, organization-wide
    (the sweep's latest refresh, while fresh: ``_fresh_since``), with their per-owner
    counts. One engine call per period among the kinds (at most three)."""
    catalog = kind_selectors.signed_commitments() if catalog is None else catalog
    fresh_since = None if with_outcomes else _fresh_since(scope, latest=latest)
    items = compliance.compliance_in_review_periods(
        period=scope.period,
        as_of=scope.as_of,
        owner_id=scope.owner_id,
        source=scope.source,
        with_outcomes=with_outcomes,
        kinds=_kinds(scope, catalog=catalog, viewer=viewer, metrics_only=metrics_only),
        catalog=catalog,
        fresh_since=fresh_since,
        with_owner_counts=with_owner_counts,
    )
    if scope.source is None:
        return items
    return [_not_rated_for_a_source(item) for item in items]


def _not_rated_for_a_source(item):
    """A source has no volume target of its own: its count is shown without a status."""
    if item.commitment.metric != "mql_volume":
        return item
    result = dataclasses.replace(item.result, status=Status.GREY)
    return dataclasses.replace(item, result=result)


def _last_periods(kind: PeriodKind, as_of: datetime, tz: str, count: int) -> list[Period]:
    """The ``count`` periods of ``kind`` up to the one containing as_of, oldest first."""
    periods = [period_for(PeriodKind(kind), as_of, tz)]
    for _ in range(count - 1):
        periods.append(previous(periods[-1]))
    periods.reverse()
    return periods


def _history_moment(scope: Scope) -> datetime:
    # A closed period's as_of is its end, which already belongs to the next period.
    return min(scope.as_of, scope.period.end - _JUST_BEFORE)


def commitment_history(
    *,
    commitment: Commitment,
    count: int,
    as_of: datetime,
    kind: str | None = None,
    owner_id: int | None = None,
    source: str | None = None,
    tz: str | None = None,
) -> list[tuple[Period, MetricResult]]:
    """The figure of a commitment's kind over its last ``count`` periods (its review period
    unless ``kind``) up to the one containing as_of, oldest first, each period over the SLA
    versions in force during it. Reps get theirs computed with the owner filter."""
    return compliance.compliance_history(
        commitment=commitment,
        kind=PeriodKind(kind or commitment.review_period),
        count=count,
        as_of=as_of,
        owner_id=owner_id,
        source=source,
    )


def _histories(scope: Scope, items: Sequence, *, catalog, latest: bool = False) -> dict[str, list]:
    """The sparkline history of each kind (its own review period), by kind key: the
    organization's (the closed periods' frozen snapshots; with ``latest`` the open one's
    fresh snapshot too), or the rep's own."""
    moment = _history_moment(scope)
    fresh_since = _fresh_since(scope, latest=latest)
    return {
        item.kind.key: compliance.compliance_history(
            commitment=item.commitment,
            kind=PeriodKind(item.commitment.review_period),
            count=SPARKLINE_PERIODS,
            as_of=moment,
            owner_id=scope.owner_id,
            catalog=catalog,
            tz=scope.tz,
            fresh_since=fresh_since,
        )
        for item in items
    }


# --- scorecard -------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamGroup:
    team: str
    label: str
    tiles: list[tiles.Tile]


@dataclass(frozen=True)
class Scorecard:
    scope: Scope
    groups: list[TeamGroup]
    results: list  # compliance CommitmentResults after the filters: what the tiles show

    @property
    def tiles(self) -> list[tiles.Tile]:
        return [tile for group in self.groups for tile in group.tiles]

    @property
    def as_of(self) -> datetime:
        """The oldest moment a tile describes (a sweep snapshot's, or the scope's)."""
        return min([self.scope.as_of, *(item.as_of for item in self.results)])


def scorecard(
    *,
    scope: Scope,
    viewer=None,
    role: str | None = None,
    with_history: bool = True,
    latest: bool = False,
) -> Scorecard:
    """One tile per commitment kind in force in the scope's period (never one per SLA
    version), grouped by team (role order). ``latest``: an open period viewed
    organization-wide is read from the sweep's latest snapshots while they are fresh (the
    page), instead of computed live as of the scope's moment."""
    role = role or getattr(viewer, "role", None)
    catalog = kind_selectors.signed_commitments()
    items = compliance_results(scope, viewer=viewer, catalog=catalog, latest=latest)
    history = _histories(scope, items, catalog=catalog, latest=latest) if with_history else {}
    by_team: dict[str, list[tiles.Tile]] = defaultdict(list)
    for item in items:
        by_team[item.commitment.owner_team].append(
            _tile(scope, item, history.get(item.kind.key, []))
        )
    order = TEAM_ORDER.get(role or "", DEFAULT_TEAM_ORDER)
    labels = dict(Team.choices)
    groups = [
        TeamGroup(team=team, label=labels.get(team, team.title()), tiles=by_team[team])
        for team in sorted(by_team, key=lambda t: order.index(t) if t in order else 99)
    ]
    return Scorecard(scope=scope, groups=groups, results=items)


def _tile(scope: Scope, item, history: list) -> tiles.Tile:
    commitment, result = item.commitment, item.result
    text = tiles.status_text(result.status)
    links = {
        outcome: drilldown_url(
            CommitmentSlice(
                commitment_id=commitment.pk,
                period=item.period,
                as_of=item.as_of,
                outcome=outcome,
                source=scope.source,
                owner_id=scope.owner_id,
            )
        )
        for outcome in ("all", "met", "missed", "pending")
    }
    unit = tiles.unit_of(commitment.metric)
    points = [
        chart_points.TrendPoint(
            label=period.label,
            value=point.value,
            status=str(point.status),
            numerator=point.numerator,
            denominator=point.denominator,
            link=drilldown_url(
                CommitmentSlice(
                    commitment_id=commitment.pk,
                    period=period,
                    as_of=min(scope.as_of, period.end),
                    owner_id=scope.owner_id,
                )
            ),
        )
        for period, point in history
    ]
    spark = None
    if points:
        spark = charts.sparkline(points, target=result.target, unit=unit).to_json()
    note = ""
    if scope.source is not None and commitment.metric == "mql_volume":
        note = "Not rated: the target covers all sources."
    elif scope.source is not None and commitment.metric == "pipeline_coverage":
        note = "All sources: coverage is measured for the whole quarter."
    return tiles.Tile(
        commitment_id=commitment.pk,
        team=commitment.owner_team,
        title=tiles.commitment_title(commitment),
        metric=commitment.metric,
        status=str(result.status),
        status_label="Not rated" if note.startswith("Not rated") else text.label,
        icon=text.icon,
        value=tiles.value_text(commitment.metric, result.value),
        target=tiles.target_text(commitment.metric, result),
        counts=tiles.counts_text(commitment, result),
        numerator=result.numerator,
        denominator=result.denominator,
        pending=result.pending,
        value_number=result.value,
        links=links,
        sparkline=spark,
        trend=tuple(
            f"{p.label}: {tiles.value_text(commitment.metric, p.value)} "
            f"({tiles.status_text(p.status).label})"
            for p in points
        ),
        note=note,
        period_label="" if item.period == scope.period else item.period.label,
        versions=tiles.versions_text(result.versions),
        kind=item.kind.key,
    )


# --- drill-down ------------------------------------------------------------------------


def _first_touch(as_of: datetime) -> Subquery:
    """Per ``_windowed`` MQL event: its lead's first sales touch in its window, by as_of."""
    return Subquery(
        Activity.objects.filter(
            lead=OuterRef("lead"),
            family="sales_touch",
            occurred_at__gte=OuterRef("qualified_at"),
            occurred_at__lt=OuterRef("window_end"),
            occurred_at__lte=as_of,
        )
        .order_by()
        .values("lead")
        .annotate(first=Min("occurred_at"))
        .values("first")
    )


def _with_response_bucket(events: QuerySet[MqlEvent], as_of: datetime) -> QuerySet[MqlEvent]:
    """Annotate each MQL event with metrics.response_bucket in SQL (upper bounds exclusive):
    calendar time from qualified_at to the first sales touch in its window, by as_of."""
    first = _first_touch(as_of)
    whens = [When(first_touch__isnull=True, then=Value("none"))]
    whens.extend(
        When(first_touch__lt=F("qualified_at") + timedelta(seconds=seconds), then=Value(label))
        for seconds, label in RESPONSE_LIMITS
    )
    return (
        _windowed(events)
        .annotate(first_touch=first)
        .annotate(response=Case(*whens, default=Value("later"), output_field=CharField()))
    )


_REACHED = {
    "mql": lambda as_of: Q(mql_at__lte=as_of),
    "sql": lambda as_of: Q(sql_at__lte=as_of),
    "opportunity": lambda as_of: Q(opportunity_at__lte=as_of),
    "won": lambda as_of: Q(stage=Stage.WON, closed_at__lte=as_of),
    "lost": lambda as_of: Q(stage=Stage.LOST, closed_at__lte=as_of),
    "closed": lambda as_of: Q(stage__in=[Stage.WON, Stage.LOST], closed_at__lte=as_of),
}


def open_pipeline(as_of: datetime, *, leads: QuerySet[Lead] | None = None) -> QuerySet[Lead]:
    """Opportunities open at as_of, exactly as the engine's pipeline coverage sums them."""
    leads = Lead.objects.all() if leads is None else leads
    return leads.filter(
        Q(closed_at__isnull=True) | Q(closed_at__gt=as_of),
        opportunity_at__lte=as_of,
        amount__isnull=False,
        expected_close__isnull=False,
        stage__in=[Stage.OPPORTUNITY, Stage.WON, Stage.LOST],
    )


def _rejections(period: Period, as_of: datetime) -> QuerySet[Disposition]:
    return Disposition.objects.filter(_in_period("occurred_at", period, as_of), outcome="rejected")


def lead_slice_queryset(slice_: LeadSlice, *, owner_id: int | None = None) -> QuerySet[Lead]:
    """The leads a chart element counted (``owner_id`` forced for reps)."""
    owner = owner_id if owner_id is not None else slice_.owner_id
    period, as_of = slice_.period, slice_.as_of
    leads = _leads(owner_id=owner, source=slice_.source)
    if slice_.campaign is not None:
        leads = leads.filter(campaign=slice_.campaign)
    reached = slice_.reached
    if slice_.basis == "mql":
        events = _windowed(_events(period, as_of))
        if reached == "sql":
            events = events.filter(_converted(as_of))
            reached = None
        if slice_.response:
            events = _with_response_bucket(events, as_of).filter(response=slice_.response)
        leads = leads.filter(pk__in=events.values("lead_id"))
    elif slice_.basis == "created":
        leads = leads.filter(_in_period("created_at", period, as_of))
    elif slice_.basis == "closed":
        leads = leads.filter(
            _in_period("closed_at", period, as_of), stage__in=[Stage.WON, Stage.LOST]
        )
    elif slice_.basis == "pipeline":
        leads = open_pipeline(as_of, leads=leads).filter(
            expected_close__gte=period.first_day, expected_close__lte=period.last_day
        )
    elif slice_.basis == "rejected":
        rejected = _rejections(period, as_of)
        if slice_.reason_id is not None:
            rejected = (
                rejected.filter(reason_code__isnull=True)
                if slice_.reason_id == 0
                else rejected.filter(reason_code_id=slice_.reason_id)
            )
        leads = leads.filter(pk__in=rejected.values("lead_id"))
    if reached:
        leads = leads.filter(_REACHED[reached](as_of))
    if slice_.hours is not None:
        low, high = slice_.hours
        hours = _contact_hours(period=period, as_of=as_of, owner_id=owner, source=slice_.source)
        ids = {lead for lead, h in hours if h >= low and (high is None or h < high)}
        leads = leads.filter(pk__in=ids)
    return leads


def commitment_slice_queryset(
    slice_: CommitmentSlice, *, owner_id: int | None = None
) -> tuple[Commitment, QuerySet[Lead]]:
    """The commitment and the leads the engine classified as ``outcome`` (404 if unknown).

    "all" is every lead it measured: met, missed and pending (the cohort for volume,
    the summed opportunities for coverage, which the engine lists as met).
    """
    commitment = (
        Commitment.objects.select_related("version").filter(pk=slice_.commitment_id).first()
    )
    if commitment is None:
        raise Http404("No such commitment.")
    owner = owner_id if owner_id is not None else slice_.owner_id
    if slice_.outcome != "all":
        outcomes = [slice_.outcome]
    elif commitment.metric in ("mql_volume", "pipeline_coverage"):
        outcomes = ["met"]
    else:
        outcomes = ["met", "missed", "pending"]
    found = [
        compliance.commitment_leads(
            commitment=commitment,
            period=slice_.period,
            outcome=outcome,
            as_of=slice_.as_of,
            owner_id=owner,
        )
        for outcome in outcomes
    ]
    if len(found) == 1:
        leads = found[0]
    else:
        either = Q()
        for queryset in found:
            either |= Q(pk__in=queryset.values("pk"))
        leads = Lead.objects.filter(either)
    if slice_.source is not None:
        leads = leads.filter(source=slice_.source)
    return commitment, leads


def drilldown(
    params: Mapping[str, str], *, owner_id: int | None, tz: str, now: datetime
) -> tuple[LeadSlice | CommitmentSlice, Commitment | None, QuerySet[Lead]]:
    """Parse a drill-down query string and list its leads (ScopeError names a bad parameter)."""
    slice_ = slice_from_params(params, tz=tz, now=now)
    if isinstance(slice_, CommitmentSlice):
        found, leads = commitment_slice_queryset(slice_, owner_id=owner_id)
    else:
        found, leads = None, lead_slice_queryset(slice_, owner_id=owner_id)
    return slice_, found, leads.select_related("owner").order_by("-mql_at", "-created_at", "-id")


# --- chart data ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartData:
    """A chart's points and the figure built from them (what the page and the API serve)."""

    name: str
    title: str
    points: list
    figure: object  # plotly Figure
    note: str = ""

    @property
    def has_data(self) -> bool:
        """Something to draw (chart_points.has_data); otherwise the page shows an empty state."""
        return chart_points.has_data(self.points)


def _short_label(period: Period) -> str:
    if period.kind is PeriodKind.WEEK:
        return f"Wk {period.first_day:%d %b}"
    return period.label


def _series(scope: Scope, kind: PeriodKind, count: int) -> list[Period]:
    return _last_periods(kind, _history_moment(scope), scope.tz, count)


def _per_period_counts(
    scope: Scope, periods: list[Period], *, converted: bool = True
) -> dict[int, tuple[int, int]]:
    """(MQLs, converted) per period, each as of min(as_of, its end): one aggregate over a
    range of the fact table (``_facts``). Without ``converted`` the second number is 0."""
    facts = _facts(
        Period(kind=periods[0].kind, start=periods[0].start, end=periods[-1].end),
        scope.as_of,
        owner_id=scope.owner_id,
        source=scope.source,
    )
    aggregates = {}
    for index, period in enumerate(periods):
        moment = min(scope.as_of, period.end)
        in_period = _in_period("mql_at", period, moment)
        aggregates[f"n{index}"] = Count("event_id", filter=in_period)
        if converted:
            aggregates[f"s{index}"] = Count("event_id", filter=in_period & _fact_converted(moment))
    with _analytical():
        totals = facts.aggregate(**aggregates)
    return {i: (totals[f"n{i}"], totals.get(f"s{i}", 0)) for i in range(len(periods))}


def _kind_in_force(scope: Scope, metric: str) -> kind_selectors.CommitmentKind | None:
    """The first commitment kind on ``metric`` in force in the scope's period (the newest
    version's order), across the versions in force during it."""
    return next(
        (k for k in kind_selectors.commitment_kinds(period=scope.period) if k.metric == metric),
        None,
    )


def _kind_targets(
    scope: Scope, metric: str, periods: Sequence[Period], *, volume: bool
) -> dict[Period, tuple[kind_metrics.Terms, ...]]:
    """The terms of the scope's kind on ``metric`` in each period (versions in force in it):
    what the engine weighs the targets by. One query (the signed commitments)."""
    found = _kind_in_force(scope, metric)
    if found is None:
        return {}
    catalog = kind_selectors.signed_commitments()
    terms = {}
    for period in periods:
        kind = kind_selectors.kind_by_key(key=found.key, period=period, catalog=catalog)
        if kind is not None:
            terms[period] = tuple(kind_selectors.kind_terms(kind, period if volume else None))
    return terms


def mql_volume_points(
    scope: Scope, *, kind: PeriodKind = PeriodKind.WEEK, count: int = 8
) -> list[chart_points.VolumePoint]:
    """MQLs per period (one query) against the volume commitment's target: the engine's, each
    SLA version's target per its own review period weighted by the time it was in force in
    the period up to as_of (so pro-rated while the period is open)."""
    periods = _series(scope, kind, count)
    counts = _per_period_counts(scope, periods, converted=False)
    targets = (
        {}
        if scope.source or scope.owner_id
        else _kind_targets(scope, "mql_volume", periods, volume=True)
    )
    points = []
    for index, period in enumerate(periods):
        moment = min(scope.as_of, period.end)
        target = None
        if period in targets:
            _, _, effective, _ = kind_metrics.weighted_terms(
                targets[period], period=period, as_of=moment, volume=True
            )
            target = float(effective)
        points.append(
            chart_points.VolumePoint(
                label=_short_label(period),
                count=counts[index][0],
                target=target,
                is_open=moment < period.end,
                link=drilldown_url(
                    LeadSlice(
                        basis="mql",
                        period=period,
                        as_of=moment,
                        source=scope.source,
                        owner_id=scope.owner_id,
                    )
                ),
            )
        )
    return points


def mql_to_sql_by_period(
    scope: Scope, *, kind: PeriodKind = PeriodKind.WEEK, count: int = 8
) -> list[chart_points.RateBar]:
    """MQL→SQL conversion of each period's cohort, as the engine's mql_to_sql_rate (one query)."""
    periods = _series(scope, kind, count)
    counts = _per_period_counts(scope, periods)
    return [
        chart_points.RateBar(
            label=_short_label(period),
            numerator=counts[index][1],
            denominator=counts[index][0],
            link=drilldown_url(
                LeadSlice(
                    basis="mql",
                    period=period,
                    as_of=min(scope.as_of, period.end),
                    source=scope.source,
                    owner_id=scope.owner_id,
                    reached="sql",
                )
            ),
        )
        for index, period in enumerate(periods)
    ]


def mql_to_sql_by(scope: Scope, *, field: str) -> list[chart_points.RateBar]:
    """MQL→SQL conversion of the period's cohort by source or campaign (largest first)."""
    if field not in ("source", "campaign"):
        raise ValueError(f"cannot group by {field!r}")
    rows = (
        _facts(scope.period, scope.as_of, owner_id=scope.owner_id, source=scope.source)
        .values(field)
        .annotate(n=Count("event_id"), sql=Count("event_id", filter=_fact_converted(scope.as_of)))
        .order_by("-n", field)[:TOP_CATEGORIES]
    )
    with _analytical():
        rows = list(rows)
    bars = []
    for row in rows:
        value = row[field]
        filters = (
            {"source": value} if field == "source" else {"campaign": value, "source": scope.source}
        )
        bars.append(
            chart_points.RateBar(
                label=value or "(none)",
                numerator=row["sql"],
                denominator=row["n"],
                link=drilldown_url(
                    LeadSlice(
                        basis="mql",
                        period=scope.period,
                        as_of=scope.as_of,
                        owner_id=scope.owner_id,
                        reached="sql",
                        **filters,
                    )
                ),
            )
        )
    return bars


def campaign_snapshot(scope: Scope, *, limit: int = 200) -> list[dict]:
    """Per campaign and source: the period's MQLs, how many became SQL, how many were
    disqualified (one GROUP BY over the engine's cohort), largest first."""
    return list(
        _windowed(_events(scope.period, scope.as_of, owner_id=scope.owner_id, source=scope.source))
        .order_by()
        .values(campaign=F("lead__campaign"), source=F("lead__source"))
        .annotate(
            mqls=Count("id"),
            sqls=Count("id", filter=_converted(scope.as_of)),
            rejected=Count("id", filter=Q(lead__stage=Stage.DISQUALIFIED)),
        )
        .order_by("-mqls", "campaign", "source")[:limit]
    )


# (stage, reached filter, time it is entered, filter of the next step, time that step happens)
FUNNEL = (
    ("Lead", None, "created_at", "mql", "mql_at"),
    ("MQL", "mql", "mql_at", "sql", "sql_at"),
    ("SQL", "sql", "sql_at", "opportunity", "opportunity_at"),
    ("Opportunity", "opportunity", "opportunity_at", "closed", "closed_at"),
    ("Won", "won", None, None, None),
)


def funnel_stages(scope: Scope) -> list[chart_points.FunnelStage]:
    """Leads created in the period and how far they got by as_of, with the median days each
    stage lasted before the next step — one aggregate query: a range of lead_created_funnel_idx
    (created_at) or, for one source, lead_source_created_idx (source, created_at), which cover
    every column it reads (an index-only scan where the visibility map allows; the leads heap
    is four times wider). It reads leads, not the fact table: it counts every lead created,
    MQL or not."""
    leads = _leads(owner_id=scope.owner_id, source=scope.source).filter(
        _in_period("created_at", scope.period, scope.as_of)
    )
    # Counted on created_at (never NULL), not the id: the id is not in the covering indexes.
    aggregates = {"n_Lead": Count("created_at")}
    for label, reached, enters, next_step, leaves in FUNNEL:
        if reached:
            aggregates[f"n_{label}"] = Count("created_at", filter=_REACHED[reached](scope.as_of))
        if next_step:
            # Over the leads that took the next step by as_of (FILTER: the others are not
            # evaluated at all, cheaper than a CASE of NULLs percentile_cont would skip).
            aggregates[f"median_{label}"] = Median(
                _epoch(F(leaves) - F(enters)), filter=_REACHED[next_step](scope.as_of)
            )
    totals = leads.aggregate(**aggregates)
    stages = []
    for label, reached, _enters, _next_step, _leaves in FUNNEL:
        median = totals.get(f"median_{label}")
        stages.append(
            chart_points.FunnelStage(
                label=label,
                count=totals[f"n_{label}"] or 0,
                median_days=None if median is None else median / 86400,
                link=drilldown_url(
                    LeadSlice(
                        basis="created",
                        period=scope.period,
                        as_of=scope.as_of,
                        source=scope.source,
                        owner_id=scope.owner_id,
                        reached=reached,
                    )
                ),
            )
        )
    return stages


# The lead's source and owner of a rejection, from its MQL event's fact row (the lead's now,
# kept current by the hand-off pipeline, as the engine's filters read them); a disposition
# without an event looks its lead up. The fact table is hashed once; joining the leads heap
# for a quarter's rejections read most of it at 1M leads (0.35 s -> 0.19 s).
_REJECTED_LEAD = """CASE WHEN f.event_id IS NOT NULL THEN f.{column}
    ELSE (SELECT l.{column} FROM {lead} l WHERE l.id = d.lead_id) END"""
_REJECTIONS_SQL = """
    SELECT r.reason_code_id, c.label, r.source, COUNT(DISTINCT r.lead_id) AS n
    FROM (
      SELECT d.lead_id, d.reason_code_id, {source} AS source, {owner} AS owner_id
      FROM {disposition} d
      LEFT JOIN {fact} f ON f.event_id = d.mql_event_id
      WHERE d.outcome = 'rejected'
        AND d.occurred_at >= %(start)s AND d.occurred_at < %(end)s AND d.occurred_at <= %(as_of)s
    ) r
    LEFT JOIN {reason} c ON c.id = r.reason_code_id
    WHERE {where}
    GROUP BY r.reason_code_id, c.label, r.source
    ORDER BY n DESC, c.label, r.source"""


def rejection_reasons(scope: Scope) -> list[chart_points.ReasonBar]:
    """Leads rejected in the period per reason code and source (one GROUP BY over the period's
    rejections, an index range of (outcome, occurred_at), with their fact rows)."""
    lead = Lead._meta.db_table
    # Only table names and fixed conditions are formatted in; the values are bound.
    where = ["TRUE"]
    if scope.owner_id is not None:
        where.append("r.owner_id = %(owner)s")
    if scope.source is not None:
        where.append("r.source = %(source)s")
    sql = _REJECTIONS_SQL.format(
        source=_REJECTED_LEAD.format(column="source", lead=lead),
        owner=_REJECTED_LEAD.format(column="owner_id", lead=lead),
        disposition=Disposition._meta.db_table,
        fact=MqlEventFact._meta.db_table,
        reason=ReasonCode._meta.db_table,
        where=" AND ".join(where),
    )
    params = {
        "start": scope.period.start,
        "end": scope.period.end,
        "as_of": scope.as_of,
        "owner": scope.owner_id,
        "source": scope.source,
    }
    with _analytical(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        chart_points.ReasonBar(
            reason=label or "(no reason given)",
            source=source or "",
            count=n,
            link=drilldown_url(
                LeadSlice(
                    basis="rejected",
                    period=scope.period,
                    as_of=scope.as_of,
                    source=source or "",
                    owner_id=scope.owner_id,
                    reason_id=reason_id or 0,
                )
            ),
        )
        for reason_id, label, source, n in rows
    ]


def rep_compliance(
    scope: Scope, *, results: list | None = None, latest: bool = False
) -> list[chart_points.RepBar]:
    """Per rep and clock commitment kind: met / missed / pending over the same MQL events as
    the tile (so the reps add up to it), grouped by the lead's current owner in SQL — one
    query per clock kind, whatever the number of leads; none for a tile read from an open
    period's snapshot, which stored them as of its moment. ``results`` (the scorecard's)
    name the kinds and their periods; without them, those in force for the scope (with
    ``latest``, an open period organization-wide from the sweep's snapshots, as the scorecard
    reads them)."""
    if results is None:
        # The per-owner counts come with the figures, from the same statement.
        results = compliance_results(
            scope,
            metrics_only=frozenset(CLOCK_METRIC_LABELS),
            with_owner_counts=True,
            latest=latest,
        )
    counted = [
        (
            i.kind,
            i.period,
            i.as_of,
            # A snapshot's (organization-wide only) or counted with the scope's filters.
            i.owner_counts
            if i.owner_counts is not None
            else compliance.commitment_owner_counts(
                kind=i.kind,
                period=i.period,
                as_of=i.as_of,
                owner_id=scope.owner_id,
                source=scope.source,
            ),
        )
        for i in results
        if i.commitment.metric in CLOCK_METRIC_LABELS
    ]
    owner_ids = {owner for *_rest, counts in counted for owner in counts if owner is not None}
    names = {
        pk: name or email
        for pk, name, email in User.objects.filter(pk__in=owner_ids).values_list(
            "pk", "name", "email"
        )
    }
    bars = [
        chart_points.RepBar(
            rep=names.get(owner_id, "Unassigned") if owner_id else "Unassigned",
            metric=tiles.commitment_title(kind.commitment),
            met=met,
            missed=missed,
            pending=pending,
            link=drilldown_url(
                CommitmentSlice(
                    commitment_id=kind.commitment.pk,
                    period=period,
                    as_of=as_of,
                    outcome="missed",
                    source=scope.source,
                    owner_id=owner_id,
                )
            )
            if owner_id
            else None,
        )
        for kind, period, as_of, counts in counted
        for owner_id, (met, missed, pending) in counts.items()
    ]
    return sorted(bars, key=lambda b: (b.rep, b.metric))


def _response_index(as_of: datetime) -> Func:
    """The index of metrics.response_bucket in ("none", *RESPONSE_LIMITS labels, "later") of
    each fact row (``_facts``), as one expression: calendar seconds from mql_at to the first
    sales touch of the event's window known at as_of (the stored first touch when it is at or
    before as_of: the first one ever being later, none was known then)."""
    known = Case(
        When(first_touch_at__lte=as_of, then=F("first_touch_at")),
        default=None,
        output_field=DateTimeField(),
    )
    # Never contacted: -1, before the first bound (index 0). Upper bounds are exclusive,
    # as in metrics.response_bucket: 300 s exactly is "< 1 h".
    seconds = Func(_epoch(known - F("mql_at")), Value(-1.0), function="COALESCE")
    bounds = (
        "ARRAY[" + ",".join(["0"] + [f"{limit}" for limit, _ in RESPONSE_LIMITS]) + "]::float8[]"
    )
    return Func(
        seconds,
        template=f"width_bucket(%(expressions)s, {bounds})",
        output_field=IntegerField(),
    )


def speed_to_lead(scope: Scope) -> list[chart_points.RateBar]:
    """MQL→SQL conversion by first-contact bucket (metrics.response_bucket, in SQL): one
    GROUP BY over the period's fact rows."""
    rows = (
        _facts(scope.period, scope.as_of, owner_id=scope.owner_id, source=scope.source)
        .annotate(response=_response_index(scope.as_of))
        .values("response")
        .annotate(n=Count("event_id"), sql=Count("event_id", filter=_fact_converted(scope.as_of)))
    )
    with _analytical():
        rows = list(rows)
    labels = ("none", *(label for _, label in RESPONSE_LIMITS), "later")
    found = {labels[row["response"]]: (row["sql"], row["n"]) for row in rows}
    return [
        chart_points.RateBar(
            label=bucket,
            numerator=found.get(bucket, (0, 0))[0],
            denominator=found.get(bucket, (0, 0))[1],
            link=drilldown_url(
                LeadSlice(
                    basis="mql",
                    period=scope.period,
                    as_of=scope.as_of,
                    source=scope.source,
                    owner_id=scope.owner_id,
                    response=bucket,
                )
            ),
        )
        for bucket in metrics.RESPONSE_BUCKETS
    ]


def pipeline_coverage_points(
    scope: Scope, *, quarters: int = 4
) -> list[chart_points.CoveragePoint]:
    """Open pipeline per quarter of expected close (the scope's quarter and the next ones)
    against the revenue target of the pipeline-coverage commitment, one GROUP BY."""
    first = period_for(PeriodKind.QUARTER, _history_moment(scope), scope.tz)
    periods = [first]
    for _ in range(quarters - 1):
        periods.append(following(periods[-1]))
    rows = (
        open_pipeline(scope.as_of, leads=_leads(owner_id=scope.owner_id, source=scope.source))
        .filter(expected_close__gte=first.first_day, expected_close__lte=periods[-1].last_day)
        .annotate(quarter=TruncQuarter("expected_close"))
        .order_by()
        .values("quarter")
        .annotate(amount=Sum("amount"))
    )
    amounts = {row["quarter"]: row["amount"] for row in rows}
    # The revenue target of each quarter, over the versions in force in it (the engine's);
    # a quarter no signed version reaches yet takes the newest one's.
    terms = _kind_targets(scope, "pipeline_coverage", periods, volume=False)
    latest = terms.get(first)
    targets = {}
    for period in periods:
        latest = terms.get(period, latest)
        if latest is not None:
            revenue = kind_metrics.revenue_target(latest, period=period, as_of=period.end)
            targets[period] = revenue if revenue > 0 else None
    return [
        chart_points.CoveragePoint(
            label=period.label,
            amount=amounts.get(period.first_day) or Decimal(0),
            revenue_target=targets.get(period),
            link=drilldown_url(
                LeadSlice(
                    basis="pipeline",
                    period=period,
                    as_of=scope.as_of,
                    source=scope.source,
                    owner_id=scope.owner_id,
                )
            ),
        )
        for period in periods
    ]


def revenue_by_source(
    scope: Scope, *, limit: int = TOP_CATEGORIES
) -> list[chart_points.RevenuePoint]:
    """Deals closed in the period per source: won amount, won and lost counts (one GROUP BY)."""
    rows = (
        _leads(owner_id=scope.owner_id, source=scope.source)
        .filter(
            _in_period("closed_at", scope.period, scope.as_of),
            stage__in=[Stage.WON, Stage.LOST],
        )
        .order_by()
        .values("source")
        .annotate(
            won=Count("id", filter=Q(stage=Stage.WON)),
            lost=Count("id", filter=Q(stage=Stage.LOST)),
            amount=Sum("amount", filter=Q(stage=Stage.WON)),
        )
        .order_by(F("amount").desc(nulls_last=True), "source")[:limit]
    )
    return [
        chart_points.RevenuePoint(
            label=row["source"],
            won_amount=row["amount"] or Decimal(0),
            won=row["won"],
            lost=row["lost"],
            link=drilldown_url(
                LeadSlice(
                    basis="closed",
                    period=scope.period,
                    as_of=scope.as_of,
                    source=row["source"],
                    owner_id=scope.owner_id,
                )
            ),
        )
        for row in rows
    ]


def _contact_hours(
    *,
    period: Period,
    as_of: datetime,
    owner_id: int | None,
    source: str | None,
    commitment: Commitment | None = None,
) -> list[tuple[int, float]]:
    """(lead, business hours from MQL to first contact) per MQL event of the cohort measured by
    a first-contact clock and contacted by as_of — the engine's ``hours``, computed with the
    calendar frozen into each clock's SLA version. Two queries."""
    clocks = SlaClock.objects.filter(mql_event=OuterRef("pk"), kind=ClockKind.FIRST_CONTACT)
    if commitment is not None:
        clocks = clocks.filter(commitment=commitment)
    events = (
        _events(period, as_of, owner_id=owner_id, source=source)
        .annotate(version_id=Subquery(clocks.order_by("id").values("sla_version_id")[:1]))
        .filter(version_id__isnull=False)
    )
    rows = [
        (lead, version, qualified, first)
        for lead, version, qualified, first in _with_response_bucket(events, as_of).values_list(
            "lead_id", "version_id", "qualified_at", "first_touch"
        )
        if first is not None
    ]
    calendars = {
        version.pk: calendar_for_version(version, mode=business_time.BUSINESS)
        for version in SlaVersion.objects.filter(pk__in={row[1] for row in rows})
    }
    return [
        (lead, business_time.between(calendars[version], qualified, first).total_seconds() / 3600)
        for lead, version, qualified, first in rows
    ]


def first_contact_bins(scope: Scope) -> tuple[list[chart_points.HourBin], dict]:
    """Time-to-first-contact histogram bins (business hours) and the SLA it is judged against:
    every MQL event of the period measured by the first-contact kind, whichever SLA version
    it is judged under (each in its own version's calendar); the SLA line is the newest
    version's hours, and ``sla_hours_by_version`` names each version's when they differ."""
    kind = _kind_in_force(scope, "first_contact_time")
    commitment = kind.commitment if kind is not None else None
    params = (commitment.params or {}) if commitment else {}
    sla_hours = float(params["hours"]) if params.get("hours") else None
    by_version = {}
    edges = calculations.contact_hour_edges(sla_hours)
    if kind is not None:
        by_version = {
            c.version.number: float((c.params or {}).get("hours") or 0) for c in kind.commitments
        }
        # The engine's own hours column (business time in SQL), binned there: the histogram
        # and the tile's median are the same numbers by construction.
        counts, median, p90 = compliance.first_contact_hour_bins(
            kind=kind,
            period=scope.period,
            as_of=scope.as_of,
            edges=edges,
            owner_id=scope.owner_id,
            source=scope.source,
        )
    else:
        hours = [
            h
            for _lead, h in _contact_hours(
                period=scope.period,
                as_of=scope.as_of,
                owner_id=scope.owner_id,
                source=scope.source,
            )
        ]
        counts = calculations.hour_bins(hours, edges)
        median, p90 = metrics.percentile(hours, 0.5), metrics.percentile(hours, 0.9)
    bins = []
    for index, lower in enumerate(edges):
        upper = edges[index + 1] if index + 1 < len(edges) else None
        bins.append(
            chart_points.HourBin(
                label=calculations.edge_label(lower, upper),
                lower=lower,
                upper=upper,
                count=counts[index],
                link=drilldown_url(
                    LeadSlice(
                        basis="mql",
                        period=scope.period,
                        as_of=scope.as_of,
                        source=scope.source,
                        owner_id=scope.owner_id,
                        hours=(lower, upper),
                    )
                ),
            )
        )
    return bins, {
        "sla_hours": sla_hours,
        "sla_hours_by_version": by_version if len(set(by_version.values())) > 1 else {},
        "clock": "business",
        "median_hours": median,
        "p90_hours": p90,
    }


def compliance_trend(
    scope: Scope, *, commitment: Commitment, count: int = 12
) -> list[chart_points.TrendPoint]:
    """A commitment's value over its last ``count`` review periods (the engine's history)."""
    history = commitment_history(
        commitment=commitment,
        count=count,
        as_of=_history_moment(scope),
        owner_id=scope.owner_id,
        tz=scope.tz,
    )
    return [
        chart_points.TrendPoint(
            label=_short_label(period),
            value=result.value,
            status=str(result.status),
            numerator=result.numerator,
            denominator=result.denominator,
            link=drilldown_url(
                CommitmentSlice(
                    commitment_id=commitment.pk,
                    period=period,
                    as_of=min(scope.as_of, period.end),
                    outcome="missed" if tiles.unit_of(commitment.metric) == "rate" else "all",
                    owner_id=scope.owner_id,
                )
            ),
        )
        for period, result in history
    ]


def pipeline_at_risk(
    scope: Scope, *, results: list | None = None, latest: bool = False
) -> calculations.PipelineAtRisk:
    """Missed first-contact clocks of the period × the organization's own win-rate gap between
    in-SLA and out-of-SLA MQLs of the last 12 months × its average won amount (two queries
    besides the engine's numbers; with ``latest``, for an open period organization-wide, one:
    the win rates the sweep stored, while fresh)."""
    items = (
        results
        if results is not None
        else compliance_results(
            scope, metrics_only=frozenset({"first_contact_time"}), latest=latest
        )
    )
    missed = sum(
        int(i.result.denominator - i.result.numerator)
        for i in items
        if i.commitment.metric == "first_contact_time"
    )
    fresh_since = _fresh_since(scope, latest=latest)
    rates = None
    if fresh_since is not None:
        # Twelve months of outcomes: the sweep refreshes them every WIN_RATES_REFRESH_SECONDS.
        rates = compliance.win_rates_stored(
            fresh_since=fresh_since - timedelta(seconds=settings.WIN_RATES_REFRESH_SECONDS)
        )
    if rates is None:
        rates = compliance.first_contact_win_rates(
            as_of=scope.as_of, owner_id=scope.owner_id, source=scope.source
        )
    return calculations.pipeline_at_risk(
        missed=missed,
        in_sla_won=rates.in_sla_won,
        in_sla_total=rates.in_sla_total,
        out_sla_won=rates.out_sla_won,
        out_sla_total=rates.out_sla_total,
        average_won_amount=rates.average_won_amount,
    )


# --- marketing spend ---------------------------------------------------------------------


def marketing_spend_list() -> QuerySet[MarketingSpend]:
    return MarketingSpend.objects.select_related("entered_by").order_by("-month", "channel")


def spend_by_channel(*, period: Period) -> dict[str, Decimal]:
    """Spend per channel over the months of a period (one GROUP BY)."""
    rows = (
        MarketingSpend.objects.filter(month__gte=period.first_day, month__lte=period.last_day)
        .order_by()
        .values("channel")
        .annotate(total=Sum("amount"))
    )
    return {row["channel"]: row["total"] for row in rows}
