"""Property-based checks of behaviour windows and of decisive conditions, against brute force."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.mql.backtest import decisive_conditions
from apps.mql.rules import ActivityFact, evaluate, first_qualification, parse_definition

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)

offsets = st.lists(st.integers(min_value=-40 * 24 * 60, max_value=60), max_size=25)


def facts(minutes):
    return [
        ActivityFact(i, "page_view", NOW + timedelta(minutes=m), {"url": "/pricing"})
        for i, m in enumerate(minutes)
    ]


@settings(max_examples=150, deadline=None)
@given(
    minutes=offsets,
    within=st.integers(min_value=1, max_value=30),
    min_count=st.integers(min_value=1, max_value=5),
    distinct=st.booleans(),
)
def test_window_count_matches_brute_force(minutes, within, min_count, distinct):
    condition = {
        "kind": "page_view",
        "min_count": min_count,
        "within_days": within,
        "count": "distinct_days" if distinct else "activities",
    }
    defn = parse_definition({"behaviour": {"conditions": [condition]}})
    start = NOW - timedelta(days=within)
    inside = [a for a in facts(minutes) if start < a.occurred_at <= NOW]
    expected = len({a.occurred_at.date() for a in inside}) if distinct else len(inside)

    met = evaluate(defn, fields={}, activities=facts(minutes), now=NOW).behaviour_met

    assert met is (expected >= min_count)


@settings(max_examples=100, deadline=None)
@given(minutes=offsets, within=st.integers(min_value=1, max_value=10))
def test_the_first_qualification_flips_a_condition_that_was_not_met_before(minutes, within):
    defn = parse_definition(
        {
            "behaviour": {
                "conditions": [
                    {"id": "p", "label": "P", "kind": "page_view", "within_days": within}
                ]
            }
        }
    )
    activities = facts(minutes)
    found = first_qualification(defn, fields={}, activities=activities, not_before=None, now=NOW)
    if found is None:
        assert not any(a.occurred_at <= NOW for a in activities)
        return
    assert found.at == min(a.occurred_at for a in activities)
    assert decisive_conditions(defn, fields={}, activities=activities, at=found.at) == ("P",)
