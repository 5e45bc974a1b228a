from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.compliance.metrics import (
    RESPONSE_BUCKETS,
    MetricResult,
    MqlFacts,
    OpportunityFacts,
    Outcome,
    Status,
    disposition_at,
    disposition_outcome,
    disposition_time,
    escalation_episodes,
    first_contact_at,
    first_contact_outcome,
    first_contact_time,
    follow_up_cadence,
    follow_up_outcome,
    mql_to_sql_rate,
    mql_volume,
    percentile,
    pipeline_coverage,
    rejection_reason_coverage,
    response_bucket,
    status_for,
)
from apps.compliance.periods import PeriodKind, period_for, period_starting
from apps.sla import business_time

# Generating cohorts takes a while on a busy CI machine: that is not what these test.
LOADED_MACHINE = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)

MET, MISSED, PENDING = Outcome.MET, Outcome.MISSED, Outcome.PENDING
GREEN, YELLOW, RED, GREY = Status.GREEN, Status.YELLOW, Status.RED, Status.GREY
RATE = {"target": 0.8, "yellow_threshold": 0.6}

# Monday 2026-11-16 09:00 UTC; every hand-made fact is an offset from it.
T0 = datetime(2026, 11, 16, 9, tzinfo=UTC)


def at(hours: float = 0, *, days: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, days=days)


def mql(lead_id: int = 1, *, mql_hours: float = 0, **facts) -> MqlFacts:
    return MqlFacts(lead_id=lead_id, mql_at=at(mql_hours), **facts)


def counts(result: MetricResult) -> tuple[float, float, int]:
    return result.numerator, result.denominator, result.pending


# --- status -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (1.0, GREEN),
        (0.8, GREEN),  # exactly the target is green
        (0.7999, YELLOW),
        (0.6, YELLOW),  # exactly the yellow threshold is yellow
        (0.5999, RED),
        (0.0, RED),
        (None, GREY),
    ],
)
def test_status_for_at_least_direction(value, status):
    assert status_for(value, target=0.8, yellow_threshold=0.6) is status


def test_status_for_ratio_computed_from_counts_meets_an_equal_target_exactly():
    assert status_for(4 / 5, target=0.8, yellow_threshold=0.6) is GREEN
    assert status_for(3 / 10, target=0.3, yellow_threshold=0.1) is GREEN
    assert status_for(3.0, target=3, yellow_threshold=2) is GREEN


# --- per-lead facts ---------------------------------------------------------------------


def test_first_contact_at_is_the_earliest_touch_known_since_mql_at():
    f = mql(mql_hours=0, touches=(at(5), at(-1), at(2), at(3)))

    assert first_contact_at(f, at(10)) == at(2)  # -1 h is before mql_at: ignored
    assert first_contact_at(f, at(2)) == at(2)  # a touch at exactly as_of is known
    assert first_contact_at(f, at(1.99)) is None
    assert first_contact_at(mql(touches=(at(0),)), at(0)) == at(0)  # at mql_at counts


def test_first_contact_at_compares_instants_not_wall_times_inside_a_dst_fold():
    london = ZoneInfo("Europe/London")
    # 01:30 BST (fold=0) is 00:30 UTC, an hour before 01:10 GMT (fold=1) = 01:10 UTC.
    mql_at = datetime(2026, 10, 25, 1, 30, tzinfo=london)
    touch = datetime(2026, 10, 25, 1, 10, tzinfo=london, fold=1)
    f = MqlFacts(lead_id=1, mql_at=mql_at, touches=(touch,))

    # (compared in UTC: Python never finds a fold=1 time equal to another zone's time)
    assert first_contact_at(f, datetime(2026, 10, 25, 2, tzinfo=UTC)) == touch.astimezone(UTC)


def test_disposition_at_is_the_first_final_disposition_since_mql_at():
    f = mql(
        dispositions=(
            (at(-5), "rejected", True),  # an earlier life of the lead
            (at(1), "working", False),  # not final
            (at(6), "accepted", False),
            (at(4), "nurture", True),
        )
    )

    assert disposition_at(f, at(10)) == at(4)
    assert disposition_at(f, at(3)) is None
    assert disposition_at(mql(), at(10)) is None


def test_facts_reject_unknown_outcomes_and_naive_datetimes():
    with pytest.raises(ValueError, match="unknown disposition outcome 'won'"):
        mql(dispositions=((at(1), "won", False),))
    with pytest.raises(ValueError, match="aware"):
        MqlFacts(lead_id=1, mql_at=datetime(2026, 11, 16, 9))
    with pytest.raises(ValueError, match="aware"):
        mql(touches=(datetime(2026, 11, 16, 9),))


