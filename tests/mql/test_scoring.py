"""Scoring: decay curves, caps, negative points, max_count, and the fast timeline."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.mql.scoring import (
    ActivityFact,
    ActivityMatch,
    Decay,
    FieldCondition,
    ScoreRule,
    decay_factor,
    half_life_factor,
    linear_factor,
    score,
    score_timeline,
)

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
VISIT = ActivityMatch(kind="page_view", property="url", match="contains", value="/pricing")
DOWNLOAD = ActivityMatch(kind="content_download")
FREE_EMAIL = FieldCondition(field="email_domain", op="in", value=("gmail.com", "yahoo.com"))

ages = st.floats(min_value=0, max_value=3650, allow_nan=False)
spans = st.floats(min_value=0.01, max_value=365, allow_nan=False)


def visit(activity_id, days_ago, url="/pricing"):
    return ActivityFact(
        id=activity_id,
        kind="page_view",
        occurred_at=NOW - timedelta(days=days_ago),
        properties={"url": url},
    )


def download(activity_id, days_ago):
    return ActivityFact(
        id=activity_id, kind="content_download", occurred_at=NOW - timedelta(days=days_ago)
    )


# --- decay ------------------------------------------------------------------------


@settings(max_examples=200)
@given(age=ages, older=ages, half_life=spans)
def test_half_life_is_monotone_non_increasing(age, older, half_life):
    young, old = sorted((age, older))
    assert half_life_factor(old, half_life) <= half_life_factor(young, half_life)
    assert 0 <= half_life_factor(old, half_life) <= 1


@given(half_life=spans)
def test_half_life_halves_at_one_half_life(half_life):
    assert half_life_factor(0, half_life) == 1
    assert half_life_factor(half_life, half_life) == pytest.approx(0.5)
    assert half_life_factor(2 * half_life, half_life) == pytest.approx(0.25)


@given(window=spans, extra=ages)
def test_linear_hits_zero_at_the_window_end_and_stays_there(window, extra):
    assert linear_factor(0, window) == 1
    assert linear_factor(window / 2, window) == pytest.approx(0.5)
    assert linear_factor(window, window) == 0
    assert linear_factor(window + extra, window) == 0


@settings(max_examples=200)
@given(age=ages, older=ages, window=spans)
def test_linear_is_monotone_non_increasing(age, older, window):
    young, old = sorted((age, older))
    assert linear_factor(old, window) <= linear_factor(young, window)


@given(age=ages)
def test_no_decay_keeps_full_points(age):
    assert decay_factor(Decay(), age) == 1


def test_unknown_decay_is_an_error():
    with pytest.raises(ValueError, match="unknown decay"):
        decay_factor(Decay(kind="exponential", days=3), 1)


# --- score ------------------------------------------------------------------------


def test_each_matching_activity_contributes_decayed_points():
    rules = [
        ScoreRule(id="visit", signal=VISIT, points=16, decay=Decay("half_life", 7)),
        ScoreRule(id="ebook", signal=DOWNLOAD, points=20, decay=Decay("linear", 30)),
    ]
    activities = [visit(1, 7), visit(2, 14), visit(3, 1, url="/blog"), download(4, 15)]
    total, lines = score(rules, {}, fields={}, activities=activities, now=NOW)
    assert [(line.rule_id, line.activity_id, line.points_after_decay) for line in lines] == [
        ("visit", 1, pytest.approx(8)),
        ("visit", 2, pytest.approx(4)),
        ("ebook", 4, pytest.approx(10)),
    ]
    assert total == pytest.approx(22)
    assert all(line.label == line.rule_id for line in lines)


def test_activities_after_now_and_expired_linear_ones_do_not_count():
    rules = [ScoreRule(id="ebook", signal=DOWNLOAD, points=20, decay=Decay("linear", 30))]
    activities = [download(1, -1), download(2, 30), download(3, 45)]
    assert score(rules, {}, fields={}, activities=activities, now=NOW) == (0, ())


def test_field_signals_give_full_points_once():
    rules = [ScoreRule(id="free_email", signal=FREE_EMAIL, points=-10, label="Free email")]
    total, lines = score(rules, {}, fields={"email": "bob@gmail.com"}, activities=[], now=NOW)
    assert total == -10
    assert lines[0].activity_id is None
    assert lines[0].label == "Free email"
    assert score(rules, {}, fields={"email": "bob@acme.com"}, activities=[], now=NOW) == (0, ())


def test_max_count_keeps_the_most_recent_activities():
    rules = [ScoreRule(id="visit", signal=VISIT, points=10, max_count=2)]
    activities = [visit(i, days_ago=i) for i in range(1, 6)]
    total, lines = score(rules, {}, fields={}, activities=activities, now=NOW)
    assert total == 20
    assert [line.activity_id for line in lines] == [1, 2]


def test_cap_clamps_positive_points_and_penalties_still_count():
    rules = [
        ScoreRule(id="visit", signal=VISIT, points=15, group="engagement"),
        ScoreRule(id="free_email", signal=FREE_EMAIL, points=-10, group="engagement"),
    ]
    activities = [visit(i, days_ago=i) for i in range(6)]  # 90 raw points
    total, lines = score(
        rules, {"engagement": 50}, fields={"email": "a@gmail.com"}, activities=activities, now=NOW
    )
    assert total == 40
    cap_line = lines[-1]
    assert (cap_line.rule_id, cap_line.points_after_decay) == ("cap:engagement", -40)
    assert sum(line.points_after_decay for line in lines) == total


def test_cap_does_not_touch_other_groups():
    rules = [
        ScoreRule(id="visit", signal=VISIT, points=15, group="engagement"),
        ScoreRule(id="ebook", signal=DOWNLOAD, points=20, group="content"),
    ]
    activities = [visit(1, 0), visit(2, 0), download(3, 0), download(4, 0)]
    total, _ = score(rules, {"engagement": 20}, fields={}, activities=activities, now=NOW)
    assert total == 20 + 40


rule_strategy = st.builds(
    lambda i, points, group, decay, max_count, signal: ScoreRule(
        id=f"r{i}", signal=signal, points=points, group=group, decay=decay, max_count=max_count
    ),
    st.integers(0, 1000),
    st.sampled_from([-10.0, -3.5, 0.0, 5.0, 15.0, 40.0]),
    st.sampled_from([None, "engagement", "content"]),
    st.sampled_from([Decay(), Decay("half_life", 7), Decay("linear", 30), Decay("linear", 0.5)]),
    st.sampled_from([None, 1, 3]),
    st.sampled_from([VISIT, DOWNLOAD, ActivityMatch(kind="page_view")]),
)
activity_strategy = st.builds(
    lambda i, kind, minutes, url: ActivityFact(
        id=i, kind=kind, occurred_at=NOW - timedelta(minutes=minutes), properties={"url": url}
    ),
    st.integers(0, 10**6),
    st.sampled_from(["page_view", "content_download", "email_open"]),
    st.integers(-600, 60 * 24 * 60),
    st.sampled_from(["/pricing", "/blog"]),
)
caps_strategy = st.fixed_dictionaries(
    {},
    optional={"engagement": st.sampled_from([10.0, 50.0]), "content": st.just(25.0)},
)


@settings(max_examples=150, deadline=None)
@given(
    rules=st.lists(rule_strategy, max_size=4),
    activities=st.lists(activity_strategy, max_size=30),
    caps=caps_strategy,
)
def test_caps_are_never_exceeded_and_lines_add_up(rules, activities, caps):
    total, lines = score(rules, caps, fields={}, activities=activities, now=NOW)
    assert sum(line.points_after_decay for line in lines) == pytest.approx(total, abs=1e-5)
    for group, cap in caps.items():
        positive = sum(
            line.points_after_decay
            for line in lines
            if line.group == group and not line.rule_id.startswith("cap:") and line.points_raw > 0
        )
        adjustment = sum(
            line.points_after_decay for line in lines if line.rule_id == f"cap:{group}"
        )
        assert positive + adjustment <= cap + 1e-9
    assert all(line.activity_id is None or line.points_after_decay != 0 for line in lines)


@settings(max_examples=150, deadline=None)
@given(
    rules=st.lists(rule_strategy, max_size=4),
    activities=st.lists(activity_strategy, max_size=30),
    caps=caps_strategy,
    extra_minutes=st.lists(st.integers(-600, 60 * 24 * 60), max_size=5),
)
def test_timeline_agrees_with_score_at_every_moment(rules, activities, caps, extra_minutes):
    moments = sorted(
        {a.occurred_at for a in activities} | {NOW - timedelta(minutes=m) for m in extra_minutes}
    )
    totals = score_timeline(rules, caps, fields={}, activities=activities, moments=moments)
    for moment, total in zip(moments, totals, strict=True):
        expected, _ = score(rules, caps, fields={}, activities=activities, now=moment)
        assert total == pytest.approx(expected, abs=1e-4)


def test_timeline_includes_field_signals_and_requires_ascending_moments():
    rules = [ScoreRule(id="free_email", signal=FREE_EMAIL, points=-10)]
    fields = {"email_domain": "yahoo.com"}
    moments = [NOW - timedelta(days=1), NOW]
    assert score_timeline(rules, {}, fields=fields, activities=[], moments=moments) == [-10, -10]
    assert score_timeline(rules, {}, fields=fields, activities=[], moments=[]) == []
    with pytest.raises(ValueError, match="ascending"):
        score_timeline(rules, {}, fields=fields, activities=[], moments=moments[::-1])


@pytest.mark.parametrize(
    ("op", "expected", "actual", "holds"),
    [
        # A text list: one folded lookup, trimmed and case-insensitive like same_value.
        ("in", ("Director", "VP"), "  vp ", True),
        ("in", ("Director", "VP"), "manager", False),
        ("not_in", ("gmail.com", "Yahoo.com"), "YAHOO.COM", False),
        ("not_in", ("gmail.com", "yahoo.com"), "acme.example", True),
        # Mixed lists and non-text values still compare value by value (numbers numerically).
        ("in", ("7", 7), 7.0, True),
        ("in", (50, 100), "100", True),
        ("not_in", ("a", 1), "1", False),
        ("in", ("x",), ["y", "X"], True),
        ("not_in", ("x",), ["y", "X"], False),
        # Missing data never meets a condition.
        ("not_in", ("gmail.com",), "  ", False),
    ],
)
def test_in_and_not_in_agree_with_same_value(op, expected, actual, holds):
    condition = FieldCondition(field="industry", op=op, value=expected)
    assert condition.holds({"industry": actual}) is holds
    # Asked again (the folded set is cached on the condition): the same answer.
    assert condition.holds({"industry": actual}) is holds
