"""The chart numbers as the dashboards computed them before the charts read the per-MQL-event
fact table: the same cohort straight from the raw rows (MqlEvent, each event's window found
by a subquery, its conversion and first touch looked up per event). The agreement tests
compare the fact-table GROUP BYs (apps/dashboards/selectors.py) with these, number for
number. Only the numbers: labels and drill-down links are the selectors' own. The same for
the pipeline at risk's win rates of one owner or source, and the funnel."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from django.db.models import Count, F, Func, IntegerField, Value

from apps.compliance.metrics import RESPONSE_BUCKETS
from apps.compliance.periods import Period
from apps.compliance.selectors import WIN_RATE_DAYS
from apps.dashboards import selectors
from apps.dashboards.scope import Scope
from apps.leads.models import Lead, Stage
from apps.sla.models import ClockKind, ClockState, SlaClock


def _events(scope: Scope, period: Period | None = None, *, windowed: bool = True):
    events = selectors._events(
        period or scope.period, scope.as_of, owner_id=scope.owner_id, source=scope.source
    )
    return selectors._windowed(events) if windowed else events


def per_period_counts(
    scope: Scope, periods: list[Period], *, converted: bool = True
) -> list[tuple[int, int]]:
    """(MQLs, converted) per period, each as of min(as_of, its end)."""
    found = []
    for period in periods:
        moment = min(scope.as_of, period.end)
        events = selectors._events(
            period, moment, owner_id=scope.owner_id, source=scope.source
        ).order_by()
        if not converted:
            found.append((events.count(), 0))
            continue
        windowed = selectors._windowed(events)
        found.append((windowed.count(), windowed.filter(selectors._converted(moment)).count()))
    return found


def mql_to_sql_by(scope: Scope, *, field: str) -> list[tuple[str, int, int]]:
    """(value, converted, MQLs) per source or campaign, largest first, the top ones."""
    rows = (
        _events(scope)
        .order_by()
        .values(f"lead__{field}")
        .annotate(n=Count("id"), sql=Count("id", filter=selectors._converted(scope.as_of)))
        .order_by("-n", f"lead__{field}")[: selectors.TOP_CATEGORIES]
    )
    return [(row[f"lead__{field}"], row["sql"], row["n"]) for row in rows]


def _response_index(as_of: datetime) -> Func:
    first = selectors._first_touch(as_of)
    seconds = Func(selectors._epoch(first - F("qualified_at")), Value(-1.0), function="COALESCE")
    bounds = (
        "ARRAY["
        + ",".join(["0"] + [f"{limit}" for limit, _ in selectors.RESPONSE_LIMITS])
        + "]::float8[]"
    )
    return Func(
        seconds, template=f"width_bucket(%(expressions)s, {bounds})", output_field=IntegerField()
    )


def speed_to_lead(scope: Scope) -> list[tuple[str, int, int]]:
    """(bucket, converted, MQLs) per first-contact bucket, in metrics.RESPONSE_BUCKETS order."""
    rows = (
        _events(scope)
        .annotate(response=_response_index(scope.as_of))
        .order_by()
        .values("response")
        .annotate(n=Count("id"), sql=Count("id", filter=selectors._converted(scope.as_of)))
    )
    labels = ("none", *(label for _, label in selectors.RESPONSE_LIMITS), "later")
    found = {labels[row["response"]]: (row["sql"], row["n"]) for row in rows}
    return [(bucket, *found.get(bucket, (0, 0))) for bucket in RESPONSE_BUCKETS]


def first_contact_win_rates(
    *, as_of: datetime, owner_id: int | None = None, source: str | None = None
) -> tuple[int, int, int, int]:
    """(in-SLA won, in-SLA, out-of-SLA won, out-of-SLA) distinct leads, as the pipeline at risk
    counted them before its filters read the fact table: settled first-contact clocks started
    in the 12 months before as_of, of the leads the owner owns or the source brought *now*,
    looked up lead by lead in Python."""
    since = as_of - timedelta(days=WIN_RATE_DAYS)
    leads = {lead.pk: lead for lead in Lead.objects.all()}
    found = {ClockState.MET: (set(), set()), ClockState.BREACHED: (set(), set())}
    clocks = SlaClock.objects.filter(
        kind=ClockKind.FIRST_CONTACT, state__in=[ClockState.MET, ClockState.BREACHED]
    )
    for clock in clocks:
        lead = leads[clock.lead_id]
        if not since <= clock.started_at <= as_of:
            continue
        if owner_id is not None and lead.owner_id != owner_id:
            continue
        if source is not None and lead.source != source:
            continue
        won, total = found[clock.state]
        total.add(lead.pk)
        if lead.stage == Stage.WON:
            won.add(lead.pk)
    (in_won, in_total), (out_won, out_total) = found[ClockState.MET], found[ClockState.BREACHED]
    return len(in_won), len(in_total), len(out_won), len(out_total)


def funnel(scope: Scope) -> list[tuple[str, int, float | None]]:
    """(stage, leads, median seconds in it before the next step) of the leads created in the
    period, lead by lead in Python: PostgreSQL's percentile_cont(0.5) is the median with
    linear interpolation, statistics.median's."""
    as_of = scope.as_of
    leads = [
        lead
        for lead in Lead.objects.all()
        if scope.period.start <= lead.created_at < scope.period.end
        and lead.created_at <= as_of
        and (scope.owner_id is None or lead.owner_id == scope.owner_id)
        and (scope.source is None or lead.source == scope.source)
    ]

    def by(moment):
        return moment is not None and moment <= as_of

    reached = {
        "Lead": lambda lead: True,
        "MQL": lambda lead: by(lead.mql_at),
        "SQL": lambda lead: by(lead.sql_at),
        "Opportunity": lambda lead: by(lead.opportunity_at),
        "Won": lambda lead: lead.stage == Stage.WON and by(lead.closed_at),
    }
    steps = {
        "Lead": ("mql_at", "created_at", reached["MQL"]),
        "MQL": ("sql_at", "mql_at", reached["SQL"]),
        "SQL": ("opportunity_at", "sql_at", reached["Opportunity"]),
        "Opportunity": (
            "closed_at",
            "opportunity_at",
            lambda lead: lead.stage in (Stage.WON, Stage.LOST) and by(lead.closed_at),
        ),
    }
    found = []
    for stage, is_there in reached.items():
        median = None
        if stage in steps:
            leaves, enters, took = steps[stage]
            spans = [
                (getattr(lead, leaves) - getattr(lead, enters)).total_seconds()
                for lead in leads
                # a missing instant makes a NULL span, which percentile_cont skips
                if took(lead) and getattr(lead, enters) is not None
            ]
            median = statistics.median(spans) if spans else None
        found.append((stage, sum(1 for lead in leads if is_there(lead)), median))
    return found


def rejection_reasons(scope: Scope) -> list[tuple[int | None, str | None, str, int]]:
    """(reason id, label, source, leads) of the period's rejections, joined with the leads
    themselves for their source and owner now, as the chart read them before."""
    dispositions = selectors._rejections(scope.period, scope.as_of)
    if scope.owner_id is not None:
        dispositions = dispositions.filter(lead__owner_id=scope.owner_id)
    if scope.source is not None:
        dispositions = dispositions.filter(lead__source=scope.source)
    rows = (
        dispositions.order_by()
        .values("reason_code_id", "reason_code__label", "lead__source")
        .annotate(n=Count("lead_id", distinct=True))
        .order_by("-n", "reason_code__label", "lead__source")
    )
    return [
        (row["reason_code_id"], row["reason_code__label"], row["lead__source"], row["n"])
        for row in rows
    ]
