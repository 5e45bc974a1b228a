"""kind_metrics.py: one figure per commitment kind over a period under two SLA versions,
each event judged under its own version, targets weighted by the time each version was in
force; and, over generated leads with several MQL lives, that no fact counts twice."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.compliance.kind_metrics import (
    KindPart,
    Terms,
    in_force_us,
    kind_result,
    score_kind,
    weighted_terms,
)
from apps.compliance.metrics import (
    Metric,
    MqlFacts,
    OpportunityFacts,
    Outcome,
    Status,
    disposition_at,
    first_contact_at,
    first_contact_time,
    follow_up_cadence,
    mql_to_sql_rate,
    mql_volume,
)
from apps.compliance.periods import PeriodKind, period_starting

LOADED_MACHINE = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
MET, MISSED, PENDING = Outcome.MET, Outcome.MISSED, Outcome.PENDING
RATE = {"target": 0.8, "yellow_threshold": 0.6}

NOVEMBER = period_starting(PeriodKind.MONTH, date(2026, 11, 1), "UTC")
# The version change of the New York month in issue #18: v2 in force from 16 November.
CHANGE = datetime(2026, 11, 16, tzinfo=UTC)
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)  # a Monday


def at(hours: float = 0, *, days: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, days=days)


def terms(number, target, yellow, start, end=None, **params) -> Terms:
    return Terms(
        version_id=100 + number,
        number=number,
        target=target,
        yellow_threshold=yellow,
        effective_at=start,
        superseded_at=end,
        params=params,
    )


V1 = terms(1, 0.8, 0.6, datetime(2026, 1, 1, tzinfo=UTC), CHANGE)
V2 = terms(2, 0.9, 0.7, CHANGE)


# --- weighting the targets over the versions in force ------------------------------------------


def test_in_force_time_is_clipped_to_the_period_and_to_as_of():
    day = 86_400_000_000

    assert in_force_us(V1, NOVEMBER, NOVEMBER.end) == 15 * day
    assert in_force_us(V2, NOVEMBER, NOVEMBER.end) == 15 * day
    assert in_force_us(V2, NOVEMBER, datetime(2026, 11, 20, tzinfo=UTC)) == 4 * day
    assert in_force_us(V2, NOVEMBER, datetime(2026, 11, 10, tzinfo=UTC)) == 0
    assert in_force_us(V1, NOVEMBER, NOVEMBER.start - timedelta(hours=1)) == 0


def test_a_volume_target_in_force_for_half_an_open_month_gives_half():
    # DESIGN's example: 150 a month in force for half of it gives 75.
    only = terms(1, 150, 120, NOVEMBER.start)
    target, yellow, effective, effective_yellow = weighted_terms(
        [only], period=NOVEMBER, as_of=CHANGE, volume=True
    )

    assert (target, effective) == (150, 75)
    assert (yellow, effective_yellow) == (120, 60)


def test_a_volume_target_under_two_versions_is_the_time_weighted_sum():
    v1 = terms(1, 150, 120, datetime(2026, 1, 1, tzinfo=UTC), CHANGE)
    v2 = terms(2, 210, 150, CHANGE)

    target, yellow, effective, _ = weighted_terms(
        [v1, v2], period=NOVEMBER, as_of=NOVEMBER.end, volume=True
    )
    assert (target, yellow, effective) == (180, 135, 180)

    # On 21 November: 15 days of v1 and 5 of v2 of a 30-day month.
    _, _, so_far, _ = weighted_terms(
        [v1, v2], period=NOVEMBER, as_of=datetime(2026, 11, 21, tzinfo=UTC), volume=True
    )
    assert so_far == Fraction(150 * 15 + 210 * 5, 30)


def test_a_volume_target_counts_no_time_before_the_first_version():
    # The first SLA took effect on the 16th: half the month had no target at all.
    only = terms(1, 150, 120, CHANGE)
    target, *_ = weighted_terms([only], period=NOVEMBER, as_of=NOVEMBER.end, volume=True)

    assert target == 75


def test_a_volume_target_scales_to_the_commitments_own_review_period():
    week = period_starting(PeriodKind.WEEK, date(2026, 11, 2), "UTC")
    monthly = terms(1, 150, 120, NOVEMBER.start)

    target, *_ = weighted_terms(
        [monthly], period=week, as_of=week.end, volume=True, review_length=NOVEMBER.duration
    )
    assert target == 35  # 150 * 7 / 30


def test_a_rate_target_under_two_versions_is_the_time_weighted_average():
    target, yellow, effective, _ = weighted_terms(
        [V1, V2], period=NOVEMBER, as_of=NOVEMBER.end, volume=False
    )
    assert (float(target), float(yellow)) == pytest.approx((0.85, 0.65))
    assert effective == target

    so_far, *_ = weighted_terms(
        [V1, V2], period=NOVEMBER, as_of=datetime(2026, 11, 21, tzinfo=UTC), volume=False
    )
    assert so_far == (Fraction(0.8) * 15 + Fraction(0.9) * 5) / 20


def test_a_single_version_in_force_all_period_keeps_its_exact_target():
    target, yellow, *_ = weighted_terms(
        [V1],
        period=period_starting(PeriodKind.WEEK, date(2026, 11, 2), "UTC"),
        as_of=T0,
        volume=False,
    )
    assert (float(target), float(yellow)) == (0.8, 0.6)


def test_a_rate_before_any_version_took_effect_uses_the_periods_weights():
    target, *_ = weighted_terms(
        [V1, V2], period=NOVEMBER, as_of=NOVEMBER.start - timedelta(days=1), volume=False
    )
    assert float(target) == pytest.approx(0.85)


# --- one figure per kind --------------------------------------------------------------------


def test_kind_result_pools_the_counts_and_names_the_versions():
    result = kind_result(
        Metric.FIRST_CONTACT_TIME,
        [KindPart(V1, met=30, missed=10, pending=0), KindPart(V2, met=27, missed=3, pending=4)],
        period=NOVEMBER,
        as_of=NOVEMBER.end,
    )

    assert (result.numerator, result.denominator, result.pending) == (57, 70, 4)
    assert result.value == 57 / 70
    assert result.target == pytest.approx(0.85)
    assert result.status is Status.YELLOW  # 0.814 < 0.85
    assert result.versions == (1, 2)


def test_kind_result_names_a_version_only_if_it_was_in_force_or_measured():
    later = terms(3, 0.95, 0.9, NOVEMBER.end)  # signed, takes effect next month
    result = kind_result(
        Metric.MQL_TO_SQL_RATE,
        [KindPart(V2, met=2, missed=2), KindPart(later)],
        period=NOVEMBER,
        as_of=datetime(2026, 11, 20, tzinfo=UTC),
    )

    assert result.versions == (2,)


def test_kind_result_volume_is_red_grey_or_green_against_the_weighted_target():
    v1 = terms(1, 150, 120, datetime(2026, 1, 1, tzinfo=UTC), CHANGE)
    v2 = terms(2, 210, 150, CHANGE)
    parts = [KindPart(v1, met=80), KindPart(v2, met=100)]

    closed = kind_result(Metric.MQL_VOLUME, parts, period=NOVEMBER, as_of=NOVEMBER.end)
    assert (closed.value, closed.target, closed.effective_target) == (180, 180, 180)
    assert closed.status is Status.GREEN
    assert closed.versions == (1, 2)

    before = kind_result(
        Metric.MQL_VOLUME,
        [KindPart(v1), KindPart(v2)],
        period=NOVEMBER,
        as_of=NOVEMBER.start,
    )
    assert before.status is Status.GREY
    assert before.versions == ()


def test_kind_result_of_pipeline_coverage_weighs_the_revenue_target():
    quarter = period_starting(PeriodKind.QUARTER, date(2026, 10, 1), "UTC")
    halfway = quarter.start + quarter.duration / 2
    v1 = terms(1, 3.0, 2.0, datetime(2026, 1, 1, tzinfo=UTC), halfway, revenue_target=100_000)
    v2 = terms(2, 3.0, 2.0, halfway, revenue_target=300_000)

    result = kind_result(
        Metric.PIPELINE_COVERAGE,
        [KindPart(v1), KindPart(v2)],
        period=quarter,
        as_of=quarter.end,
        amount=Decimal(600_000),
    )
    assert result.denominator == 200_000
    assert result.value == 3.0
    assert result.status is Status.GREEN


def test_score_kind_judges_each_event_with_its_own_versions_parameters():
    v1 = terms(1, 0.8, 0.6, datetime(2026, 1, 1, tzinfo=UTC), CHANGE, touches=2, days=2)
    v2 = terms(2, 0.8, 0.6, CHANGE, touches=4, days=2)
    before = MqlFacts(lead_id=1, event_id=1, mql_at=at(), touches=(at(1), at(2)))
    after = MqlFacts(
        lead_id=2,
        event_id=2,
        mql_at=CHANGE + timedelta(hours=9),
        touches=(CHANGE + timedelta(hours=10),) * 2,
    )

    result = score_kind(
        Metric.FOLLOW_UP_CADENCE,
        [(v1, [before]), (v2, [after])],
        period=NOVEMBER,
        as_of=NOVEMBER.end,
    )
    assert dict(result.outcomes) == {1: MET, 2: MISSED}
    assert result.versions == (1, 2)


def test_score_kind_refuses_an_event_judged_under_two_versions():
    event = MqlFacts(lead_id=1, event_id=1, mql_at=at())
    with pytest.raises(ValueError, match="judged under two versions"):
        score_kind(
            Metric.MQL_TO_SQL_RATE, [(V1, [event]), (V2, [event])], period=NOVEMBER, as_of=at(5)
        )


def test_score_kind_of_pipeline_coverage_reads_the_quarter_of_the_period():
    quarter_start = period_starting(PeriodKind.QUARTER, date(2026, 10, 1), "UTC").start
    coverage = terms(1, 3.0, 2.0, quarter_start, revenue_target=50_000)
    opportunity = OpportunityFacts(
        lead_id=1, amount=Decimal(100_000), expected_close=date(2026, 12, 1), opportunity_at=at()
    )

    result = score_kind(
        Metric.PIPELINE_COVERAGE,
        [(coverage, [])],
        period=NOVEMBER,
        as_of=NOVEMBER.end,
        opportunities=[opportunity],
    )
    assert (result.value, result.status) == (2.0, Status.YELLOW)


# --- properties ----------------------------------------------------------------------------

hours = st.integers(min_value=-48, max_value=24 * 40)


@st.composite
def events(draw, first_id: int) -> list[MqlFacts]:
    """One lead's MQL events (one to three lives), each with facts anywhere in time."""
    starts = sorted(draw(st.lists(st.integers(0, 24 * 30), min_size=1, max_size=3, unique=True)))
    facts = {
        "touches": tuple(at(h) for h in draw(st.lists(hours, max_size=6))),
        "dispositions": tuple(
            (at(h), outcome, reason)
            for h, outcome, reason in draw(
                st.lists(
                    st.tuples(
                        hours,
                        st.sampled_from(["accepted", "rejected", "nurture", "working"]),
                        st.booleans(),
                    ),
                    max_size=3,
                )
            )
        ),
    }
    sql = draw(st.none() | hours)
    made = []
    for index, start in enumerate(starts):
        nxt = starts[index + 1] if index + 1 < len(starts) else None
        first_sql = at(sql) if sql is not None and sql >= start else None
        made.append(
            MqlFacts(
                lead_id=first_id,
                event_id=first_id * 10 + index,
                mql_at=at(start),
                next_mql_at=None if nxt is None else at(nxt),
                sql_at=first_sql,
                first_contact_due=at(start + draw(st.integers(0, 72))),
                disposition_due=at(start + draw(st.integers(0, 96))),
                **facts,
            )
        )
    return made


