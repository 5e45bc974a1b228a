"""The SQL selectors compute exactly what the reference functions of metrics.py compute.

A generator writes a messy month of a New York organization around a change of daylight
saving time (its end on 1 November 2026, its start on 14 March 2027), split shifts and US
holidays under v1, a new SLA version v2 taking effect mid-month with other targets,
parameters, calendar and commitments (one kind only v1 has, one only v2 has, a volume
segment that changes), pending clocks, late touches, touches and dispositions before
mql_at, leads returned to nurture and qualified again (two MQL events whose facts, SQL
stage included, must not mix), MQLs re-dated by a late, older fact (first qualified later,
then moved earlier by the SLA's own clocks_redate: across the version change their clocks
are re-keyed to the version in force at the new mql_at), MQLs whose clocks keep the older
version though they qualified after the change (a version signed back-dated), leads
without clocks, segment misses, opportunities open and closed. For the month, weeks on
either side of the change and several as_of moments, every commitment kind's SQL figure
must equal kind_metrics.score_kind over the same facts: each event judged under its own
version, targets weighted by the time each version was in force. Fixed seeds, and
Hypothesis-drawn months, version changes and leads.
"""

import math
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.compliance import kind_metrics, kind_selectors, metric_sql, metrics, selectors
from apps.compliance.facts import facts_rebuild
from apps.compliance.metrics import MqlFacts, OpportunityFacts
from apps.compliance.models import MqlEventFact
from apps.compliance.periods import PeriodKind, period_for, period_starting
from apps.leads.models import Lead
from apps.mql.models import MqlEvent
from apps.sla.business_time import BUSINESS, between
from apps.sla.clocks import clocks_redate
from apps.sla.models import SlaClock, SlaContract
from apps.sla.snapshots import calendar_from_json
from tests.compliance import factories as f

TZ = "America/New_York"
NEW_YORK = ZoneInfo(TZ)
MONTH = period_starting(PeriodKind.MONTH, date(2026, 11, 1), TZ)
# The week of 26 Oct holds the end of US daylight saving time (Sunday 1 November).
DST_WEEK = period_starting(PeriodKind.WEEK, date(2026, 10, 26), TZ)
# US daylight saving time starts on Sunday 14 March 2027: inside the month this time.
MARCH = period_starting(PeriodKind.MONTH, date(2027, 3, 1), TZ)
MARCH_DST_WEEK = period_starting(PeriodKind.WEEK, date(2027, 3, 8), TZ)
# (month, the week holding its change of daylight saving time)
MONTHS = ((MONTH, DST_WEEK), (MARCH, MARCH_DST_WEEK))
SPLIT_WEEK = [[["08:30", "12:00"], ["13:00", "17:30"]]] * 5 + [[["10:00", "14:00"]], []]
NINE_TO_FIVE = [[["09:00", "17:00"]]] * 5 + [[], []]

SOURCE_IS_WEBINAR = [{"field": "source", "op": "equals", "value": "Webinar"}]
# No exact SQL form: goes through FieldCondition.holds in Python.
TIER_GOLD_OR_SILVER = [{"field": "properties.tier", "op": "in", "value": ["gold", "silver"]}]


def _rate(team, metric, target, yellow, review="month", **params):
    return {
        "owner_team": team,
        "metric": metric,
        "params": params,
        "target": target,
        "yellow_threshold": yellow,
        "review_period": review,
    }