# --- mql_volume -----------------------------------------------------------------------

WEEK = period_starting(PeriodKind.WEEK, date(2026, 11, 16), "UTC")


def week_cohort(n: int) -> list[MqlFacts]:
    return [mql(i, mql_hours=i) for i in range(n)]  # Monday 09:00, 10:00, ...


def test_mql_volume_pro_rates_the_target_mid_week():
    wednesday_noon = datetime(2026, 11, 18, 12, tzinfo=UTC)

    result = mql_volume(
        week_cohort(30), period=WEEK, as_of=wednesday_noon, target=70, yellow_threshold=56
    )

    assert result.metric == "mql_volume"
    assert result.effective_target == pytest.approx(70 * 2.5 / 7)  # 25
    assert result.value == 30
    assert result.numerator == 30
    assert result.denominator == pytest.approx(25)
    assert result.target == 70
    assert result.yellow_threshold == 56
    assert result.status is GREEN


@pytest.mark.parametrize(
    ("count", "status"),
    [(25, GREEN), (24, YELLOW), (20, YELLOW), (19, RED), (0, RED)],
)
def test_mql_volume_pro_rates_the_yellow_threshold_too(count, status):
    wednesday_noon = datetime(2026, 11, 18, 12, tzinfo=UTC)

    result = mql_volume(
        week_cohort(count), period=WEEK, as_of=wednesday_noon, target=70, yellow_threshold=56
    )

    # 2.5/7 of 70 is 25 and of 56 is 20.
    assert result.status is status


def test_mql_volume_ignores_mqls_after_as_of():
    result = mql_volume(week_cohort(30), period=WEEK, as_of=at(9.5), target=70, yellow_threshold=56)

    assert result.value == 10  # 09:00 .. 18:00 Monday


def test_mql_volume_of_a_closed_period_uses_the_full_target():
    result = mql_volume(
        week_cohort(60), period=WEEK, as_of=at(days=30), target=70, yellow_threshold=56
    )

    assert result.effective_target == 70
    assert result.denominator == 70
    assert result.status is YELLOW


def test_mql_volume_with_no_mqls_against_a_target_is_red_not_grey():
    result = mql_volume([], period=WEEK, as_of=at(days=30), target=70, yellow_threshold=56)

    assert result.value == 0
    assert result.status is RED


@pytest.mark.parametrize(
    "as_of",
    [datetime(2026, 11, 15, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC)],
)
def test_mql_volume_before_the_period_starts_is_grey(as_of):
    result = mql_volume([], period=WEEK, as_of=as_of, target=70, yellow_threshold=56)

    assert result.effective_target == 0
    assert result.status is GREY


def test_mql_volume_pro_rates_by_real_hours_in_a_dst_week():
    week = period_for(PeriodKind.WEEK, date(2026, 10, 19), "Europe/London")  # 169 h
    wednesday_noon = datetime(2026, 10, 21, 12, tzinfo=ZoneInfo("Europe/London"))

    result = mql_volume([], period=week, as_of=wednesday_noon, target=169, yellow_threshold=0)

    assert result.effective_target == pytest.approx(60)


# --- mql_to_sql_rate ------------------------------------------------------------------


def sql_cohort() -> list[MqlFacts]:
    return [
        mql(1, sql_at=at(2)),
        mql(2, sql_at=at(30)),
        mql(3),
        mql(4, mql_hours=10, sql_at=at(12)),
    ]


@pytest.mark.parametrize(
    ("as_of_hours", "numerator", "denominator", "value", "status"),
    [
        (1, 0, 3, 0.0, RED),  # lead 4 is not an MQL yet
        (2, 1, 3, 1 / 3, RED),
        (12, 2, 4, 0.5, RED),
        (30, 3, 4, 0.75, YELLOW),
    ],
)
def test_mql_to_sql_rate_as_of(as_of_hours, numerator, denominator, value, status):
    result = mql_to_sql_rate(sql_cohort(), as_of=at(as_of_hours), **RATE)

    assert counts(result) == (numerator, denominator, 0)
    assert result.value == pytest.approx(value)
    assert result.status is status


