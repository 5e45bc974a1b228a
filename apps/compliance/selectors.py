"""Reads of the compliance engine: periods, metrics (set-based SQL), snapshots, drill-down, alerts.

The public API the API views, the pages and the dashboards build on:

    organization_timezone() -> str
    period_from(kind, start: date) -> Period                 (ValueError on a non-start day)
    commitments_in_force(*, period) -> QuerySet[Commitment]
    compliance_for_period(*, period, as_of=None, owner_id=None, with_outcomes=True,
                          commitments=None) -> list[CommitmentResult]
    commitment_result(*, commitment, period, as_of, owner_id=None, with_outcomes=True)
                          -> MetricResult
    compliance_history(*, commitment, kind, count, as_of=None) -> list[tuple[Period, MetricResult]]
    commitment_leads(*, commitment, period, outcome, as_of=None, owner_id=None) -> QuerySet[Lead]

Every number is the one metrics.py computes from the same facts (a test checks it
on generated data). ``as_of=None`` means "now" for an open period and the period's
end for a closed one, which is what the frozen snapshot of a closed period holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

from django.db import connection
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.accounts.roles import Role
from apps.compliance import metric_sql, metrics
from apps.compliance.metric_sql import Query
from apps.compliance.metrics import Metric, MetricResult, Outcome, Status
from apps.compliance.models import (
    AlertSettings,
    ComplianceSnapshot,
    Notification,
    WebhookAttempt,
)
from apps.compliance.periods import Period, PeriodKind, period_for, period_starting, previous
from apps.compliance.working_time import working_index
from apps.leads.models import Lead
from apps.mql.rules import lead_fields
from apps.sla import selectors as sla_selectors
from apps.sla.business_time import BUSINESS
from apps.sla.models import Commitment, SlaClock, SlaVersion, Team, VersionStatus
from apps.sla.segments import parse_segment, segment_matches
from apps.sla.selectors import calendar_for_version

SIGNED = (VersionStatus.ACTIVE, VersionStatus.SUPERSEDED)
# Metrics whose target is the whole organization's: a person's own share has no status.
TEAM_ONLY_METRICS = frozenset({Metric.MQL_VOLUME, Metric.PIPELINE_COVERAGE})


@dataclass(frozen=True)
class CommitmentResult:
    """One commitment's metric for one period as of one moment; ``source`` live or snapshot."""

    commitment: Commitment
    period: Period
    as_of: datetime
    result: MetricResult
    source: str = "live"
    frozen: bool = False


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


# --- one commitment, live ----------------------------------------------------------------


def _work_params(commitment: Commitment, period: Period, as_of: datetime) -> dict[str, list]:
    calendar = calendar_for_version(commitment.version, mode=BUSINESS)
    # Contacts are at most as late as as_of; a far-future as_of cannot hold facts
    # beyond "now", so the index stops a day after the later of now and the period end.
    last = max(period.start, min(as_of, max(timezone.now(), period.end))) + timedelta(days=1)
    return working_index(calendar, period.start, last).as_sql_params()


def _cohort_filter(
    commitment: Commitment,
    *,
    owner_id: int | None,
    candidate_lead_ids: Query | None,
    source: str | None = None,
) -> metric_sql.CohortFilter:
    conditions = parse_segment(commitment.segment)
    if not conditions:
        return metric_sql.CohortFilter(owner_id=owner_id, source=source)
    translated = metric_sql.segment_sql(conditions)
    if translated is not None:
        sql, values = translated
        return metric_sql.CohortFilter(
            owner_id=owner_id, source=source, segment_sql=sql, segment_params=values
        )
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
    return metric_sql.CohortFilter(owner_id=owner_id, source=source, segment_lead_ids=tuple(ids))


def _candidates(commitment: Commitment, period: Period, as_of: datetime) -> Query:
    if commitment.metric == Metric.PIPELINE_COVERAGE:
        quarter = period_for(PeriodKind.QUARTER, period.start, _zone_name(period))
        return metric_sql.pipeline_sql(
            first_day=quarter.first_day,
            last_day=quarter.last_day,
            as_of=as_of,
            cohort=metric_sql.CohortFilter(),
            columns="l.id",
        )
    return metric_sql.bind(
        f"SELECT e.lead_id FROM {metric_sql.EVENT} e WHERE e.kind = 'mql'"  # noqa: S608 - table names and placeholders only; values are bound
        " AND e.qualified_at >= %(start)s AND e.qualified_at < %(end)s AND e.qualified_at <= %(as_of)s",
        {"start": period.start, "end": period.end, "as_of": as_of},
    )