V1_COMMITMENTS = [
    _rate("sales", "first_contact_time", 0.8, 0.6, "week", hours=4, clock="business"),
    _rate("sales", "first_contact_time", 0.9, 0.7, "week", hours=2, clock="calendar"),
    _rate("sales", "follow_up_cadence", 0.7, 0.5, touches=3, days=5),
    _rate("marketing", "mql_to_sql_rate", 0.3, 0.2),
    _rate("sales", "rejection_reason_coverage", 0.95, 0.8),  # v2 drops it
    {**_rate("marketing", "mql_volume", 150, 120), "segment": SOURCE_IS_WEBINAR},
    {**_rate("marketing", "mql_volume", 20, 10), "segment": TIER_GOLD_OR_SILVER},
    _rate("sales", "pipeline_coverage", 3.0, 2.0, "quarter", revenue_target=250000),
]
V2_COMMITMENTS = [
    _rate("sales", "first_contact_time", 0.85, 0.7, "week", hours=3, clock="business"),
    _rate("sales", "first_contact_time", 0.95, 0.8, "week", hours=1, clock="calendar"),
    _rate("sales", "follow_up_cadence", 0.75, 0.6, touches=2, days=3),
    _rate("sales", "disposition_time", 0.9, 0.8, hours=48, clock="calendar"),  # new in v2
    _rate("marketing", "mql_to_sql_rate", 0.35, 0.25),
    _rate("marketing", "mql_volume", 210, 150),  # no segment any more
    _rate("sales", "pipeline_coverage", 3.0, 2.5, "quarter", revenue_target=400000),
]


def _moment(rng, low: datetime, high: datetime) -> datetime:
    seconds = (high - low).total_seconds()
    return (low + timedelta(seconds=round(rng.uniform(0, seconds)))).astimezone(UTC)


def _versions(change: datetime):
    contract = SlaContract.objects.create(name="Handoff SLA")
    v1 = f.signed_version(
        effective_at=datetime(2026, 1, 1, tzinfo=UTC),
        commitments=V1_COMMITMENTS,
        calendar=f.snapshot(TZ, week=SPLIT_WEEK, holiday_country="US"),
        contract=contract,
    )
    v2 = f.signed_version(
        effective_at=change,
        commitments=V2_COMMITMENTS,
        calendar=f.snapshot(TZ, week=NINE_TO_FIVE, holiday_country="US"),
        contract=contract,
        number=2,
    )
    v1.refresh_from_db()
    return v1, v2


def _in_force(versions, at: datetime):
    return next(
        v
        for v in versions
        if v.effective_at <= at and (v.superseded_at is None or v.superseded_at > at)
    )