@st.composite
def cohorts(draw) -> list[MqlFacts]:
    leads = draw(st.integers(min_value=0, max_value=8))
    return [f for lead in range(1, leads + 1) for f in draw(events(lead))]


@LOADED_MACHINE
@given(cohort=cohorts(), as_of=hours.map(at))
def test_no_fact_counts_for_two_events_of_the_same_lead(cohort, as_of):
    by_lead: dict[int, list[MqlFacts]] = {}
    for f in cohort:
        by_lead.setdefault(f.lead_id, []).append(f)
    for lives in by_lead.values():
        contacts = [first_contact_at(f, as_of) for f in lives]
        found = [c for c in contacts if c is not None]
        assert len(found) == len(set(found))
        finals = [disposition_at(f, as_of) for f in lives]
        found = [d for d in finals if d is not None]
        assert len(found) == len(set(found))
    converted = mql_to_sql_rate(cohort, as_of=as_of, **RATE).outcomes
    for lives in by_lead.values():
        assert sum(converted.get(f.key) is MET for f in lives) <= 1


@LOADED_MACHINE
@given(cohort=cohorts(), as_of=hours.map(at))
def test_one_version_scored_as_a_kind_is_the_single_version_figure(cohort, as_of):
    only = terms(1, 0.8, 0.6, datetime(2026, 1, 1, tzinfo=UTC), touches=2, days=3)
    for metric, single in (
        (Metric.MQL_TO_SQL_RATE, mql_to_sql_rate(cohort, as_of=as_of, **RATE)),
        (Metric.FIRST_CONTACT_TIME, first_contact_time(cohort, as_of=as_of, **RATE)),
        (
            Metric.FOLLOW_UP_CADENCE,
            follow_up_cadence(cohort, touches=2, days=3, as_of=as_of, **RATE),
        ),
    ):
        kind = score_kind(metric, [(only, cohort)], period=NOVEMBER, as_of=as_of)
        assert (kind.value, kind.numerator, kind.denominator, kind.pending, kind.status) == (
            single.value,
            single.numerator,
            single.denominator,
            single.pending,
            single.status,
        )
        assert dict(kind.outcomes) == dict(single.outcomes)
    volume = score_kind(
        Metric.MQL_VOLUME,
        [(terms(1, 40, 30, datetime(2026, 1, 1, tzinfo=UTC)), cohort)],
        period=NOVEMBER,
        as_of=as_of,
    )
    alone = mql_volume(cohort, period=NOVEMBER, as_of=as_of, target=40, yellow_threshold=30)
    assert (volume.value, volume.effective_target, volume.status) == (
        alone.value,
        alone.effective_target,
        alone.status,
    )


