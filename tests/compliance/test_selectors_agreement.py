"""The SQL selectors compute exactly what the reference functions of metrics.py compute.

A seeded generator writes a messy cohort (pending clocks, late contacts, touches and
dispositions before mql_at, re-qualified leads, leads without clocks, segment misses,
opportunities open and closed) in a DST week of a US timezone; for several as_of
moments every commitment's SQL result must equal the pure function over the same facts.
"""

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from apps.compliance import metrics
from apps.compliance.metrics import MqlFacts, OpportunityFacts
from apps.compliance.periods import PeriodKind, period_for, period_starting
from apps.compliance.selectors import commitment_result
from apps.sla.business_time import BUSINESS, between
from apps.sla.snapshots import calendar_from_json
from tests.compliance import factories as f

TZ = "America/New_York"
# The week of 26 Oct 2026 holds the end of US daylight saving time (Sunday 1 November).
WEEK = period_starting(PeriodKind.WEEK, date(2026, 10, 26), TZ)
SPLIT_WEEK = [[["08:30", "12:00"], ["13:00", "17:30"]]] * 5 + [[["10:00", "14:00"]], []]

COMMITMENTS = [
    f.FIRST_CONTACT_4H,
    {
        "owner_team": "sales",
        "metric": "first_contact_time",
        "params": {"hours": 2, "clock": "calendar"},
        "target": 0.9,
        "yellow_threshold": 0.7,
    },
    {
        "owner_team": "sales",
        "metric": "disposition_time",
        "params": {"hours": 48, "clock": "calendar"},
        "target": 0.9,
        "yellow_threshold": 0.8,
    },
    {
        "owner_team": "sales",
        "metric": "follow_up_cadence",
        "params": {"touches": 3, "days": 5},
        "target": 0.7,
        "yellow_threshold": 0.5,
    },
    {
        "owner_team": "marketing",
        "metric": "mql_to_sql_rate",
        "params": {},
        "target": 0.3,
        "yellow_threshold": 0.2,
    },
    {
        "owner_team": "sales",
        "metric": "rejection_reason_coverage",
        "params": {},
        "target": 0.95,
        "yellow_threshold": 0.8,
    },
    dict(f.MQL_VOLUME, target=40, yellow_threshold=30),
    dict(
        f.MQL_VOLUME,
        target=20,
        yellow_threshold=10,
        segment=[{"field": "source", "op": "equals", "value": "Webinar"}],
    ),
    dict(
        f.MQL_VOLUME,
        target=5,
        yellow_threshold=2,
        # no exact SQL form: goes through FieldCondition.holds in Python
        segment=[{"field": "properties.tier", "op": "in", "value": ["gold", "silver"]}],
    ),
    {
        "owner_team": "sales",
        "metric": "pipeline_coverage",
        "params": {"revenue_target": 250000},
        "target": 3.0,
        "yellow_threshold": 2.0,
        "review_period": "quarter",
    },
]


def _moment(rng, low: datetime, high: datetime) -> datetime:
    seconds = (high - low).total_seconds()
    return low + timedelta(seconds=round(rng.uniform(0, seconds)))