def _generate(
    rng: random.Random, versions, reps, *, leads: int = 45, month=MONTH, dst_week=DST_WEEK
):
    """Leads with facts; returns what the reference needs: events and per-lead facts.
    The first lead lives twice, once under each version; the second is re-dated."""
    v1, v2 = versions
    reasons = [f.reason_code("rejected"), f.reason_code("nurture")]
    low = min(dst_week.start, month.start - timedelta(days=3))
    high = month.end + timedelta(days=2)
    events = []
    facts = {}
    for index in range(leads):
        lead = f.lead(
            source=rng.choice(["webinar", "WEBINAR ", "paid_search", ""]),
            owner=rng.choice(reps),
            properties={"tier": rng.choice(["gold", "silver", "bronze"])}
            if rng.random() < 0.7
            else {},
        )
        first = _moment(rng, low, high)
        lives = [first]
        if index == 0:
            change = v2.effective_at
            first = _moment(rng, change - timedelta(days=4), change - timedelta(hours=1))
            lives = [first, _moment(rng, change + timedelta(hours=1), change + timedelta(days=5))]
        elif rng.random() < 0.3:  # returned to nurture, qualified again later
            lives.append(_moment(rng, first + timedelta(hours=2), first + timedelta(days=9)))
        touches = sorted(
            _moment(rng, first - timedelta(days=1), lives[-1] + timedelta(days=6))
            for _ in range(rng.choice([0, 0, 1, 2, 3, 4, 6]))
        )
        for at in touches:
            f.touch(lead=lead, at=at)
        dispositions = []
        for number in range(rng.choice([0, 1, 1, 2, 3])):
            at = _moment(rng, first - timedelta(hours=12), lives[-1] + timedelta(days=4))
            outcome = rng.choice(["accepted", "rejected", "rejected", "nurture", "working"])
            if number == 0 and len(lives) > 1:  # the return to nurture between the two lives
                at = _moment(rng, first, lives[1])
                outcome = "nurture"
            reason = None
            if outcome in {"rejected", "nurture"} and rng.random() < 0.7:
                reason = reasons[0] if outcome == "rejected" else reasons[1]
            d = f.disposition(lead=lead, at=at, outcome=outcome, reason=reason)
            dispositions.append((d.pk, at, outcome, reason is not None))
        dispositions.sort(key=lambda d: d[0])  # the selectors break ties by id
        sql_times = []
        for mql_at in lives:
            if rng.random() < 0.35:
                sql_times.append(
                    _moment(rng, mql_at - timedelta(days=1), mql_at + timedelta(days=6))
                )
        for at in sql_times:
            f.stage_change(lead=lead, to_stage="sql", at=at)
        if sql_times:  # the lead's sql_at is its first time in SQL
            Lead.objects.filter(pk=lead.pk).update(sql_at=min(sql_times))
        for life, mql_at in enumerate(lives):
            if life == len(lives) - 1 and (index == 1 or rng.random() < 0.15):
                # First qualified later, then a late, older fact re-dated it to mql_at (the
                # lead's current MQL only; never before its return to nurture).
                events.append(_redated(rng, lead, mql_at, versions))
                continue
            event = f.mql_event(lead=lead, at=mql_at)
            version = _in_force(versions, mql_at)
            shape = rng.random() if index else 1.0
            if shape < 0.1:
                clock_version = None  # no clock at all (e.g. imported before any SLA)
            elif shape < 0.2 and version == v2:
                clock_version = v1  # v2 signed back-dated: its clocks kept v1's terms
            else:
                clock_version = version
            if clock_version is not None:
                for commitment in clock_version.commitments.all():
                    # some MQLs fell outside the commitment's segment: no clock
                    if commitment.metric in f.KIND_BY_METRIC and rng.random() < 0.9:
                        f.clock(event=event, commitment=commitment)
            events.append(event)
        facts[lead.pk] = {
            "touches": tuple(touches),
            "dispositions": tuple((at, outcome, has) for _, at, outcome, has in dispositions),
            "sql_times": tuple(sorted(sql_times)),
            "source": lead.source,
            "tier": lead.properties.get("tier"),
        }
        if rng.random() < 0.3:
            opened = _moment(rng, low - timedelta(days=40), high)
            closed = (
                _moment(rng, opened, opened + timedelta(days=60)) if rng.random() < 0.4 else None
            )
            Lead.objects.filter(pk=lead.pk).update(
                opportunity_at=opened,
                closed_at=closed,
                stage="opportunity" if closed is None else rng.choice(["won", "lost"]),
                amount=Decimal(rng.randrange(1000, 90000)),
                expected_close=rng.choice(
                    [month.last_day, date(2026, 12, 31), date(2027, 1, 1), None]
                ),
            )
    return events, facts


def _redated(rng: random.Random, lead, mql_at: datetime, versions):
    """An MQL event opened (clocks included) up to four days after mql_at under the version in
    force then, and re-dated to mql_at as the MQL engine does: qualified_at moved, then the
    SLA's clocks.clocks_redate restarts its clocks under the version in force at mql_at."""
    first_seen = mql_at + timedelta(hours=rng.uniform(1, 96))
    event = f.mql_event(lead=lead, at=first_seen)
    for commitment in _in_force(versions, first_seen).commitments.all():
        if commitment.metric in f.KIND_BY_METRIC:
            f.clock(event=event, commitment=commitment)
    MqlEvent.objects.filter(pk=event.pk).update(
        qualified_at=mql_at, explanation={"redated_from": first_seen.isoformat()}
    )
    Lead.objects.filter(pk=lead.pk).update(mql_at=mql_at)
    event.refresh_from_db()
    clocks_redate(mql_events=[event], now=first_seen + timedelta(days=30))
    return event


