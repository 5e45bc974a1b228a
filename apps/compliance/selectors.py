"""Reads of the compliance engine: periods, metrics (set-based SQL), snapshots, drill-down, alerts.

The public API the API views, the pages and the dashboards build on:

    organization_timezone() -> str
    period_from(kind, start: date) -> Period                 (ValueError on a non-start day)
    period_containing(kind, day: date) -> Period
    commitments_in_force(*, period) -> QuerySet[Commitment]
    compliance_for_period(*, period, as_of=None, owner_id=None, source=None,
                          with_outcomes=True, kinds=None, commitments=None,
                          review_period=None) -> list[CommitmentResult]
    kind_result(*, kind, period, as_of, owner_id=None, source=None, with_outcomes=True)
                          -> MetricResult
    compliance_history(*, commitment, kind, count, as_of=None) -> list[tuple[Period, MetricResult]]
    first_contact_win_rates(*, as_of, owner_id=None, source=None) -> WinRates
    win_rates_stored(*, fresh_since) -> WinRates | None
    commitment_leads(*, commitment, period, outcome, as_of=None, owner_id=None) -> QuerySet[Lead]

A period is scored once per commitment *kind* (same owner team and metric, across the
SLA versions in force during it), never once per version: kinds.py groups them (pure),
kind_selectors.py reads them (commitment_kinds, kind_of, kind_by_key, kind_terms).
Every number is the one metrics.py computes from the same facts (a test checks it
on generated data). ``as_of=None`` means "now" for an open period and the period's
end for a closed one, which is what the frozen snapshot of a closed period holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

from django.db import connection, transaction
from django.db.models import Avg, Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.accounts.roles import Role
from apps.compliance import kind_metrics, metric_sql
from apps.compliance.kind_selectors import (
    SIGNED,
    CommitmentKind,
    commitment_kinds,
    kind_of,
    kind_terms,
    signed_commitments,
)
from apps.compliance.metric_sql import Query
from apps.compliance.metrics import Metric, MetricResult, Outcome, Status
from apps.compliance.models import (
    AlertSettings,
    ComplianceSnapshot,
    MqlEventFact,
    Notification,
    WebhookAttempt,
    WinRateSnapshot,
)
from apps.compliance.periods import Period, PeriodKind, period_for, period_starting, previous
from apps.leads.models import Lead, Stage
from apps.mql.models import DefinitionKind, MqlEvent
from apps.mql.rules import lead_fields
from apps.sla import selectors as sla_selectors
from apps.sla.models import ClockKind, ClockState, Commitment, SlaClock, SlaVersion, Team
from apps.sla.segments import parse_segment, segment_matches

# Metrics whose target is the whole organization's: a person's own share has no status.
TEAM_ONLY_METRICS = frozenset({Metric.MQL_VOLUME, Metric.PIPELINE_COVERAGE})


@dataclass(frozen=True)
class CommitmentResult:
    """One commitment kind's figure for one period as of one moment; ``source`` live or
    snapshot. ``commitment`` is the kind's newest (it names the figure); ``result.versions``
    the SLA versions the figure was measured under."""

    kind: CommitmentKind
    period: Period
    as_of: datetime
    result: MetricResult
    source: str = "live"
    frozen: bool = False
    # A clock kind's (met, missed, pending) per current owner (None: unassigned) as of
    # ``as_of``, when the open period's snapshot stored them; None otherwise.
    owner_counts: Mapping[int | None, tuple[int, int, int]] | None = None

    @property
    def commitment(self) -> Commitment:
        return self.kind.commitment


# --- organization timezone and periods --------------------------------------------------


def organization_timezone(*, now: datetime | None = None) -> str:
    """Periods are in this zone: the SLA in force's calendar, else the default calendar, else UTC."""
    return sla_selectors.organization_timezone(now=now)


# Periods the engine computes: wide enough for any real history, narrow enough that a
# request cannot make it walk centuries of calendar days.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


def period_from(kind: str, start: date, *, tz: str | None = None) -> Period:
    """The period of ``kind`` starting on local day ``start``; ValueError says why not."""
    if not FIRST_DAY <= start <= LAST_DAY:
        raise ValueError(f"choose a day between {FIRST_DAY} and {LAST_DAY}")
    return period_starting(PeriodKind(kind), start, tz or organization_timezone())