def test_mql_to_sql_rate_outcomes_list_converted_and_not_converted():
    result = mql_to_sql_rate(sql_cohort(), as_of=at(12), **RATE)

    assert dict(result.outcomes) == {1: MET, 2: MISSED, 3: MISSED, 4: MET}


@pytest.mark.parametrize(
    "metric",
    [mql_to_sql_rate, first_contact_time, disposition_time, rejection_reason_coverage],
)
def test_rate_metrics_on_an_empty_cohort_are_grey_with_no_value(metric):
    result = metric([], as_of=at(0), **RATE)

    assert result.value is None
    assert result.status is GREY
    assert counts(result) == (0, 0, 0)
    assert result.target == 0.8
    assert result.effective_target == 0.8


def test_rate_metrics_drop_mqls_not_yet_known():
    result = mql_to_sql_rate([mql(1, mql_hours=5, sql_at=at(6))], as_of=at(4), **RATE)

    assert result.value is None
    assert result.status is GREY


def test_an_event_twice_in_a_cohort_is_an_error():
    with pytest.raises(ValueError, match=r"MQL event 1 \(lead 1\) appears twice"):
        mql_to_sql_rate([mql(1), mql(1, mql_hours=2)], as_of=at(4), **RATE)
    with pytest.raises(ValueError, match=r"MQL event 7 \(lead 1\) appears twice"):
        mql_to_sql_rate([mql(1, event_id=7), mql(1, event_id=7)], as_of=at(4), **RATE)


# --- first_contact_time -------------------------------------------------------------------


def contact_cohort() -> list[MqlFacts]:
    due = {"first_contact_due": at(4)}
    return [
        mql(1, touches=(at(1),), first_contact_business_seconds=3600, **due),  # met
        mql(2, touches=(at(4),), first_contact_business_seconds=4 * 3600, **due),  # met at due
        mql(3, touches=(at(6),), first_contact_business_seconds=6 * 3600, **due),  # late
        mql(4, **due),  # never contacted
        mql(5, touches=(at(-2), at(7)), first_contact_business_seconds=7 * 3600, **due),
        mql(6, touches=(at(1),)),  # no clock for this commitment
    ]


@pytest.mark.parametrize(
    ("as_of_hours", "outcomes", "pending"),
    [
        (0.5, {1: PENDING, 2: PENDING, 3: PENDING, 4: PENDING, 5: PENDING}, 5),
        (1, {1: MET, 2: PENDING, 3: PENDING, 4: PENDING, 5: PENDING}, 4),
        (4, {1: MET, 2: MET, 3: PENDING, 4: PENDING, 5: PENDING}, 3),  # due == as_of: pending
        (5, {1: MET, 2: MET, 3: MISSED, 4: MISSED, 5: MISSED}, 0),
        (8, {1: MET, 2: MET, 3: MISSED, 4: MISSED, 5: MISSED}, 0),
    ],
)
def test_first_contact_outcomes_as_of(as_of_hours, outcomes, pending):
    result = first_contact_time(contact_cohort(), as_of=at(as_of_hours), **RATE)

    assert dict(result.outcomes) == outcomes
    assert result.pending == pending
    met = sum(o is MET for o in outcomes.values())
    missed = sum(o is MISSED for o in outcomes.values())
    assert (result.numerator, result.denominator) == (met, met + missed)


def test_first_contact_time_value_status_and_business_hour_percentiles():
    result = first_contact_time(contact_cohort(), as_of=at(8), **RATE)

    assert result.metric == "first_contact_time"
    assert result.value == pytest.approx(2 / 5)
    assert result.status is RED
    # Contacted by as_of with a clock: 1, 4, 6, 7 business hours (the touch before
    # mql_at of lead 5 is ignored, its 7 h come from the touch at +7 h).
    assert result.median_hours == pytest.approx(5.0)
    assert result.p90_hours == pytest.approx(6.7)


def test_first_contact_time_percentiles_only_use_contacts_known_at_as_of():
    result = first_contact_time(contact_cohort(), as_of=at(5), **RATE)

    assert result.median_hours == pytest.approx(
        2.5
    )  # 1 and 4 h; lead 3's touch at +6 h is not known yet
    assert first_contact_time(contact_cohort(), as_of=at(0.5), **RATE).median_hours is None


def test_first_contact_time_all_pending_is_grey():
    result = first_contact_time(contact_cohort(), as_of=at(0.5), **RATE)

    assert result.value is None
    assert result.status is GREY
    assert result.pending == 5