def _outcomes_query(
    commitment: Commitment,
    period: Period,
    as_of: datetime,
    owner_id: int | None,
    source: str | None = None,
) -> Query:
    cohort = _cohort_filter(
        commitment,
        owner_id=owner_id,
        source=source,
        candidate_lead_ids=None
        if commitment.metric in metric_sql.CLOCK_METRICS
        else _candidates(commitment, period, as_of),
    )
    return metric_sql.outcomes_sql(
        metric=commitment.metric,
        commitment_id=commitment.pk,
        params_json=commitment.params or {},
        period_start=period.start,
        period_end=period.end,
        as_of=as_of,
        cohort=cohort,
        work=_work_params(commitment, period, as_of)
        if commitment.metric == Metric.FIRST_CONTACT_TIME
        else None,
    )


def _fetch(query: Query) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        return cursor.fetchall()


def commitment_result(
    *,
    commitment: Commitment,
    period: Period,
    as_of: datetime,
    owner_id: int | None = None,
    with_outcomes: bool = True,
) -> MetricResult:
    """One commitment's metric for the period as of ``as_of``, computed live in SQL.

    ``owner_id`` restricts it to the leads that person owns now. ``with_outcomes``
    fills ``result.outcomes`` (lead id -> met/missed/pending; a lead's later MQL in
    the same period wins) with one more query; the counts never depend on it.
    """
    target, yellow = float(commitment.target), float(commitment.yellow_threshold)
    if commitment.metric == Metric.PIPELINE_COVERAGE:
        return _pipeline_result(commitment, period, as_of, owner_id)
    query = _outcomes_query(commitment, period, as_of, owner_id)
    met, missed, pending, median, p90 = _fetch(metric_sql.aggregate_sql(query))[0]
    outcomes = None
    if with_outcomes and commitment.metric != Metric.MQL_VOLUME:
        outcomes = {lead: Outcome(o) for lead, o in _fetch(metric_sql.lead_outcomes_sql(query))}
    if commitment.metric == Metric.MQL_VOLUME:
        return metrics.volume_result(
            met, period=period, as_of=as_of, target=target, yellow_threshold=yellow
        )
    return metrics.rate_result(
        commitment.metric,
        met=met,
        missed=missed,
        pending=pending,
        target=target,
        yellow_threshold=yellow,
        median_hours=median,
        p90_hours=p90,
        outcomes=outcomes,
    )


def commitment_owner_counts(
    *,
    commitment: Commitment,
    period: Period,
    as_of: datetime,
    owner_id: int | None = None,
    source: str | None = None,
) -> dict[int | None, tuple[int, int, int]]:
    """(met, missed, pending) of a clock commitment per current owner of the leads (None:
    unassigned), over the same MQL events as commitment_result counts: one query."""
    if commitment.metric not in metric_sql.CLOCK_METRICS:
        raise ValueError(f"{commitment.metric} is not measured by clocks")
    query = _outcomes_query(commitment, period, as_of, owner_id, source)
    return {
        owner: (met, missed, pending)
        for owner, met, missed, pending in _fetch(metric_sql.owner_counts_sql(query))
    }


def first_contact_hours(
    *,
    commitment: Commitment,
    period: Period,
    as_of: datetime,
    owner_id: int | None = None,
    source: str | None = None,
) -> list[float]:
    """Business hours from MQL to first contact of each contacted MQL event of a first-contact
    commitment (the values behind its median and p90), in the calendar of its version: one query."""
    if commitment.metric != Metric.FIRST_CONTACT_TIME:
        raise ValueError("hours are measured for first_contact_time only")
    query = _outcomes_query(commitment, period, as_of, owner_id, source)
    return [hours for (hours,) in _fetch(metric_sql.hours_sql(query))]


def _pipeline_result(
    commitment: Commitment, period: Period, as_of: datetime, owner_id: int | None
) -> MetricResult:
    quarter = period_for(PeriodKind.QUARTER, period.start, _zone_name(period))
    cohort = _cohort_filter(
        commitment, owner_id=owner_id, candidate_lead_ids=_candidates(commitment, period, as_of)
    )
    query = metric_sql.pipeline_sql(
        first_day=quarter.first_day,
        last_day=quarter.last_day,
        as_of=as_of,
        cohort=cohort,
        columns="COALESCE(sum(l.amount), 0)",
    )
    (amount,) = _fetch(query)[0]
    revenue = Decimal(str((commitment.params or {}).get("revenue_target", 0) or 0))
    return metrics.coverage_result(
        Decimal(amount),
        revenue_target=revenue,
        target=float(commitment.target),
        yellow_threshold=float(commitment.yellow_threshold),
    )


