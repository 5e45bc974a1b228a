"""Pure pieces of the SLA: calendar JSON, canonical hashing, clock rules, wording, segments."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from apps.sla import clock_rules
from apps.sla.business_time import CALENDAR, CalendarError, WorkingInterval
from apps.sla.segments import SegmentError, describe_segment, parse_segment, segment_matches
from apps.sla.snapshots import (
    calendar_from_json,
    calendar_json,
    canonical_json,
    content_hash,
    describe_week,
)
from apps.sla.wording import describe_commitment, describe_escalation, format_value

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_calendar_json_round_trips_split_shifts_midnight_and_dates():
    data = calendar_json(
        name="Support",
        timezone="Europe/London",
        week=[[["13:30", "17:00"], ["09:00", "12:30"]], [["22:00", "24:00"]], [], [], [], [], []],
        holiday_country="GB",
        holiday_subdivision="ENG",
        closed_dates=["2026-12-31", date(2026, 12, 24)],
    )
    assert data["week"][0] == [["09:00", "12:30"], ["13:30", "17:00"]]  # sorted
    assert data["week"][1] == [["22:00", "24:00"]]
    assert data["closed_dates"] == ["2026-12-24", "2026-12-31"]
    calendar = calendar_from_json(data)
    assert calendar.week[1] == (WorkingInterval(time(22), time(0)),)
    assert calendar.closed_dates == frozenset({date(2026, 12, 24), date(2026, 12, 31)})
    assert calendar_from_json(data, mode=CALENDAR).mode == CALENDAR
    assert describe_week(data["week"])[0] == ("Monday", "09:00–12:30, 13:30–17:00")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"timezone": "Mars/Base"}, "unknown timezone"),
        ({"week": [[["17:00", "09:00"]]] + [[]] * 6}, "Monday"),
        ({"week": [[["09:00", "13:00"], ["12:00", "17:00"]]] + [[]] * 6}, "overlap"),
        ({"week": [[]] * 7}, "at least one working interval"),
        ({"week": [[]] * 6}, "7 days"),
        ({"holiday_country": "XX"}, "unknown holiday region"),
        ({"holiday_country": "GB", "holiday_subdivision": "XYZ"}, "unknown holiday region"),
        ({"closed_dates": ["31/12/2026"]}, "YYYY-MM-DD"),
    ],
)
def test_bad_calendars_say_what_is_wrong(changes, message):
    values = {
        "name": "x",
        "timezone": "UTC",
        "week": [[["09:00", "17:00"]]] * 5 + [[], []],
        **changes,
    }
    with pytest.raises(CalendarError, match=message):
        calendar_json(**values)


def test_an_empty_snapshot_is_the_nine_to_five_default():
    calendar = calendar_from_json({})
    assert calendar.timezone == "UTC"
    assert calendar.week[0] == (WorkingInterval(time(9), time(17)),)
    assert calendar.week[5] == ()


def test_canonical_json_ignores_key_order_and_keeps_unicode():
    a = {"b": [1, 2], "a": {"y": "→", "x": 0.25}}
    b = {"a": {"x": 0.25, "y": "→"}, "b": [1, 2]}
    assert canonical_json(a) == canonical_json(b) == '{"a":{"x":0.25,"y":"→"},"b":[1,2]}'
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash({**a, "b": [2, 1]})
    assert len(content_hash(a)) == 64


# --- clock rules (must agree with apps/compliance/metrics.py) -------------------------


def test_first_fact_at_or_after_the_start_counts():
    facts = [T0 - timedelta(hours=1), T0, T0 + timedelta(hours=2)]
    assert clock_rules.first_at_or_after(facts, T0) == T0
    assert clock_rules.first_at_or_after(facts, T0 + timedelta(minutes=1)) == facts[2]
    assert clock_rules.first_at_or_after(facts, T0 + timedelta(days=1)) is None


def test_follow_up_counts_the_nth_touch_inside_the_window_or_a_final_disposition():
    due = T0 + timedelta(days=14)
    touches = [T0 - timedelta(days=1)] + [T0 + timedelta(days=d) for d in (1, 2, 3)]
    kwargs = {"started_at": T0, "due_at": due, "touches_needed": 3}
    assert clock_rules.follow_up_met_at(touches, [], **kwargs) == T0 + timedelta(days=3)
    assert clock_rules.follow_up_met_at(touches[:3], [], **kwargs) is None
    # A touch exactly at the end of the window is inside it (metrics: [mql_at, mql_at + D]).
    assert clock_rules.follow_up_met_at([*touches[:3], due], [], **kwargs) == due
    assert (
        clock_rules.follow_up_met_at([*touches[:3], due + timedelta(seconds=1)], [], **kwargs)
        is None
    )
    final = [T0 + timedelta(days=1, hours=1)]
    assert clock_rules.follow_up_met_at(touches[:2], final, **kwargs) == final[0]
    assert clock_rules.follow_up_met_at(touches, [due + timedelta(days=1)], **kwargs) == touches[3]


@pytest.mark.parametrize(
    ("met_at", "state", "now", "expected"),
    [
        (T0, "pending", T0, ("met", None)),  # exactly at due: on time
        (T0 + timedelta(seconds=1), "pending", T0, ("breached", T0)),
        (None, "pending", T0 + timedelta(days=1), ("pending", None)),  # the sweep's job
        (None, "breached", T0 + timedelta(days=1), ("breached", T0)),
        (None, "met", T0 + timedelta(days=1), ("breached", T0)),  # the fact went away
        (None, "met", T0 - timedelta(hours=1), ("pending", None)),
    ],
)
def test_clock_state(met_at, state, now, expected):
    update = clock_rules.clock_update(
        met_at=met_at,
        due_at=T0,
        state=state,
        breached_at=T0 if state == "breached" else None,
        now=now,
    )
    assert (update.state, update.breached_at) == expected


# --- wording and segments -----------------------------------------------------------------


def test_commitments_read_as_one_sentence():
    assert describe_commitment(
        owner_team="sales",
        metric="first_contact_time",
        params={"hours": 2, "clock": "business"},
        target=0.9,
        yellow_threshold=0.8,
        review_period="week",
        segment=[{"field": "company_size", "op": "gte", "value": 500}],
    ) == (
        "Sales makes first contact within 2 business hours of qualification with at least 90% "
        "of each week's MQLs whose company size is at least 500 (yellow from 80%)."
    )
    assert (
        describe_commitment(
            owner_team="marketing",
            metric="mql_volume",
            params={},
            target=150,
            yellow_threshold=120,
            review_period="month",
        )
        == "Marketing delivers at least 150 MQLs each month (yellow from 120)."
    )
    assert "for all of each week's rejected MQLs" in describe_commitment(
        owner_team="sales",
        metric="rejection_reason_coverage",
        params={},
        target=1.0,
        yellow_threshold=0.9,
        review_period="week",
    )
    assert format_value("pipeline_coverage", 3.0) == "3×"
    assert (
        describe_escalation(
            commitment_label="First contact",
            metric="first_contact_time",
            threshold=0.8,
            periods=2,
            period_kind="week",
            notify_role="executive",
        )
        == "If “First contact” is below 80% for 2 consecutive closed weeks, the executive (CRO/CEO) is notified."
    )


def test_segments_use_the_mql_condition_language():
    conditions = parse_segment(
        [
            {"field": "source", "op": "in", "value": ["webinar", "demo_request"]},
            {"field": "company_size", "op": "gte", "value": 500},
        ]
    )
    assert segment_matches(conditions, {"source": "Webinar", "company_size": 800})
    assert not segment_matches(conditions, {"source": "webinar", "company_size": 20})
    assert not segment_matches(conditions, {"source": None, "company_size": 800})
    assert segment_matches(parse_segment([]), {})
    assert describe_segment([{"field": "source", "op": "equals", "value": "webinar"}]) == (
        "source is webinar"
    )
    with pytest.raises(SegmentError, match=r"segment\[0\]\.field"):
        parse_segment([{"field": "shoe_size", "op": "equals", "value": 9}])
    with pytest.raises(SegmentError, match="groups are not allowed"):
        parse_segment([{"match": "any", "conditions": []}])
