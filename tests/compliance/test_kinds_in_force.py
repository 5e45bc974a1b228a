"""A version signed for a later day of an open period: its new promise has no tile until it
takes effect; a promise it carries on keeps one tile, whose whole-period target counts it."""

from datetime import UTC, date, datetime, timedelta

import pytest

from apps.compliance import kind_selectors, selectors
from apps.compliance.periods import PeriodKind, period_starting
from tests.compliance import factories as f

MONTH = period_starting(PeriodKind.MONTH, date(2026, 3, 1), "UTC")
CONVERSION = {
    "owner_team": "sales",
    "metric": "mql_to_sql_rate",
    "params": {},
    "target": 0.3,
    "yellow_threshold": 0.2,
    "review_period": "month",
    "label": "MQLs accepted as SQL",
}
VOLUME = {**f.MQL_VOLUME, "review_period": "month", "target": 300, "yellow_threshold": 240}


@pytest.fixture
def versions(acme):
    first = f.signed_version(
        effective_at=datetime(2026, 1, 1, tzinfo=UTC), commitments=(f.FIRST_CONTACT_4H, VOLUME)
    )
    # Signed for 21 March: keeps both promises (volume raised to 600) and adds a new one.
    scheduled = f.signed_version(
        effective_at=datetime(2026, 3, 21, tzinfo=UTC),
        commitments=(f.FIRST_CONTACT_4H, {**VOLUME, "target": 600}, CONVERSION),
        number=2,
    )
    return first, scheduled


def _keys(kinds):
    return sorted(k.key for k in kinds)


def test_a_promise_of_a_version_not_yet_in_force_has_no_tile(versions):
    before = datetime(2026, 3, 10, tzinfo=UTC)
    kinds = kind_selectors.commitment_kinds(period=MONTH, as_of=before)
    assert _keys(kinds) == ["marketing.mql_volume", "sales.first_contact_time"]
    results = selectors.compliance_for_period(period=MONTH, as_of=before)
    assert _keys(r.kind for r in results) == _keys(kinds)
    assert (
        kind_selectors.kind_by_key(key="sales.mql_to_sql_rate", period=MONTH, as_of=before) is None
    )

    after = datetime(2026, 3, 25, tzinfo=UTC)
    assert _keys(kind_selectors.commitment_kinds(period=MONTH, as_of=after)) == [
        "marketing.mql_volume",
        "sales.first_contact_time",
        "sales.mql_to_sql_rate",
    ]
    # Once the month is over every promise made during it has its tile, whatever as_of says.
    assert (
        len(kind_selectors.commitment_kinds(period=MONTH, as_of=MONTH.end + timedelta(days=9))) == 3
    )


def test_a_carried_on_promise_counts_the_scheduled_terms_in_the_months_target(versions):
    first, scheduled = versions
    before = datetime(2026, 3, 10, tzinfo=UTC)
    (volume,) = selectors.compliance_for_period(
        period=MONTH,
        as_of=before,
        kinds=[
            k
            for k in kind_selectors.commitment_kinds(period=MONTH, as_of=before)
            if k.metric == "mql_volume"
        ],
    )
    assert [c.version for c in volume.kind.commitments] == [first, scheduled]
    # Only the first version was in force so far (nine of 31 days): it is the one measured.
    assert volume.result.versions == (1,)
    assert volume.result.effective_target == pytest.approx(300 * 9 / 31)
    # The month's target: 300 a month for 20 days, 600 a month for the last 11.
    assert volume.result.target == pytest.approx((300 * 20 + 600 * 11) / 31)