def test_touches_before_mql_at_do_not_meet_the_clock():
    f = mql(touches=(at(-1),), first_contact_due=at(4))

    assert first_contact_outcome(f, at(3)) is PENDING
    assert first_contact_outcome(f, at(5)) is MISSED
    assert first_contact_outcome(mql(touches=(at(-1),)), at(5)) is None  # no clock


# --- follow_up_cadence ----------------------------------------------------------------

CADENCE = {"touches": 3, "days": 2, **RATE}


@pytest.mark.parametrize(
    ("facts", "as_of", "outcome"),
    [
        ({"touches": (at(1), at(2), at(3))}, at(3), MET),
        ({"touches": (at(1), at(2), at(3))}, at(2.5), PENDING),
        ({"touches": (at(1), at(2), at(days=2))}, at(days=2), MET),  # window end inclusive
        ({"touches": (at(1), at(2), at(days=2.01))}, at(days=3), MISSED),
        ({"touches": (at(1), at(2))}, at(days=2), PENDING),  # window not over yet
        ({"touches": (at(-3), at(-2), at(1))}, at(days=3), MISSED),  # before mql_at
        ({"dispositions": ((at(5), "rejected", True),)}, at(5), MET),
        ({"dispositions": ((at(5), "working", False),)}, at(days=3), MISSED),
        ({"dispositions": ((at(days=2.5), "accepted", False),)}, at(days=3), MISSED),
        ({"dispositions": ((at(-1), "nurture", True),)}, at(days=3), MISSED),
        ({}, at(days=2, hours=0.001), MISSED),
    ],
)
def test_follow_up_outcome(facts, as_of, outcome):
    assert follow_up_outcome(mql(**facts), touches=3, days=2, as_of=as_of) is outcome


def test_follow_up_cadence_rate():
    cohort = [
        mql(1, touches=(at(1), at(2), at(3))),
        mql(2, touches=(at(1),)),
        mql(3, dispositions=((at(5), "nurture", True),)),
        mql(4, mql_hours=30, touches=(at(31),)),
    ]

    mid = follow_up_cadence(cohort, as_of=at(10), **CADENCE)
    after_lead_2_window = follow_up_cadence(cohort, as_of=at(days=2, hours=1), **CADENCE)
    all_over = follow_up_cadence(cohort, as_of=at(days=10), **CADENCE)

    assert counts(mid) == (2, 2, 1)  # lead 4 is not an MQL yet
    assert mid.value == 1.0
    assert counts(after_lead_2_window) == (2, 3, 1)
    assert after_lead_2_window.status is YELLOW
    assert counts(all_over) == (2, 4, 0)
    assert all_over.value == 0.5
    assert all_over.status is RED
    assert dict(all_over.outcomes) == {1: MET, 2: MISSED, 3: MET, 4: MISSED}


@pytest.mark.parametrize(("touches", "days"), [(0, 14), (6, 0)])
def test_follow_up_cadence_rejects_empty_parameters(touches, days):
    with pytest.raises(ValueError, match="follow_up_cadence needs"):
        follow_up_cadence([], touches=touches, days=days, as_of=at(0), **RATE)


# --- disposition_time ---------------------------------------------------------------------


def disposition_cohort() -> list[MqlFacts]:
    due = {"disposition_due": at(48)}
    return [
        mql(1, dispositions=((at(10), "accepted", False),), **due),
        mql(2, dispositions=((at(20), "working", False), (at(50), "rejected", True)), **due),
        mql(3, dispositions=((at(-3), "rejected", True),), **due),  # earlier life
        mql(4, dispositions=((at(30), "nurture", True),)),  # no clock
    ]


@pytest.mark.parametrize(
    ("as_of_hours", "outcomes", "value"),
    [
        (5, {1: PENDING, 2: PENDING, 3: PENDING}, None),
        (10, {1: MET, 2: PENDING, 3: PENDING}, 1.0),
        (48, {1: MET, 2: PENDING, 3: PENDING}, 1.0),
        (49, {1: MET, 2: MISSED, 3: MISSED}, 1 / 3),
        (60, {1: MET, 2: MISSED, 3: MISSED}, 1 / 3),
    ],
)
def test_disposition_time_as_of(as_of_hours, outcomes, value):
    result = disposition_time(disposition_cohort(), as_of=at(as_of_hours), **RATE)

    assert dict(result.outcomes) == outcomes
    assert result.value == (pytest.approx(value) if value is not None else None)
    assert result.median_hours is None
    assert result.p90_hours is None