@LOADED_MACHINE
@given(
    targets=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 30 * 24)), min_size=1, max_size=4),
    as_of_hours=st.integers(-24, 32 * 24),
)
def test_a_weighted_rate_target_lies_between_the_versions_targets(targets, as_of_hours):
    cuts = sorted({hours for _, hours in targets})
    made = []
    for index, (target, _) in enumerate(targets[: len(cuts)]):
        start = NOVEMBER.start + timedelta(hours=cuts[index])
        end = NOVEMBER.start + timedelta(hours=cuts[index + 1]) if index + 1 < len(cuts) else None
        made.append(terms(index + 1, target, target / 2, start, end))
    as_of = NOVEMBER.start + timedelta(hours=as_of_hours)

    target, *_ = weighted_terms(made, period=NOVEMBER, as_of=as_of, volume=False)
    assert min(t.target for t in made) <= target <= max(t.target for t in made)
    _, _, effective, _ = weighted_terms(made, period=NOVEMBER, as_of=as_of, volume=True)
    whole, *_ = weighted_terms(made, period=NOVEMBER, as_of=as_of, volume=True)
    assert 0 <= effective <= whole <= max(t.target for t in made)


def test_each_versions_volume_target_is_per_its_own_review_period():
    # v1 promised 70 a week, v2 150 a month: over a week, 70 * 3/7 + 150 * 4/30.
    week = period_starting(PeriodKind.WEEK, date(2026, 11, 2), "UTC")
    thursday = week.start + timedelta(days=3)
    weekly = terms(1, 70, 56, datetime(2026, 1, 1, tzinfo=UTC), thursday)
    monthly = Terms(**{**terms(2, 150, 120, thursday).__dict__, "review_length": NOVEMBER.duration})

    target, *_ = weighted_terms([weekly, monthly], period=week, as_of=week.end, volume=True)
    assert target == Fraction(70 * 3, 7) + Fraction(150 * 4, 30)