def _generate(rng: random.Random, version, reps):
    """Leads with facts; returns what the pure side needs to recompute the same numbers."""
    commitments = list(version.commitments.order_by("position"))
    clock_commitments = [c for c in commitments if c.metric in f.KIND_BY_METRIC]
    reasons = [f.reason_code("rejected"), f.reason_code("nurture")]
    events = []  # (event, lead facts dict)
    leads = {}
    start, end = WEEK.start.astimezone(UTC), WEEK.end.astimezone(UTC)
    for _ in range(70):
        lead = f.lead(
            source=rng.choice(["webinar", "WEBINAR ", "paid_search", ""]),
            owner=rng.choice(reps),
            properties={"tier": rng.choice(["gold", "silver", "bronze"])}
            if rng.random() < 0.7
            else {},
        )
        mql_at = _moment(rng, start - timedelta(days=1), end + timedelta(days=1))
        touches = sorted(
            _moment(rng, mql_at - timedelta(days=1), mql_at + timedelta(days=7))
            for _ in range(rng.choice([0, 0, 1, 2, 3, 4, 6]))
        )
        for at in touches:
            f.touch(lead=lead, at=at)
        dispositions = []
        for _ in range(rng.choice([0, 1, 1, 2])):
            at = _moment(rng, mql_at - timedelta(hours=12), mql_at + timedelta(days=4))
            outcome = rng.choice(["accepted", "rejected", "rejected", "nurture", "working"])
            reason = None
            if outcome in {"rejected", "nurture"} and rng.random() < 0.7:
                reason = reasons[0] if outcome == "rejected" else reasons[1]
            d = f.disposition(lead=lead, at=at, outcome=outcome, reason=reason)
            dispositions.append((d.pk, at, outcome, reason is not None))
        dispositions.sort(key=lambda d: d[0])  # the selectors break ties by id
        sql_at = None
        if rng.random() < 0.35:
            sql_at = _moment(rng, mql_at - timedelta(days=2), mql_at + timedelta(days=6))
            lead.sql_at = sql_at
            lead.save(update_fields=["sql_at"])
            f.stage_change(lead=lead, to_stage="sql", at=sql_at)
        mql_times = [mql_at]
        if rng.random() < 0.12:  # back from nurture, qualified again two days later
            mql_times.append(mql_at + timedelta(days=2))
        for at in mql_times:
            event = f.mql_event(lead=lead, at=at)
            for commitment in clock_commitments:
                if rng.random() < 0.9:  # some MQLs fell outside the commitment's segment
                    f.clock(event=event, commitment=commitment)
            events.append(event)
        leads[lead.pk] = {
            "touches": tuple(touches),
            "dispositions": tuple((at, outcome, has) for _, at, outcome, has in dispositions),
            "sql_at": sql_at,
            "source": lead.source,
            "tier": lead.properties.get("tier"),
        }
        if rng.random() < 0.3:
            opened = _moment(rng, start - timedelta(days=40), end + timedelta(days=3))
            closed = (
                _moment(rng, opened, opened + timedelta(days=60)) if rng.random() < 0.4 else None
            )
            stage = "opportunity" if closed is None else rng.choice(["won", "lost"])
            lead.opportunity_at = opened
            lead.closed_at = closed
            lead.stage = stage
            lead.amount = Decimal(rng.randrange(1000, 90000))
            lead.expected_close = rng.choice(
                [date(2026, 10, 30), date(2026, 12, 31), date(2027, 1, 1), date(2026, 9, 30), None]
            )
            lead.save()
    return events, leads


def _facts(event, lead_facts, clocks, commitment, calendar, as_of) -> MqlFacts:
    due = clocks.get((event.pk, commitment.pk))
    sql_at = lead_facts["sql_at"]
    if sql_at is not None and sql_at < event.qualified_at:
        sql_at = None  # converted in an earlier life of the lead
    facts = MqlFacts(
        lead_id=event.pk,
        mql_at=event.qualified_at,
        sql_at=sql_at,
        touches=lead_facts["touches"],
        dispositions=lead_facts["dispositions"],
        first_contact_due=due if commitment.metric == "first_contact_time" else None,
        disposition_due=due if commitment.metric == "disposition_time" else None,
    )
    contact = metrics.first_contact_at(facts, as_of)
    if contact is not None:
        seconds = between(calendar, facts.mql_at, contact).total_seconds()
        facts = MqlFacts(**{**facts.__dict__, "first_contact_business_seconds": seconds})
    return facts


def _reference(commitment, events, leads, clocks, calendar, as_of):
    metric = commitment.metric
    rate = {
        "as_of": as_of,
        "target": commitment.target,
        "yellow_threshold": commitment.yellow_threshold,
    }
    cohort_events = [e for e in events if WEEK.contains(e.qualified_at)]
    if metric in f.KIND_BY_METRIC:
        cohort_events = [e for e in cohort_events if (e.pk, commitment.pk) in clocks]
    if commitment.segment:
        condition = commitment.segment[0]
        if condition["field"] == "source":
            cohort_events = [
                e for e in cohort_events if leads[e.lead_id]["source"].strip().lower() == "webinar"
            ]
        else:
            cohort_events = [
                e for e in cohort_events if leads[e.lead_id]["tier"] in {"gold", "silver"}
            ]
    cohort = [
        _facts(e, leads[e.lead_id], clocks, commitment, calendar, as_of) for e in cohort_events
    ]
    if metric == "mql_volume":
        return metrics.mql_volume(cohort, period=WEEK, **rate)
    if metric == "mql_to_sql_rate":
        return metrics.mql_to_sql_rate(cohort, **rate)
    if metric == "first_contact_time":
        return metrics.first_contact_time(cohort, **rate)
    if metric == "disposition_time":
        return metrics.disposition_time(cohort, **rate)
    if metric == "follow_up_cadence":
        return metrics.follow_up_cadence(cohort, touches=3, days=5, **rate)
    if metric == "rejection_reason_coverage":
        return metrics.rejection_reason_coverage(cohort, **rate)
    raise AssertionError(metric)