def test_disposition_outcome_working_never_closes_the_clock():
    f = mql(dispositions=((at(1), "working", False),), disposition_due=at(48))

    assert disposition_outcome(f, at(47)) is PENDING
    assert disposition_outcome(f, at(49)) is MISSED


# --- rejection_reason_coverage ----------------------------------------------------------


def rejection_cohort() -> list[MqlFacts]:
    return [
        mql(1, dispositions=((at(1), "rejected", True),)),
        mql(2, dispositions=((at(2), "rejected", False),)),  # imported without a code
        mql(3, dispositions=((at(3), "accepted", False),)),
        mql(4, dispositions=((at(1), "nurture", True), (at(5), "rejected", False))),
        mql(5, dispositions=((at(1), "working", False), (at(6), "rejected", True))),
        mql(6, dispositions=((at(-1), "rejected", False),)),  # earlier life
        mql(7),
    ]


@pytest.mark.parametrize(
    ("as_of_hours", "outcomes", "status"),
    [
        (0.5, {}, GREY),
        (1, {1: MET}, GREEN),
        (5, {1: MET, 2: MISSED}, RED),
        (6, {1: MET, 2: MISSED, 5: MET}, YELLOW),
        (100, {1: MET, 2: MISSED, 5: MET}, YELLOW),
    ],
)
def test_rejection_reason_coverage_uses_the_first_final_disposition(as_of_hours, outcomes, status):
    result = rejection_reason_coverage(rejection_cohort(), as_of=at(as_of_hours), **RATE)

    assert dict(result.outcomes) == outcomes
    assert result.status is status
    assert result.pending == 0
    met = sum(o is MET for o in outcomes.values())
    assert (result.numerator, result.denominator) == (met, len(outcomes))


# --- pipeline_coverage ----------------------------------------------------------------

Q4 = period_starting(PeriodKind.QUARTER, date(2026, 10, 1), "Europe/London")


def opportunity(amount: str, expected_close, *, opened: float = 0, closed: float | None = None):
    return OpportunityFacts(
        lead_id=1,
        amount=Decimal(amount),
        expected_close=expected_close,
        opportunity_at=at(opened),
        closed_at=None if closed is None else at(closed),
    )


def test_pipeline_coverage_sums_open_opportunities_closing_in_the_quarter():
    opportunities = [
        opportunity("100000", date(2026, 10, 1)),  # first day of the quarter
        opportunity("50000", date(2026, 12, 31)),  # last day
        opportunity("70000", date(2027, 1, 1)),  # next quarter
        opportunity("80000", date(2026, 9, 30)),  # previous quarter
        opportunity("30000", None),
        opportunity("40000", date(2026, 11, 30), opened=5),  # not open yet at as_of
        opportunity("60000", date(2026, 11, 30), closed=-1),  # won or lost before
        opportunity("20000", date(2026, 11, 30), opened=-10, closed=1),  # closes later
    ]

    result = pipeline_coverage(
        opportunities,
        quarter=Q4,
        as_of=at(0),
        revenue_target=Decimal("50000"),
        target=3.0,
        yellow_threshold=2.0,
    )

    assert result.metric == "pipeline_coverage"
    assert result.numerator == 170000
    assert result.denominator == 50000
    assert result.value == pytest.approx(3.4)
    assert result.status is GREEN


@pytest.mark.parametrize(("revenue_target", "status"), [(0, GREY), (-5, GREY), (100000.0, RED)])
def test_pipeline_coverage_grey_without_a_revenue_target(revenue_target, status):
    result = pipeline_coverage(
        [opportunity("100", date(2026, 11, 1))],
        quarter=Q4,
        as_of=at(0),
        revenue_target=revenue_target,
        target=3.0,
        yellow_threshold=2.0,
    )

    assert result.status is status
    assert (result.value is None) is (status is GREY)


def test_pipeline_coverage_needs_a_quarter():
    with pytest.raises(ValueError, match="needs a quarter"):
        pipeline_coverage(
            [], quarter=WEEK, as_of=at(0), revenue_target=1, target=3.0, yellow_threshold=2.0
        )