# --- the reference side ------------------------------------------------------------------


def _segment_holds(segment, lead_facts) -> bool:
    if not segment:
        return True
    if segment[0]["field"] == "source":
        return lead_facts["source"].strip().lower() == "webinar"
    return lead_facts["tier"] in {"gold", "silver"}


def _event_versions(events, versions):
    """The version each event is judged under: its clocks', else the one in force at mql_at."""
    by_pk = {v.pk: v for v in versions}
    clocked = dict(
        SlaClock.objects.filter(mql_event__in=events)
        .order_by("mql_event_id", "-id")
        .values_list("mql_event_id", "sla_version_id")
    )
    return {
        e.pk: by_pk[clocked[e.pk]] if e.pk in clocked else _in_force(versions, e.qualified_at)
        for e in events
    }


def _next_event(events):
    lives = defaultdict(list)
    for e in events:
        lives[e.lead_id].append(e)
    following = {}
    for own in lives.values():
        own.sort(key=lambda e: (e.qualified_at, e.pk))
        for index, e in enumerate(own):
            following[e.pk] = own[index + 1].qualified_at if index + 1 < len(own) else None
    return following


def _facts(event, lead_facts, commitment, due, next_at, as_of) -> MqlFacts:
    sql_at = next((t for t in lead_facts["sql_times"] if t >= event.qualified_at), None)
    facts = MqlFacts(
        lead_id=event.lead_id,
        event_id=event.pk,
        mql_at=event.qualified_at,
        next_mql_at=next_at,
        sql_at=sql_at,
        touches=lead_facts["touches"],
        dispositions=lead_facts["dispositions"],
        first_contact_due=due if commitment.metric == "first_contact_time" else None,
        disposition_due=due if commitment.metric == "disposition_time" else None,
    )
    contact = metrics.first_contact_at(facts, as_of)
    if contact is not None:
        calendar = calendar_from_json(commitment.version.calendar_snapshot, mode=BUSINESS)
        seconds = between(calendar, facts.mql_at, contact).total_seconds()
        facts = MqlFacts(**{**facts.__dict__, "first_contact_business_seconds": seconds})
    return facts


def _opportunities():
    return [
        OpportunityFacts(
            lead_id=lead.pk,
            amount=lead.amount,
            expected_close=lead.expected_close,
            opportunity_at=lead.opportunity_at,
            closed_at=lead.closed_at,
        )
        for lead in Lead.objects.filter(opportunity_at__isnull=False)
    ]


def _reference(kind, period, as_of, *, events, facts, versions):
    judged = _event_versions(events, versions)
    following = _next_event(events)
    clocks = {
        (c.mql_event_id, c.commitment_id): c.due_at
        for c in SlaClock.objects.filter(mql_event__in=events)
    }
    cohorts = []
    for commitment, terms in zip(
        kind.commitments, kind_selectors.kind_terms(kind, period), strict=True
    ):
        own = []
        for e in events:
            if not period.contains(e.qualified_at) or judged[e.pk].pk != commitment.version_id:
                continue
            lead_facts = facts[e.lead_id]
            if commitment.metric in f.KIND_BY_METRIC:
                if (e.pk, commitment.pk) not in clocks:
                    continue
            elif not _segment_holds(commitment.segment, lead_facts):
                continue
            due = clocks.get((e.pk, commitment.pk))
            own.append(_facts(e, lead_facts, commitment, due, following[e.pk], as_of))
        cohorts.append((terms, own))
    return kind_metrics.score_kind(
        kind.metric,
        cohorts,
        period=period,
        as_of=as_of,
        opportunities=_opportunities() if kind.metric == "pipeline_coverage" else (),
    )


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def _checks(change: datetime, month=MONTH, dst_week=DST_WEEK) -> list[tuple]:
    """(period, as_of) pairs: the month and weeks around the change, at awkward moments."""
    change_week = period_for(PeriodKind.WEEK, change, TZ)
    return [
        (month, month.start + timedelta(days=1, hours=11)),  # before the change: v1 only so far
        (month, change + timedelta(days=3, hours=5)),  # both versions, pending clocks
        (month, month.end),  # the frozen snapshot's moment
        (month, month.end + timedelta(days=20)),
        (dst_week, dst_week.end),
        (dst_week, dst_week.start + timedelta(days=6, hours=10)),  # Sunday, after the change
        (change_week, change + timedelta(hours=30)),
        (change_week, change_week.end + timedelta(days=3)),
        (month, month.start - timedelta(hours=1)),  # nothing known yet: every rate grey
    ]