def _pipeline_reference(commitment, as_of):
    from apps.leads.models import Lead

    opportunities = [
        OpportunityFacts(
            lead_id=lead.pk,
            amount=lead.amount,
            expected_close=lead.expected_close,
            opportunity_at=lead.opportunity_at,
            closed_at=lead.closed_at,
        )
        for lead in Lead.objects.filter(
            opportunity_at__isnull=False, external_id__startswith="c-lead-"
        )
    ]
    return metrics.pipeline_coverage(
        opportunities,
        quarter=period_for(PeriodKind.QUARTER, WEEK.start, TZ),
        as_of=as_of,
        revenue_target=Decimal(250000),
        target=commitment.target,
        yellow_threshold=commitment.yellow_threshold,
    )


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


AS_OFS = [
    WEEK.start + timedelta(days=2, hours=11),  # Wednesday morning: pending clocks, pro-rated volume
    WEEK.end,  # the frozen snapshot's moment
    WEEK.end + timedelta(days=3, hours=5),
    WEEK.end + timedelta(days=30),
    WEEK.start - timedelta(hours=1),  # nothing known yet: every rate grey
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_selectors_agree_with_the_reference_functions(acme, make_user, seed):
    rng = random.Random(seed)
    calendar_json = f.snapshot(TZ, week=SPLIT_WEEK, holiday_country="US")
    version = f.signed_version(
        effective_at=datetime(2026, 1, 1, tzinfo=UTC),
        commitments=COMMITMENTS,
        calendar=calendar_json,
    )
    reps = [make_user("rep"), make_user("rep"), None]
    events, leads = _generate(rng, version, reps)
    from apps.sla.models import SlaClock

    clocks = {
        (c.mql_event_id, c.commitment_id): c.due_at
        for c in SlaClock.objects.filter(sla_version=version)
    }
    calendar = calendar_from_json(calendar_json, mode=BUSINESS)
    checked = 0
    for commitment in version.commitments.order_by("position"):
        for as_of in AS_OFS:
            sql = commitment_result(commitment=commitment, period=WEEK, as_of=as_of)
            if commitment.metric == "pipeline_coverage":
                expected = _pipeline_reference(commitment, as_of)
            else:
                expected = _reference(commitment, events, leads, clocks, calendar, as_of)
            context = f"{commitment.metric} {commitment.params} {commitment.segment} as of {as_of}"
            assert _same(sql.value, expected.value), (context, sql.value, expected.value)
            assert (sql.numerator, sql.denominator, sql.pending) == pytest.approx(
                (expected.numerator, expected.denominator, expected.pending)
            ), context
            assert sql.status is expected.status, context
            assert _same(sql.effective_target, expected.effective_target), context
            assert _same(sql.median_hours, expected.median_hours), (context, sql, expected)
            assert _same(sql.p90_hours, expected.p90_hours), (context, sql, expected)
            if commitment.metric not in {"mql_volume", "pipeline_coverage"}:
                # Per-lead outcomes (keyed by lead, the reference's by event) for single-MQL leads.
                by_event = {e.pk: e.lead_id for e in events}
                per_lead = {}
                for event_id, outcome in expected.outcomes.items():
                    per_lead.setdefault(by_event[event_id], []).append(outcome)
                single = {lead: o[0] for lead, o in per_lead.items() if len(o) == 1}
                assert {k: v for k, v in sql.outcomes.items() if k in single} == single, context
            checked += 1
    assert checked == len(COMMITMENTS) * len(AS_OFS)


def test_cohort_edges_empty_periods_and_grey(acme):
    version = f.signed_version(
        effective_at=datetime(2026, 1, 1, tzinfo=UTC),
        commitments=COMMITMENTS,
        calendar=f.snapshot(TZ),
    )
    empty_week = period_starting(PeriodKind.WEEK, date(2026, 3, 2), TZ)
    for commitment in version.commitments.all():
        result = commitment_result(commitment=commitment, period=empty_week, as_of=empty_week.end)
        if commitment.metric == "mql_volume":
            assert (result.value, result.status) == (0.0, metrics.Status.RED)
        elif commitment.metric == "pipeline_coverage":
            assert result.value == 0.0
        else:
            assert result.value is None
            assert result.status is metrics.Status.GREY
            assert result.denominator == 0