# --- percentile (PostgreSQL percentile_cont) ----------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4], 0.5, 2.5),
        ([1, 2, 3, 4], 0.9, 3.7),
        ([4, 1, 3, 2], 0.9, 3.7),  # order does not matter
        ([1, 3, 5], 0.5, 3.0),
        (list(range(1, 11)), 0.9, 9.1),
        ([7], 0.9, 7.0),
        ([1, 2, 3, 4], 0.0, 1.0),
        ([1, 2, 3, 4], 1.0, 4.0),
        ([2.5, 2.5], 0.5, 2.5),
    ],
)
def test_percentile_matches_percentile_cont(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_uses_postgresql_float_formula():
    # first + (rank - floor(rank)) * (second - first), bit for bit.
    assert percentile([1, 2, 3, 4], 0.9) == 3 + (0.9 * 3 - 2) * (4 - 3)


def test_percentile_of_nothing_is_none_and_q_is_checked():
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError, match=r"0\.\.1"):
        percentile([1], 1.5)


# --- escalation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "periods", "fired"),
    [
        ([0.9, 0.7, 0.6, 0.5, 0.9, 0.7, 0.7], 2, [2, 6]),
        ([0.7], 2, []),  # one week below is not yet an escalation
        ([0.7, 0.7], 2, [1]),  # exactly K
        ([0.7, 0.7, 0.7, 0.7, 0.7], 2, [1]),  # once per episode
        ([0.7, 0.8, 0.7], 2, []),  # exactly the threshold is not below
        ([0.7, None, 0.7], 2, []),  # grey breaks the run
        ([0.7, None, 0.7, 0.7], 2, [3]),
        ([0.7, 0.9, 0.7, 0.9], 1, [0, 2]),
        ([0.5, 0.5, 0.5], 3, [2]),
        ([], 2, []),
    ],
)
def test_escalation_episodes(values, periods, fired):
    assert escalation_episodes(values, threshold=0.8, periods=periods) == fired


def test_escalation_needs_at_least_one_period():
    with pytest.raises(ValueError, match="periods"):
        escalation_episodes([0.1], threshold=0.8, periods=0)


# --- response buckets -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [
        (None, "none"),
        (0, "< 5 min"),
        (299.9, "< 5 min"),
        (300, "< 1 h"),
        (3599, "< 1 h"),
        (3600, "< 4 h"),
        (4 * 3600, "< 24 h"),
        (24 * 3600 - 1, "< 24 h"),
        (24 * 3600, "later"),
        (30 * 24 * 3600, "later"),
    ],
)
def test_response_bucket(seconds, bucket):
    assert response_bucket(seconds) == bucket
    assert bucket in RESPONSE_BUCKETS


def test_response_bucket_rejects_negative_times():
    with pytest.raises(ValueError, match="negative"):
        response_bucket(-1)


# --- properties -------------------------------------------------------------------------

offsets = st.integers(min_value=-48, max_value=24 * 20)  # hours from T0
outcome_names = st.sampled_from(["accepted", "rejected", "nurture", "working"])


@st.composite
def mql_facts(draw, lead_id: int) -> MqlFacts:
    mql_hours = draw(st.integers(min_value=0, max_value=24 * 6))
    return MqlFacts(
        lead_id=lead_id,
        mql_at=at(mql_hours),
        sql_at=draw(st.none() | offsets.map(at)),
        touches=tuple(draw(st.lists(offsets.map(at), max_size=8))),
        dispositions=tuple(
            draw(st.lists(st.tuples(offsets.map(at), outcome_names, st.booleans()), max_size=4))
        ),
        first_contact_due=at(mql_hours + draw(st.integers(min_value=0, max_value=72))),
        disposition_due=at(mql_hours + draw(st.integers(min_value=0, max_value=96))),
        first_contact_business_seconds=draw(st.floats(min_value=0, max_value=1e6)),
    )


@st.composite
def cohorts(draw) -> list[MqlFacts]:
    size = draw(st.integers(min_value=0, max_value=12))
    return [draw(mql_facts(lead_id)) for lead_id in range(size)]


as_ofs = st.integers(min_value=-24, max_value=24 * 25).map(at)


def rate_results(cohort: list[MqlFacts], as_of: datetime) -> list[MetricResult]:
    return [
        mql_to_sql_rate(cohort, as_of=as_of, **RATE),
        first_contact_time(cohort, as_of=as_of, **RATE),
        follow_up_cadence(cohort, as_of=as_of, **CADENCE),
        disposition_time(cohort, as_of=as_of, **RATE),
        rejection_reason_coverage(cohort, as_of=as_of, **RATE),
    ]