def period_containing(kind: str, day: date, *, tz: str | None = None) -> Period:
    """The period of ``kind`` that contains local day ``day`` (weeks start on Monday)."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"choose a day between {FIRST_DAY} and {LAST_DAY}")
    return period_for(PeriodKind(kind), day, tz or organization_timezone())


def current_period(kind: str, *, now: datetime | None = None, tz: str | None = None) -> Period:
    now = now or timezone.now()
    return period_for(PeriodKind(kind), now, tz or organization_timezone(now=now))


def _zone_name(period: Period) -> str:
    return getattr(period.start.tzinfo, "key", None) or "UTC"


def default_as_of(period: Period, *, now: datetime | None = None) -> datetime:
    """Now for an open period, its end for a closed one (the frozen snapshot's moment)."""
    now = now or timezone.now()
    return min(now, period.end)


def versions_in_force(*, period: Period) -> QuerySet[SlaVersion]:
    """Signed versions that governed some moment of the period."""
    return SlaVersion.objects.filter(status__in=SIGNED, effective_at__lt=period.end).filter(
        Q(superseded_at__isnull=True) | Q(superseded_at__gt=period.start)
    )


def commitments_in_force(*, period: Period) -> QuerySet[Commitment]:
    """Every commitment of the versions in force during the period, version by version."""
    return (
        Commitment.objects.filter(version__in=versions_in_force(period=period))
        .select_related("version")
        .order_by("version__effective_at", "version_id", "position", "id")
    )


# --- an MQL event's window ------------------------------------------------------------------


def mql_event_window_end() -> Subquery:
    """Per MQL event of an outer ``MqlEvent`` queryset: the ``qualified_at`` of its lead's next
    MQL event (NULL for the lead's last one), the exclusive end of the event's window — the
    ORM twin of ``window_end`` of MqlEventFact (apps/compliance/facts.py) (same order: time, then id).
    Touches, dispositions and the SQL stage in [qualified_at, window_end) are the event's."""
    following = MqlEvent.objects.filter(lead=OuterRef("lead"), kind=DefinitionKind.MQL).filter(
        Q(qualified_at__gt=OuterRef("qualified_at"))
        | Q(qualified_at=OuterRef("qualified_at"), pk__gt=OuterRef("pk"))
    )
    return Subquery(following.order_by("qualified_at", "pk").values("qualified_at")[:1])


# --- who sees what --------------------------------------------------------------------


@dataclass(frozen=True)
class ComplianceScope:
    """What a role may read: all, marketing and shared commitments, or one's own leads."""

    owner_id: int | None = None
    teams: frozenset[str] | None = None
    hide_team_only: bool = False

    def admits(self, commitment: Commitment) -> bool:
        if self.teams is not None and commitment.owner_team not in self.teams:
            return False
        return not (self.hide_team_only and commitment.metric in TEAM_ONLY_METRICS)


def compliance_scope(user) -> ComplianceScope:
    """Leaders, executives and admins read everything; marketers the marketing and shared
    commitments; a rep the rate metrics measured on the leads they own (their own compliance)."""
    role = getattr(user, "role", None)
    if role == Role.REP:
        return ComplianceScope(owner_id=user.pk, hide_team_only=True)
    if role == Role.MARKETER:
        return ComplianceScope(teams=frozenset({Team.MARKETING, Team.SHARED}))
    return ComplianceScope()


# --- one commitment kind, live --------------------------------------------------------------


def _segment(
    commitment: Commitment, candidate_lead_ids: Query | None
) -> tuple[str, tuple, tuple[int, ...] | None]:
    """A commitment's segment as (SQL, params) on ``l``, or as the lead ids it admits."""
    conditions = parse_segment(commitment.segment)
    if not conditions:
        return "", (), None
    translated = metric_sql.segment_sql(conditions)
    if translated is not None:
        sql, values = translated
        return sql, values, None
    # No exact SQL form (properties.*, email_domain, ...): decide in Python on the
    # candidate leads of this period only, with the same FieldCondition.holds.
    ids = []
    if candidate_lead_ids is not None:
        found = RawSQL(candidate_lead_ids.sql, candidate_lead_ids.params)  # noqa: S611 - metric_sql binds every value
        leads = Lead.objects.filter(pk__in=found)
        ids = [
            lead.pk
            for lead in leads.iterator(chunk_size=2000)
            if segment_matches(conditions, lead_fields(lead))
        ]
    return "", (), tuple(ids)


def _cohort_filter(
    commitment: Commitment,
    *,
    owner_id: int | None,
    candidate_lead_ids: Query | None,
    source: str | None = None,
) -> metric_sql.CohortFilter:
    sql, values, ids = _segment(commitment, candidate_lead_ids)
    return metric_sql.CohortFilter(
        owner_id=owner_id,
        source=source,
        segment_sql=sql,
        segment_params=values,
        segment_lead_ids=ids,
    )


def _candidates(period: Period, as_of: datetime) -> Query:
    return metric_sql.bind(
        f"SELECT f.lead_id FROM {metric_sql.FACT} f WHERE f.kind = 'mql'"  # noqa: S608 - table names and placeholders only; values are bound
        " AND f.mql_at >= %(start)s AND f.mql_at < %(end)s AND f.mql_at <= %(as_of)s",
        {"start": period.start, "end": period.end, "as_of": as_of},
    )


def _pipeline_candidates(period: Period, as_of: datetime) -> Query:
    quarter = period_for(PeriodKind.QUARTER, period.start, _zone_name(period))
    return metric_sql.pipeline_sql(
        first_day=quarter.first_day,
        last_day=quarter.last_day,
        as_of=as_of,
        cohort=metric_sql.CohortFilter(),
        columns="l.id",
    )


def _version_terms(
    kind: CommitmentKind, period: Period, as_of: datetime
) -> list[metric_sql.VersionTerm]:
    # Clock metrics need no segment: a clock exists only where the segment matched at MQL time.
    with_segments = kind.metric not in metric_sql.CLOCK_METRICS
    candidates = None
    terms = []
    for c in kind.commitments:
        params = c.params or {}
        sql, values, ids = "", (), None
        if with_segments and c.segment:
            if candidates is None:
                candidates = _candidates(period, as_of)
            sql, values, ids = _segment(c, candidates)
        terms.append(
            metric_sql.VersionTerm(
                version_id=c.version_id,
                commitment_id=c.pk,
                touches=int(params.get("touches", 1) or 1),
                days=int(params.get("days", 1) or 1),
                segment_sql=sql,
                segment_params=values,
                segment_lead_ids=ids,
            )
        )
    return terms


def _outcomes_query(
    kind: CommitmentKind,
    period: Period,
    as_of: datetime,
    owner_id: int | None,
    source: str | None = None,
) -> Query:
    return metric_sql.outcomes_sql(
        metric=kind.metric,
        terms=_version_terms(kind, period, as_of),
        period_start=period.start,
        period_end=period.end,
        as_of=as_of,
        cohort=metric_sql.CohortFilter(owner_id=owner_id, source=source),
    )


# Both SET LOCAL in one round trip (set_config's third argument: local to the transaction).
ANALYTICAL_SETTINGS = "SELECT set_config('jit', 'off', true), set_config('work_mem', '32MB', true)"


def _fetch(query: Query) -> list[tuple]:
    """Run one analytical read of the fact table. JIT compilation is switched off for it
    (``SET LOCAL``, so only inside this transaction): these short range scans cost less
    than compiling them (it took 296 of 638 ms of one month's plan, issue #13). Sorting a
    quarter's events for the percentiles fits in memory with ``work_mem`` at 32 MB (the
    default 4 MB spilled a month's to disk)."""
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(ANALYTICAL_SETTINGS)
        cursor.execute(query.sql, query.params)
        return cursor.fetchall()


def kind_result(
    *,
    kind: CommitmentKind,
    period: Period,
    as_of: datetime,
    owner_id: int | None = None,
    source: str | None = None,
    with_outcomes: bool = True,
) -> MetricResult:
    """One commitment kind's figure for the period as of ``as_of``, computed live in SQL.

    Each MQL event of the period is judged under the commitment of the version it belongs
    to (its clocks' version, else the one in force at its mql_at); the counts of every
    version are pooled and the targets weighted by kind_metrics.kind_result. ``owner_id`` and
    ``source`` restrict it to the leads that person owns, or that come from that source,
    now (pipeline coverage: the owner only; a quarter's coverage is its whole pipeline's).
    ``with_outcomes`` fills ``result.outcomes`` (MQL event id -> met/missed/pending)
    with one more query; the counts never depend on it. One aggregate query otherwise.
    """
    terms = kind_terms(kind, period)
    if kind.metric == Metric.PIPELINE_COVERAGE:
        return kind_metrics.kind_result(
            kind.metric,
            [kind_metrics.KindPart(t) for t in terms],
            period=period,
            as_of=as_of,
            # The quarter's coverage is the whole pipeline's, whatever the lead source.
            amount=_open_amount(kind.commitment, period, as_of, owner_id),
        )
    query = _outcomes_query(kind, period, as_of, owner_id, source)
    counts: dict[int, tuple[int, int, int]] = {}
    median = p90 = None
    for is_total, version_id, met, missed, pending, median_h, p90_h in _fetch(
        metric_sql.aggregate_sql(query)
    ):
        if is_total:
            median, p90 = median_h, p90_h
        else:
            counts[version_id] = (met, missed, pending)
    outcomes = None
    if with_outcomes and kind.metric != Metric.MQL_VOLUME:
        outcomes = {event: Outcome(o) for event, o in _fetch(metric_sql.event_outcomes_sql(query))}
    parts = [kind_metrics.KindPart(t, *counts.get(t.version_id, (0, 0, 0))) for t in terms]
    return kind_metrics.kind_result(
        kind.metric,
        parts,
        period=period,
        as_of=as_of,
        median_hours=median,
        p90_hours=p90,
        outcomes=outcomes,
    )


def kind_results(
    *,
    kinds: Sequence[CommitmentKind],
    period: Period,
    as_of: datetime,
    owner_id: int | None = None,
    source: str | None = None,
) -> dict[str, MetricResult]:
    """``kind_result`` (without outcomes) of several kinds of one period, by kind key: every
    kind measured on MQL events in one statement that reads the period's fact rows once
    (metric_sql.kinds_aggregate_sql); pipeline coverage, which reads the open pipeline,
    one query of its own."""
    results, _owners = _kind_results(
        kinds=kinds, period=period, as_of=as_of, owner_id=owner_id, source=source
    )
    return results


def _kind_results(
    *,
    kinds: Sequence[CommitmentKind],
    period: Period,
    as_of: datetime,
    owner_id: int | None = None,
    source: str | None = None,
    with_owner_counts: bool = False,
) -> tuple[dict[str, MetricResult], dict[str, dict[int | None, tuple[int, int, int]]]]:
    """kind_results, and with ``with_owner_counts`` each clock kind's (met, missed, pending)
    per owner from the same statement (by kind key)."""
    return periods_kind_results(
        periods=[(period, kinds)],
        as_of=as_of,
        owner_id=owner_id,
        source=source,
        with_owner_counts=with_owner_counts,
    )[0]


def periods_kind_results(
    *,
    periods: Sequence[tuple[Period, Sequence[CommitmentKind]]],
    as_of: datetime,
    owner_id: int | None = None,
    source: str | None = None,
    with_owner_counts: bool = False,
) -> list[tuple[dict[str, MetricResult], dict[str, dict[int | None, tuple[int, int, int]]]]]:
    """``_kind_results`` of several periods as of one instant (the sweep's open week, month
    and quarter, which overlap): every kind of every period measured on MQL events in one
    statement over the fact rows of the periods' union (metric_sql.periods_aggregate_sql);
    pipeline coverage, which reads the open pipeline, one query of its own per period."""
    answers: list[tuple[dict, dict]] = []
    measured: list[tuple[Period, list[CommitmentKind]]] = []
    for period, kinds in periods:
        results: dict[str, MetricResult] = {}
        for kind in kinds:
            if kind.metric == Metric.PIPELINE_COVERAGE:
                results[kind.key] = kind_result(
                    kind=kind, period=period, as_of=as_of, owner_id=owner_id, with_outcomes=False
                )
        answers.append((results, {}))
        measured.append((period, [k for k in kinds if k.metric != Metric.PIPELINE_COVERAGE]))
    asked = [(p, (period, kinds)) for p, (period, kinds) in enumerate(measured) if kinds]
    if not asked:
        return answers
    query = metric_sql.periods_aggregate_sql(
        periods=[
            metric_sql.PeriodKinds(
                period.start,
                period.end,
                tuple((k.key, k.metric, tuple(_version_terms(k, period, as_of))) for k in kinds),
                with_owner_counts,
            )
            for _p, (period, kinds) in asked
        ],
        as_of=as_of,
        cohort=metric_sql.CohortFilter(owner_id=owner_id, source=source),
    )
    Counts = dict[int, tuple[int, int, int]]
    counts: dict[tuple[int, int], Counts] = {}
    hours: dict[tuple[int, int], tuple[float | None, float | None]] = {}
    by_owner: dict[tuple[int, int], dict[int | None, tuple[int, int, int]]] = {}
    for row in _fetch(query):
        at, index, grouping, version_id, owner, met, missed, pending, median, p90 = row
        key = (at, index)
        if grouping == metric_sql.GROUPED_BY_VERSION:
            counts.setdefault(key, {})[version_id] = (met, missed, pending)
        elif grouping == metric_sql.GROUPED_BY_OWNER:
            by_owner.setdefault(key, {})[owner] = (met, missed, pending)
        else:
            hours[key] = (median, p90)
    for at, (p, (period, kinds)) in enumerate(asked):
        results, owners = answers[p]
        for index, kind in enumerate(kinds):
            key = (at, index)
            if with_owner_counts and kind.metric in metric_sql.CLOCK_METRICS:
                owners[kind.key] = by_owner.get(key, {})
            median, p90 = hours.get(key, (None, None))
            found = counts.get(key, {})
            results[kind.key] = kind_metrics.kind_result(
                kind.metric,
                [
                    kind_metrics.KindPart(t, *found.get(t.version_id, (0, 0, 0)))
                    for t in kind_terms(kind, period)
                ],
                period=period,
                as_of=as_of,
                median_hours=median,
                p90_hours=p90,
            )
    return answers


def commitment_result(
    *,
    commitment: Commitment,
    period: Period,
    as_of: datetime,
    owner_id: int | None = None,
    with_outcomes: bool = True,
) -> MetricResult:
    """The figure of the kind ``commitment`` belongs to in the period (``kind_result``)."""
    return kind_result(
        kind=kind_of(commitment=commitment, period=period),
        period=period,
        as_of=as_of,
        owner_id=owner_id,
        with_outcomes=with_outcomes,
    )


def commitment_owner_counts(
    *,
    kind: CommitmentKind,
    period: Period,
    as_of: datetime,
    owner_id: int | None = None,
    source: str | None = None,
) -> dict[int | None, tuple[int, int, int]]:
    """(met, missed, pending) of a clock kind per current owner of the leads (None:
    unassigned), over the same MQL events as kind_result counts: one query."""
    if kind.metric not in metric_sql.CLOCK_METRICS:
        raise ValueError(f"{kind.metric} is not measured by clocks")
    query = _outcomes_query(kind, period, as_of, owner_id, source)
    return {
        owner: (met, missed, pending)
        for owner, met, missed, pending in _fetch(metric_sql.owner_counts_sql(query))
    }


def first_contact_hour_bins(
    *,
    kind: CommitmentKind,
    period: Period,
    as_of: datetime,
    edges: Sequence[float],
    owner_id: int | None = None,
    source: str | None = None,
) -> tuple[list[int], float | None, float | None]:
    """Business hours from MQL to first contact of the contacted MQL events of a
    first-contact kind (each in its own version's calendar), counted per histogram bin of
    ``edges`` (metric_sql.hour_bins_sql), with their median and p90: the values behind the
    kind's median and p90, binned in the database rather than fetched (a quarter at 1M
    leads has ~100k of them)."""
    if kind.metric != Metric.FIRST_CONTACT_TIME:
        raise ValueError("hours are measured for first_contact_time only")
    query = metric_sql.first_contact_hours_sql(
        terms=_version_terms(kind, period, as_of),
        period_start=period.start,
        period_end=period.end,
        as_of=as_of,
        cohort=metric_sql.CohortFilter(owner_id=owner_id, source=source),
    )
    ((counts, median, p90),) = _fetch(metric_sql.hour_bins_sql(query, edges))
    return list(counts), median, p90


def _open_amount(
    commitment: Commitment,
    period: Period,
    as_of: datetime,
    owner_id: int | None,
    source: str | None = None,
) -> Decimal:
    """Open opportunity amount closing in the quarter of the period (the newest version's
    segment: opportunities are not MQL events and belong to no version)."""
    quarter = period_for(PeriodKind.QUARTER, period.start, _zone_name(period))
    cohort = _cohort_filter(
        commitment,
        owner_id=owner_id,
        source=source,
        candidate_lead_ids=_pipeline_candidates(period, as_of),
    )
    query = metric_sql.pipeline_sql(
        first_day=quarter.first_day,
        last_day=quarter.last_day,
        as_of=as_of,
        cohort=cohort,
        columns="COALESCE(sum(l.amount), 0)",
    )
    (amount,) = _fetch(query)[0]
    return Decimal(amount)


# --- every commitment kind of a period ---------------------------------------------------------


def snapshot_result(snapshot: ComplianceSnapshot, *, metric: str) -> MetricResult:
    """A stored snapshot as the MetricResult it recorded (without per-event outcomes)."""
    return MetricResult(
        metric=Metric(metric),
        value=snapshot.value,
        numerator=snapshot.numerator,
        denominator=snapshot.denominator,
        target=snapshot.target,
        yellow_threshold=snapshot.yellow_threshold,
        status=Status(snapshot.status),
        pending=snapshot.pending,
        effective_target=snapshot.effective_target,
        median_hours=snapshot.median_hours,
        p90_hours=snapshot.p90_hours,
        outcomes=MappingProxyType({}),
        versions=tuple(snapshot.versions or ()),
    )


def snapshot_owner_counts(
    snapshot: ComplianceSnapshot,
) -> dict[int | None, tuple[int, int, int]] | None:
    """The per-owner counts a snapshot stored (None when it stored none)."""
    if snapshot.owner_counts is None:
        return None
    return {
        owner: (int(met), int(missed), int(pending))
        for owner, met, missed, pending in snapshot.owner_counts
    }


def _kinds_for(
    period: Period,
    *,
    kinds: Iterable[CommitmentKind] | None,
    commitments: Iterable[Commitment] | None,
    review_period: str | None,
    as_of: datetime,
) -> list[CommitmentKind]:
    if kinds is not None:
        return list(kinds)
    if commitments is None:
        return commitment_kinds(period=period, review_period=review_period, as_of=as_of)
    catalog = signed_commitments()
    found: dict[str, CommitmentKind] = {}
    for commitment in commitments:
        kind = kind_of(commitment=commitment, period=period, catalog=catalog, as_of=as_of)
        found.setdefault(kind.key, kind)
    return list(found.values())


def compliance_for_period(
    *,
    period: Period,
    as_of: datetime | None = None,
    owner_id: int | None = None,
    source: str | None = None,
    with_outcomes: bool = True,
    kinds: Iterable[CommitmentKind] | None = None,
    commitments: Iterable[Commitment] | None = None,
    review_period: str | None = None,
    fresh_since: datetime | None = None,
    with_owner_counts: bool = False,
) -> list[CommitmentResult]:
    """One figure per commitment kind in force during ``period``, in the newest version's
    order: ``kinds`` given, the kinds of ``commitments``, or every kind (only those reviewed
    per ``review_period`` when given).

    With ``as_of`` the numbers are computed live. Without it, an organization-wide
    request (no owner, no source, no outcomes) reads the snapshots the sweep keeps (the
    frozen one of a closed period, the latest of an open one) and computes live only what
    has none; the numbers are the same either way for the snapshot's as_of. With
    ``fresh_since`` an unfrozen snapshot older than that is not used (computed live), and
    one at least as new stands for ``as_of`` too ("now": the sweep's latest refresh).
    ``with_owner_counts`` fills the live clock kinds' ``owner_counts`` from their aggregate
    query (the sweep stores them with an open period's snapshots).
    """
    moment = as_of or default_as_of(period)
    items = _kinds_for(
        period, kinds=kinds, commitments=commitments, review_period=review_period, as_of=moment
    )
    if not items:
        return []
    snapshots: dict[str, ComplianceSnapshot] = {}
    organization_wide = owner_id is None and source is None and not with_outcomes
    if organization_wide and (as_of is None or fresh_since is not None):
        stored = ComplianceSnapshot.objects.filter(
            kind__in=[k.key for k in items],
            period_kind=period.kind,
            period_start=period.first_day,
        )
        if fresh_since is not None:
            stored = stored.filter(Q(frozen=True) | Q(as_of__gte=fresh_since))
        snapshots = {s.kind: s for s in stored}
    moment = as_of or default_as_of(period)
    live: dict[str, MetricResult] = {}
    owners: dict[str, dict[int | None, tuple[int, int, int]]] = {}
    if not with_outcomes:
        live, owners = _kind_results(
            kinds=[k for k in items if k.key not in snapshots],
            period=period,
            as_of=moment,
            owner_id=owner_id,
            source=source,
            with_owner_counts=with_owner_counts,
        )
    results = []
    for kind in items:
        snapshot = snapshots.get(kind.key)
        if snapshot is not None:
            results.append(
                CommitmentResult(
                    kind=kind,
                    period=period,
                    as_of=snapshot.as_of,
                    result=snapshot_result(snapshot, metric=kind.metric),
                    source="snapshot",
                    frozen=snapshot.frozen,
                    owner_counts=snapshot_owner_counts(snapshot),
                )
            )
            continue
        result = live.get(kind.key) or kind_result(
            kind=kind,
            period=period,
            as_of=moment,
            owner_id=owner_id,
            source=source,
            with_outcomes=with_outcomes,
        )
        results.append(
            CommitmentResult(
                kind=kind,
                period=period,
                as_of=moment,
                result=result,
                owner_counts=owners.get(kind.key),
            )
        )
    return results


def compliance_for_periods(
    *,
    periods: Sequence[tuple[Period, Sequence[CommitmentKind]]],
    as_of: datetime,
    with_owner_counts: bool = False,
) -> list[list[CommitmentResult]]:
    """compliance_for_period, live and organization-wide without outcomes, of several
    periods as of one instant: one statement for all of them (periods_kind_results). The
    sweep's open week, month and quarter."""
    answers = periods_kind_results(
        periods=periods, as_of=as_of, with_owner_counts=with_owner_counts
    )
    return [
        [
            CommitmentResult(
                kind=kind,
                period=period,
                as_of=as_of,
                result=results[kind.key],
                owner_counts=owners.get(kind.key),
            )
            for kind in kinds
        ]
        for (period, kinds), (results, owners) in zip(periods, answers, strict=True)
    ]


_PERIOD_ORDER = {PeriodKind.WEEK: 0, PeriodKind.MONTH: 1, PeriodKind.QUARTER: 2}
_JUST_BEFORE = timedelta(microseconds=1)


def judged_period(commitment: Commitment, period: Period, *, moment: datetime) -> Period:
    """The period a commitment is shown for when ``period`` is picked: its own review period
    containing ``moment`` when that is longer (a monthly commitment, when a week is picked,
    for the month containing the week; pipeline coverage always for its quarter), else the
    picked period itself (a weekly commitment's rate over a month; its volume target scaled)."""
    own = PeriodKind(commitment.review_period)
    if commitment.metric == Metric.PIPELINE_COVERAGE:
        own = PeriodKind.QUARTER
    if _PERIOD_ORDER[own] <= _PERIOD_ORDER[period.kind]:
        return period
    return period_for(own, moment, _zone_name(period))


def compliance_in_review_periods(
    *,
    period: Period,
    as_of: datetime | None = None,
    owner_id: int | None = None,
    source: str | None = None,
    with_outcomes: bool = False,
    kinds: Sequence[CommitmentKind] | None = None,
    catalog: Sequence[Commitment] | None = None,
    fresh_since: datetime | None = None,
    with_owner_counts: bool = False,
) -> list[CommitmentResult]:
    """Every kind in force during the picked ``period``, each over ``judged_period`` (so every
    figure of a monthly commitment uses the month when a week is picked), in the newest
    version's order. ``as_of`` None: now for open periods, and a closed period's numbers
    from its frozen snapshot; with ``fresh_since`` an open period's latest snapshot not
    older than that stands for ``as_of`` (organization-wide, compliance_for_period); an ``as_of`` at or after a period's end also reads its
    snapshot (organization-wide). One engine call per distinct period (at most three);
    ``with_owner_counts``: see compliance_for_period."""
    catalog = signed_commitments() if catalog is None else catalog
    moment = min(as_of or timezone.now(), period.end - _JUST_BEFORE)
    if kinds is None:
        kinds = commitment_kinds(period=period, catalog=catalog, as_of=as_of)
    kinds = list(kinds)
    groups: dict[Period, list[CommitmentKind]] = {}
    for kind in kinds:
        own = judged_period(kind.commitment, period, moment=moment)
        if own != period:
            # The kind in its own, longer period: the versions in force during that one.
            kind = kind_of(commitment=kind.commitment, period=own, catalog=catalog, as_of=as_of)
        groups.setdefault(own, []).append(kind)
    found: dict[str, CommitmentResult] = {}
    for own, group in groups.items():
        at = None if as_of is None else min(as_of, own.end)
        for item in compliance_for_period(
            period=own,
            as_of=None if at is not None and at >= own.end else at,
            owner_id=owner_id,
            source=source,
            with_outcomes=with_outcomes,
            kinds=group,
            fresh_since=fresh_since,
            with_owner_counts=with_owner_counts,
        ):
            found[item.kind.key] = item
    return [found[k.key] for k in kinds if k.key in found]


def compliance_history(
    *,
    commitment: Commitment,
    kind: str,
    count: int,
    as_of: datetime | None = None,
    owner_id: int | None = None,
    source: str | None = None,
    catalog: Sequence[Commitment] | None = None,
    tz: str | None = None,
    fresh_since: datetime | None = None,
) -> list[tuple[Period, MetricResult]]:
    """The figure of ``commitment``'s kind over the last ``count`` periods of ``kind`` (week,
    month, quarter) up to the one containing as_of, oldest first (for sparklines and trends):
    each period over the versions in force during it. Organization-wide, closed periods come
    from their frozen snapshots (computed live, as of their end, when missing); the open one
    from the sweep's latest snapshot when ``fresh_since`` is given and it is not older, else
    live, as is any period for one owner or source. One snapshot query (plus the
    ``catalog`` of signed commitments and the zone, when not given)."""
    if count < 1:
        return []
    as_of = as_of or timezone.now()
    tz = tz or organization_timezone(now=as_of)
    periods = [period_for(PeriodKind(kind), as_of, tz)]
    for _ in range(count - 1):
        periods.append(previous(periods[-1]))
    periods.reverse()
    catalog = signed_commitments() if catalog is None else catalog
    kinds = {p: kind_of(commitment=commitment, period=p, catalog=catalog) for p in periods}
    frozen = {}
    if owner_id is None and source is None:
        usable = Q(frozen=True)
        if fresh_since is not None:
            # The open period's latest refresh (a period still open at as_of).
            usable |= Q(
                period_start=periods[-1].first_day, ends_at__gt=as_of, as_of__gte=fresh_since
            )
        frozen = {
            s.period_start: s
            for s in ComplianceSnapshot.objects.filter(
                usable,
                kind=kinds[periods[-1]].key,
                period_kind=kind,
                period_start__in=[p.first_day for p in periods],
            )
        }
    history = []
    for period in periods:
        snapshot = frozen.get(period.first_day)
        if snapshot is not None:
            history.append((period, snapshot_result(snapshot, metric=commitment.metric)))
            continue
        history.append(
            (
                period,
                kind_result(
                    kind=kinds[period],
                    period=period,
                    as_of=min(as_of, period.end),
                    owner_id=owner_id,
                    source=source,
                    with_outcomes=False,
                ),
            )
        )
    return history


# --- pipeline at risk: the organization's own win-rate gap ------------------------------


@dataclass(frozen=True)
class WinRates:
    """Won MQLs (distinct leads) whose first-contact clock was met / breached, over the 12
    months before ``as_of``, and the average amount won then (cents rounded)."""

    as_of: datetime
    in_sla_won: int
    in_sla_total: int
    out_sla_won: int
    out_sla_total: int
    average_won_amount: Decimal | None


WIN_RATE_DAYS = 365


def first_contact_win_rates(
    *, as_of: datetime, owner_id: int | None = None, source: str | None = None
) -> WinRates:
    """The pipeline-at-risk inputs, live: first-contact clocks started in the 12 months
    before ``as_of`` and settled (met or breached), the won share of their leads by state,
    and the average won amount of the deals closed then; restricted to the leads one owner
    owns or one source brought, now. Two queries.

    The restriction reads each clock's MQL event's fact row, whose owner and source are the
    lead's now (the hand-off pipeline keeps them current, as the engine's filters read them):
    a hashed set of the fact table's rows of that owner or source, not of every lead of it —
    a source of a 1M-lead organization is most of the leads table (0.35 -> 0.13 s)."""
    since = as_of - timedelta(days=WIN_RATE_DAYS)
    leads = Lead.objects.all()
    if owner_id is not None:
        leads = leads.filter(owner_id=owner_id)
    if source is not None:
        leads = leads.filter(source=source)
    clocks = SlaClock.objects.filter(
        kind=ClockKind.FIRST_CONTACT,
        started_at__gte=since,
        started_at__lte=as_of,
        state__in=[ClockState.MET, ClockState.BREACHED],
    )
    if owner_id is not None or source is not None:
        facts = MqlEventFact.objects.order_by()
        if owner_id is not None:
            facts = facts.filter(owner_id=owner_id)
        if source is not None:
            facts = facts.filter(source=source)
        clocks = clocks.filter(mql_event_id__in=facts.values("event_id"))
    # Won: the clock's lead among the won leads (a hashed subquery on the stage index),
    # not a join of a year's clocks with every lead (0.5 s at 1M leads).
    won_leads = Lead.objects.filter(stage=Stage.WON).values("id")
    rows = (
        clocks.order_by()
        .values("state")
        .annotate(
            total=Count("lead_id", distinct=True),
            won=Count("lead_id", distinct=True, filter=Q(lead_id__in=won_leads)),
        )
    )
    by_state = {row["state"]: (row["won"], row["total"]) for row in rows}
    average = leads.filter(
        stage=Stage.WON, closed_at__gte=since, closed_at__lte=as_of, amount__isnull=False
    ).aggregate(avg=Avg("amount"))["avg"]
    in_won, in_total = by_state.get(ClockState.MET, (0, 0))
    out_won, out_total = by_state.get(ClockState.BREACHED, (0, 0))
    return WinRates(
        as_of=as_of,
        in_sla_won=in_won,
        in_sla_total=in_total,
        out_sla_won=out_won,
        out_sla_total=out_total,
        average_won_amount=Decimal(average).quantize(Decimal("0.01"))
        if average is not None
        else None,
    )


def win_rates_stored(*, fresh_since: datetime) -> WinRates | None:
    """The organization's win rates the sweep stored, when stored at or after
    ``fresh_since``; None otherwise. One query."""
    row = WinRateSnapshot.objects.filter(as_of__gte=fresh_since).order_by("-as_of").first()
    if row is None:
        return None
    return WinRates(
        as_of=row.as_of,
        in_sla_won=row.in_sla_won,
        in_sla_total=row.in_sla_total,
        out_sla_won=row.out_sla_won,
        out_sla_total=row.out_sla_total,
        average_won_amount=row.average_won_amount,
    )


# --- drill-down ------------------------------------------------------------------------


def commitment_leads(
    *,
    commitment: Commitment,
    period: Period,
    outcome: str,
    as_of: datetime | None = None,
    owner_id: int | None = None,
) -> QuerySet[Lead]:
    """The leads behind one number: met, missed or pending ("all": every measured lead) for
    the kind ``commitment`` belongs to in the period (every version's events).

    mql_volume lists its cohort as "met"; pipeline_coverage the open opportunities it
    sums as "met". Clock metrics annotate ``clock_due_at`` and ``clock_met_at`` (the
    lead's latest clock of the kind started in the period). The queryset is lazy (one
    query, the lead ids come from a subquery), for pagination.
    """
    wanted = None if outcome == "all" else Outcome(outcome)
    moment = as_of or default_as_of(period)
    kind = kind_of(commitment=commitment, period=period)
    if kind.metric == Metric.PIPELINE_COVERAGE:
        if wanted not in (None, Outcome.MET):
            return Lead.objects.none()
        quarter = period_for(PeriodKind.QUARTER, period.start, _zone_name(period))
        cohort = _cohort_filter(
            kind.commitment,
            owner_id=owner_id,
            candidate_lead_ids=_pipeline_candidates(period, moment),
        )
        ids = metric_sql.pipeline_sql(
            first_day=quarter.first_day,
            last_day=quarter.last_day,
            as_of=moment,
            cohort=cohort,
            columns="l.id",
        )
    else:
        ids = metric_sql.lead_ids_sql(
            _outcomes_query(kind, period, moment, owner_id),
            None if wanted is None else wanted.value,
        )
    leads = (
        Lead.objects.filter(pk__in=RawSQL(ids.sql, ids.params))  # noqa: S611 - built by metric_sql with bound parameters
        .select_related("owner")
        .order_by("-mql_at", "-id")
    )
    if kind.metric in metric_sql.CLOCK_METRICS:
        clock = SlaClock.objects.filter(
            lead=OuterRef("pk"),
            commitment__in=[c.pk for c in kind.commitments],
            started_at__gte=period.start,
            started_at__lt=period.end,
        ).order_by("-started_at")
        leads = leads.annotate(
            clock_due_at=Subquery(clock.values("due_at")[:1]),
            clock_met_at=Subquery(clock.values("met_at")[:1]),
        )
    return leads


# --- alerts and notifications --------------------------------------------------------------


def alert_settings() -> AlertSettings:
    """The organization's alert settings row (an unsaved default when none exists yet)."""
    return AlertSettings.objects.filter(pk=1).first() or AlertSettings(pk=1)


def notification_list(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(recipient=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def notification_unread_count(*, user) -> int:
    """The bell's number: one indexed count (partial index on unread rows)."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def webhook_attempt_list() -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.select_related("delivery", "delivery__alert").order_by(
        "-attempted_at", "-id"
    )


def results_with_scope(
    results: Sequence[CommitmentResult], scope: ComplianceScope
) -> list[CommitmentResult]:
    """The results a scope admits (marketers' teams, reps' rate metrics)."""
    return [r for r in results if scope.admits(r.commitment)]