def _assert_agreement(events, facts, versions, change, month=MONTH, dst_week=DST_WEEK) -> int:
    checked = 0
    for period, as_of in _checks(change, month, dst_week):
        kinds = kind_selectors.commitment_kinds(period=period, as_of=as_of)
        # Every kind of the period in one statement (what compliance_for_period runs without
        # outcomes), checked against the same reference as the per-kind query.
        batched = selectors.kind_results(kinds=kinds, period=period, as_of=as_of)
        for kind, sql in [
            (k, r)
            for k in kinds
            for r in (selectors.kind_result(kind=k, period=period, as_of=as_of), batched[k.key])
        ]:
            expected = _reference(
                kind, period, as_of, events=events, facts=facts, versions=versions
            )
            context = f"{kind.key} over {period.label} as of {as_of}"
            assert _same(sql.value, expected.value), (context, sql.value, expected.value)
            assert (sql.numerator, sql.denominator, sql.pending) == pytest.approx(
                (expected.numerator, expected.denominator, expected.pending)
            ), context
            assert sql.status is expected.status, context
            assert _same(sql.target, expected.target), context
            assert _same(sql.yellow_threshold, expected.yellow_threshold), context
            assert _same(sql.effective_target, expected.effective_target), context
            assert _same(sql.median_hours, expected.median_hours), (context, sql, expected)
            assert _same(sql.p90_hours, expected.p90_hours), (context, sql, expected)
            assert sql.versions == expected.versions, context
            if (
                kind.metric not in {"mql_volume", "pipeline_coverage"}
                and sql is not batched[kind.key]
            ):
                assert dict(sql.outcomes) == dict(expected.outcomes), context
            checked += 1
    return checked


def _world(rng, make_user, change, leads=45, month=MONTH, dst_week=DST_WEEK):
    versions = _versions(change)
    reps = [make_user("rep"), make_user("rep"), None]
    events, facts = _generate(rng, versions, reps, leads=leads, month=month, dst_week=dst_week)
    # The generator writes raw rows (and re-dates with queryset updates), not through the
    # hand-off pipeline: the fact table the SQL reads is rebuilt from them, as
    # ``manage.py facts_rebuild`` does (tests/compliance/test_facts.py proves that equals the
    # pipeline's incremental upkeep).
    facts_rebuild(now=month.end + timedelta(days=60))
    assert MqlEventFact.objects.filter(kind="mql").count() == len(events)
    return versions, events, facts


def _spans(events, versions) -> tuple[bool, bool]:
    """Whether some lead has two MQL events, and whether events are judged under both versions."""
    per_lead = defaultdict(int)
    for e in events:
        per_lead[e.lead_id] += 1
    judged = {v.pk for v in _event_versions(events, versions).values()}
    return max(per_lead.values()) > 1, judged == {v.pk for v in versions}