@LOADED_MACHINE
@given(cohort=cohorts(), as_of=as_ofs)
def test_rates_are_consistent_fractions(cohort, as_of):
    known = sum(f.mql_at <= as_of for f in cohort)
    for result in rate_results(cohort, as_of):
        met = sum(o is MET for o in result.outcomes.values())
        missed = sum(o is MISSED for o in result.outcomes.values())
        assert (result.numerator, result.denominator, result.pending) == (
            met,
            met + missed,
            len(result.outcomes) - met - missed,
        )
        assert len(result.outcomes) <= known
        if result.denominator:
            assert 0.0 <= result.value <= 1.0
            assert result.value == result.numerator / result.denominator
            assert result.status is not GREY
        else:
            assert result.value is None
            assert result.status is GREY
    # Every known MQL is classified by the clock and cadence metrics (all have clocks here).
    for result in rate_results(cohort, as_of)[:4]:
        assert len(result.outcomes) == known


@LOADED_MACHINE
@given(cohort=cohorts(), earlier=as_ofs, later=as_ofs)
def test_decided_outcomes_never_change_as_as_of_grows(cohort, earlier, later):
    earlier, later = min(earlier, later), max(earlier, later)
    for before, after in zip(
        rate_results(cohort, earlier)[1:], rate_results(cohort, later)[1:], strict=True
    ):
        for lead_id, outcome in before.outcomes.items():
            if outcome is not PENDING:
                assert after.outcomes[lead_id] is outcome
    converted = mql_to_sql_rate(cohort, as_of=earlier, **RATE).outcomes
    still = mql_to_sql_rate(cohort, as_of=later, **RATE).outcomes
    assert all(still[lead] is MET for lead, o in converted.items() if o is MET)


@LOADED_MACHINE
@given(cohort=cohorts(), as_of=as_ofs)
def test_pending_only_while_the_deadline_is_ahead(cohort, as_of):
    for f in cohort:
        if f.mql_at > as_of:
            continue
        if first_contact_outcome(f, as_of) is PENDING:
            assert as_of <= f.first_contact_due
        if follow_up_outcome(f, touches=3, days=2, as_of=as_of) is PENDING:
            assert as_of <= f.mql_at + timedelta(days=2)


@given(
    values=st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=30),
    q1=st.floats(min_value=0, max_value=1),
    q2=st.floats(min_value=0, max_value=1),
)
def test_percentile_lies_within_the_values_and_grows_with_q(values, q1, q2):
    low, high = percentile(values, min(q1, q2)), percentile(values, max(q1, q2))

    assert min(values) <= low <= high <= max(values)


@given(
    values=st.lists(st.none() | st.floats(min_value=0, max_value=1), max_size=30),
    periods=st.integers(min_value=1, max_value=4),
)
def test_escalations_fire_only_after_exactly_k_consecutive_low_values(values, periods):
    fired = escalation_episodes(values, threshold=0.8, periods=periods)

    for index in fired:
        window = values[index - periods + 1 : index + 1]
        assert index >= periods - 1
        assert all(v is not None and v < 0.8 for v in window)
        before = values[index - periods] if index >= periods else None
        assert index < periods or before is None or before >= 0.8
    assert len(fired) == len(set(fired))


# --- an MQL event's window (a lead's later MQL event owns the facts after it) -------------


def two_lives(**facts) -> tuple[MqlFacts, MqlFacts]:
    """A lead qualified at T0, returned to nurture, qualified again two days later."""
    second_at = at(days=2)
    first = MqlFacts(lead_id=1, event_id=10, mql_at=at(), next_mql_at=second_at, **facts)
    second = MqlFacts(lead_id=1, event_id=11, mql_at=second_at, **facts)
    return first, second


def test_a_touch_after_the_next_mql_event_belongs_to_that_event_only():
    first, second = two_lives(
        touches=(at(days=2, hours=1),), first_contact_due=at(4), disposition_due=at(8)
    )

    assert first_contact_at(first, at(days=5)) is None
    assert first_contact_outcome(first, at(days=5)) is MISSED
    assert first_contact_at(second, at(days=5)) == at(days=2, hours=1)


def test_a_disposition_after_the_next_mql_event_does_not_close_the_earlier_one():
    first, second = two_lives(dispositions=((at(days=3), "accepted", False),))

    assert disposition_at(first, at(days=5)) is None
    assert disposition_at(second, at(days=5)) == at(days=3)