# --- every commitment of a period ---------------------------------------------------------


def snapshot_result(snapshot: ComplianceSnapshot, *, metric: str) -> MetricResult:
    """A stored snapshot as the MetricResult it recorded (without per-lead outcomes)."""
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
    )


def compliance_for_period(
    *,
    period: Period,
    as_of: datetime | None = None,
    owner_id: int | None = None,
    with_outcomes: bool = True,
    commitments: Iterable[Commitment] | None = None,
) -> list[CommitmentResult]:
    """Every commitment in force during ``period`` with its metric, in version and position order.

    With ``as_of`` the numbers are computed live. Without it, an organization-wide
    request (no owner, no outcomes) reads the snapshots the sweep keeps (the frozen
    one of a closed period, the latest of an open one) and computes live only what
    has none; the numbers are the same either way for the snapshot's as_of.
    """
    items = (
        list(commitments) if commitments is not None else list(commitments_in_force(period=period))
    )
    if not items:
        return []
    snapshots: dict[int, ComplianceSnapshot] = {}
    if as_of is None and owner_id is None and not with_outcomes:
        snapshots = {
            s.commitment_id: s
            for s in ComplianceSnapshot.objects.filter(
                commitment__in=items, period_kind=period.kind, period_start=period.first_day
            )
        }
    moment = as_of or default_as_of(period)
    results = []
    for commitment in items:
        snapshot = snapshots.get(commitment.pk)
        if snapshot is not None:
            results.append(
                CommitmentResult(
                    commitment=commitment,
                    period=period,
                    as_of=snapshot.as_of,
                    result=snapshot_result(snapshot, metric=commitment.metric),
                    source="snapshot",
                    frozen=snapshot.frozen,
                )
            )
            continue
        result = commitment_result(
            commitment=commitment,
            period=period,
            as_of=moment,
            owner_id=owner_id,
            with_outcomes=with_outcomes,
        )
        results.append(
            CommitmentResult(commitment=commitment, period=period, as_of=moment, result=result)
        )
    return results


def compliance_history(
    *, commitment: Commitment, kind: str, count: int, as_of: datetime | None = None
) -> list[tuple[Period, MetricResult]]:
    """The last ``count`` periods of ``kind`` up to the one containing as_of, oldest first
    (for sparklines). Closed periods come from their frozen snapshots (computed live, as of
    their end, when missing); the open one is computed live as of as_of. One snapshot query."""
    if count < 1:
        return []
    as_of = as_of or timezone.now()
    tz = organization_timezone(now=as_of)
    periods = [period_for(PeriodKind(kind), as_of, tz)]
    for _ in range(count - 1):
        periods.append(previous(periods[-1]))
    periods.reverse()
    frozen = {
        s.period_start: s
        for s in ComplianceSnapshot.objects.filter(
            commitment=commitment,
            period_kind=kind,
            frozen=True,
            period_start__in=[p.first_day for p in periods],
        )
    }
    history = []
    for period in periods:
        snapshot = frozen.get(period.first_day)
        if snapshot is not None:
            history.append((period, snapshot_result(snapshot, metric=commitment.metric)))
        else:
            history.append(
                (
                    period,
                    commitment_result(
                        commitment=commitment,
                        period=period,
                        as_of=min(as_of, period.end),
                        with_outcomes=False,
                    ),
                )
            )
    return history


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
    the commitment in the period.

    mql_volume lists its cohort as "met"; pipeline_coverage the open opportunities it
    sums as "met". Clock metrics annotate ``clock_due_at`` and ``clock_met_at``. The
    queryset is lazy (one query, the lead ids come from a subquery), for pagination.
    """
    wanted = None if outcome == "all" else Outcome(outcome)
    moment = as_of or default_as_of(period)
    if commitment.metric == Metric.PIPELINE_COVERAGE:
        if wanted not in (None, Outcome.MET):
            return Lead.objects.none()
        quarter = period_for(PeriodKind.QUARTER, period.start, _zone_name(period))
        cohort = _cohort_filter(
            commitment,
            owner_id=owner_id,
            candidate_lead_ids=_candidates(commitment, period, moment),
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
            _outcomes_query(commitment, period, moment, owner_id),
            None if wanted is None else wanted.value,
        )
    leads = (
        Lead.objects.filter(pk__in=RawSQL(ids.sql, ids.params))  # noqa: S611 - built by metric_sql with bound parameters
        .select_related("owner")
        .order_by("-mql_at", "-id")
    )
    if commitment.metric in metric_sql.CLOCK_METRICS:
        clock = SlaClock.objects.filter(
            lead=OuterRef("pk"),
            commitment=commitment,
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