# The change of issue #18: v2 in force from Monday 16 November, 00:00 in New York.
CHANGE = datetime(2026, 11, 16, tzinfo=NEW_YORK).astimezone(UTC)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_selectors_agree_with_the_reference_over_a_month_under_two_versions(
    acme, make_user, seed
):
    versions, events, facts = _world(random.Random(seed), make_user, CHANGE)
    assert {len(k.commitments) for k in kind_selectors.commitment_kinds(period=MONTH)} == {1, 2}
    assert _spans(events, versions) == (True, True)
    assert any((e.explanation or {}).get("redated_from") for e in events)
    checked = _assert_agreement(events, facts, versions, CHANGE)
    assert checked > 80


def test_every_kind_in_one_statement_equals_each_kind_alone_for_an_owner_and_a_source(
    acme, make_user, django_assert_max_num_queries
):
    _world(random.Random(4), make_user, CHANGE)
    rep = Lead.objects.exclude(owner=None).values_list("owner_id", flat=True).first()
    for owner_id, source in ((rep, None), (None, "Webinar"), (rep, "Webinar")):
        kinds = kind_selectors.commitment_kinds(period=MONTH, as_of=MONTH.end)
        with django_assert_max_num_queries(12):
            batched = selectors.kind_results(
                kinds=kinds, period=MONTH, as_of=MONTH.end, owner_id=owner_id, source=source
            )
        assert set(batched) == {k.key for k in kinds}
        for kind in kinds:
            alone = selectors.kind_result(
                kind=kind,
                period=MONTH,
                as_of=MONTH.end,
                owner_id=owner_id,
                source=source,
                with_outcomes=False,
            )
            assert batched[kind.key] == alone, (kind.key, owner_id, source)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    rng=st.randoms(use_true_random=False),
    months=st.sampled_from(MONTHS),
    change_hours=st.integers(min_value=2 * 24, max_value=27 * 24),
    leads=st.integers(min_value=5, max_value=30),
)
def test_sql_selectors_agree_with_the_reference_on_drawn_months(
    acme, make_user, rng, months, change_hours, leads
):
    # Any hour of the month in New York (the version change need not be at midnight).
    month, dst_week = months
    change = (month.start + timedelta(hours=change_hours)).astimezone(UTC)
    with transaction.atomic():
        versions, events, facts = _world(
            rng, make_user, change, leads=leads, month=month, dst_week=dst_week
        )
        assert _spans(events, versions) == (True, True)
        _assert_agreement(events, facts, versions, change, month, dst_week)
        transaction.set_rollback(True)


def test_a_period_under_two_versions_gives_each_kind_once(acme, make_user):
    _world(random.Random(7), make_user, CHANGE)
    results = selectors.compliance_for_period(period=MONTH, as_of=MONTH.end, with_outcomes=False)

    keys = [r.kind.key for r in results]
    assert len(keys) == len(set(keys))
    assert set(keys) == {
        "sales.first_contact_time",
        "sales.first_contact_time.2",
        "sales.follow_up_cadence",
        "sales.disposition_time",
        "marketing.mql_to_sql_rate",
        "marketing.mql_volume",
        "marketing.mql_volume.2",
        "sales.rejection_reason_coverage",
        "sales.pipeline_coverage",
    }
    by_key = {r.kind.key: r for r in results}
    assert by_key["sales.first_contact_time"].result.versions == (1, 2)
    assert by_key["sales.rejection_reason_coverage"].result.versions in {(1,), (1, 2)}
    # Only weekly kinds for a week, only monthly ones for the month.
    weekly = kind_selectors.commitment_kinds(period=MONTH, review_period="week")
    assert {k.key for k in weekly} == {"sales.first_contact_time", "sales.first_contact_time.2"}


def test_cohort_edges_empty_periods_and_grey(acme):
    f.signed_version(
        effective_at=datetime(2026, 1, 1, tzinfo=UTC),
        commitments=V1_COMMITMENTS,
        calendar=f.snapshot(TZ),
    )
    empty_week = period_starting(PeriodKind.WEEK, date(2026, 3, 2), TZ)
    for kind in kind_selectors.commitment_kinds(period=empty_week):
        result = selectors.kind_result(kind=kind, period=empty_week, as_of=empty_week.end)
        if kind.metric == "mql_volume":
            assert (result.value, result.status) == (0.0, metrics.Status.RED)
        elif kind.metric == "pipeline_coverage":
            assert result.value == 0.0
        else:
            assert result.value is None
            assert result.status is metrics.Status.GREY
            assert result.denominator == 0
        assert result.versions == (1,)