def test_conversion_belongs_to_the_event_whose_window_holds_the_sql_stage():
    # The lead reached SQL a day after its second MQL: the first event never converted.
    first, second = two_lives(sql_at=at(days=3))
    result = mql_to_sql_rate([first, second], as_of=at(days=10), **RATE)

    assert dict(result.outcomes) == {10: MISSED, 11: MET}
    assert (result.numerator, result.denominator) == (1, 2)


def test_conversion_inside_the_first_window_counts_for_the_first_event_only():
    # SQL a day after the first MQL; the second event's "first SQL at or after its mql_at"
    # is None (the caller found none in its window).
    first = MqlFacts(lead_id=1, event_id=10, mql_at=at(), next_mql_at=at(days=2), sql_at=at(24))
    second = MqlFacts(lead_id=1, event_id=11, mql_at=at(days=2))

    result = mql_to_sql_rate([first, second], as_of=at(days=10), **RATE)
    assert dict(result.outcomes) == {10: MET, 11: MISSED}


def test_a_fact_at_exactly_the_next_event_belongs_to_the_next_event():
    first, _second = two_lives(touches=(at(days=2),), first_contact_due=at(days=3))

    assert first_contact_at(first, at(days=5)) is None


def test_follow_up_touches_stop_at_the_next_event():
    first, _ = two_lives(touches=(at(1), at(days=2, hours=1), at(days=2, hours=2)))

    assert follow_up_outcome(first, touches=3, days=5, as_of=at(days=6)) is MISSED
    whole = MqlFacts(lead_id=1, mql_at=at(), touches=first.touches)
    assert follow_up_outcome(whole, touches=3, days=5, as_of=at(days=6)) is MET


def test_rejection_reason_coverage_reads_each_events_own_disposition():
    first, second = two_lives(
        dispositions=((at(5), "nurture", True), (at(days=3), "rejected", False))
    )

    result = rejection_reason_coverage([first, second], as_of=at(days=5), **RATE)
    assert dict(result.outcomes) == {11: MISSED}


# --- "D days" and due instants ---------------------------------------------------------------


def test_d_days_are_d_times_24_hours_of_elapsed_time_across_a_dst_change():
    new_york = ZoneInfo("America/New_York")
    # Friday 30 Oct 10:00 EDT; US daylight saving time ends on Sunday 1 November.
    mql_at = datetime(2026, 10, 30, 10, tzinfo=new_york)
    same_wall_time = datetime(2026, 11, 2, 10, tzinfo=new_york)  # 73 h later
    # (aware arithmetic in one zone is wall-clock arithmetic: add in UTC)
    last_instant = mql_at.astimezone(UTC) + timedelta(hours=72)  # 09:00 EST on Monday
    touches = (mql_at, mql_at.astimezone(UTC) + timedelta(hours=1))

    on_time = MqlFacts(lead_id=1, mql_at=mql_at, touches=(*touches, last_instant))
    late = MqlFacts(lead_id=1, mql_at=mql_at, touches=(*touches, same_wall_time))

    assert follow_up_outcome(on_time, touches=3, days=3, as_of=same_wall_time) is MET
    assert follow_up_outcome(late, touches=3, days=3, as_of=same_wall_time) is MISSED
    assert same_wall_time.astimezone(UTC) - mql_at.astimezone(UTC) == timedelta(hours=73)


def test_a_due_instant_at_the_end_of_a_working_interval_stays_there():
    # Split shift: 08:30-12:00, 13:00-17:30. An MQL at 09:00 with 3 business hours
    # is due at 12:00, the end of the morning interval, not at 13:00.
    split = (
        business_time.WorkingInterval(time(8, 30), time(12)),
        business_time.WorkingInterval(time(13), time(17, 30)),
    )
    calendar = business_time.BusinessCalendar(timezone="UTC", week=(split,) * 5 + ((), ()))
    mql_at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    due = business_time.add(calendar, mql_at, timedelta(hours=3))
    assert due == datetime(2026, 11, 2, 12, tzinfo=UTC)

    at_noon = MqlFacts(lead_id=1, mql_at=mql_at, touches=(due,), first_contact_due=due)
    in_the_break = MqlFacts(
        lead_id=2, mql_at=mql_at, touches=(due + timedelta(minutes=30),), first_contact_due=due
    )
    as_of = datetime(2026, 11, 2, 18, tzinfo=UTC)

    assert first_contact_outcome(at_noon, as_of) is MET
    assert first_contact_outcome(in_the_break, as_of) is MISSED
    assert first_contact_time([at_noon, in_the_break], as_of=as_of, **RATE).value == 0.5