@pytest.mark.parametrize("seed", [5, 6])
def test_the_sweeps_week_month_and_quarter_in_one_statement_equal_each_period_alone(
    acme, make_user, django_assert_max_num_queries, seed
):
    """The sweep's open periods (overlapping: the change week, its month and quarter, and a
    week that straddles the month's start) as of one moment, measured together in one
    statement, give each period the figures and per-owner counts it gets alone — also where
    a period's events include one judged under a version not in force during it."""
    _world(random.Random(seed), make_user, CHANGE)
    for as_of in (CHANGE + timedelta(days=3, hours=5), MONTH.end - timedelta(hours=2)):
        periods = [
            period_for(PeriodKind.WEEK, as_of, TZ),
            period_for(PeriodKind.MONTH, as_of, TZ),
            period_for(PeriodKind.QUARTER, as_of, TZ),
            period_for(PeriodKind.WEEK, MONTH.start, TZ),
        ]
        asked = [(p, kind_selectors.commitment_kinds(period=p, as_of=as_of)) for p in periods]
        # One statement for every MQL kind of the four periods; pipeline coverage reads the
        # open pipeline once per period; each read after its JIT setting; savepoints.
        with django_assert_max_num_queries(2 + 2 * len(periods) + 3):
            together = selectors.periods_kind_results(
                periods=asked, as_of=as_of, with_owner_counts=True
            )
        measured = 0
        for (period, kinds), (results, owners) in zip(asked, together, strict=True):
            alone, alone_owners = selectors._kind_results(
                kinds=kinds, period=period, as_of=as_of, with_owner_counts=True
            )
            assert results == alone, (period.label, as_of)
            assert owners == alone_owners, (period.label, as_of)
            measured += sum(r.denominator or 0 for r in results.values())
        assert measured > 0
        assert any(len(counts) > 1 for _r, o in together for counts in o.values())


def test_the_first_contact_hours_alone_equal_the_outcome_rows_hours(acme, make_user):
    """metric_sql.first_contact_hours_sql (the histogram's read) gives the hours of exactly
    the outcome rows that have hours, for a sole commitment and for a version's second
    first-contact commitment (its clock looked up), at moments with touches not yet known."""
    _world(random.Random(7), make_user, CHANGE)
    kinds = [
        k for k in kind_selectors.commitment_kinds(period=MONTH) if k.metric == "first_contact_time"
    ]
    assert len(kinds) == 2
    compared = 0
    for kind in kinds:
        for as_of in (CHANGE + timedelta(days=2), MONTH.end):
            terms = selectors._version_terms(kind, MONTH, as_of)
            cohort = metric_sql.CohortFilter()
            alone = metric_sql.first_contact_hours_sql(
                terms=terms,
                period_start=MONTH.start,
                period_end=MONTH.end,
                as_of=as_of,
                cohort=cohort,
            )
            rows = metric_sql.outcomes_sql(
                metric=kind.metric,
                terms=terms,
                period_start=MONTH.start,
                period_end=MONTH.end,
                as_of=as_of,
                cohort=cohort,
            )
            with connection.cursor() as cursor:
                cursor.execute(alone.sql, alone.params)
                hours = sorted(h for (h,) in cursor.fetchall())
                cursor.execute(f"SELECT o.hours FROM ({rows.sql}) o", rows.params)  # noqa: S608 - generated SQL
                expected = sorted(h for (h,) in cursor.fetchall() if h is not None)
            assert hours == expected, (kind.key, as_of)
            compared += len(hours)
    assert compared > 20
