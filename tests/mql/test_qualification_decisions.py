"""The pure per-lead decision (apps/mql/qualification.py): no database, `now` passed in."""

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.leads.models import Stage
from apps.mql import qualification as q
from apps.mql.rules import ActivityFact, first_qualification, parse_definition
from apps.mql.scoring import ActivityMatch
from tests.mql.factories import MQL_RULES, PQL_RULES

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
MQL = q.DefinitionVersion(1, "mql", 1, "MQL", parse_definition(MQL_RULES))
PQL = q.DefinitionVersion(2, "pql", 1, "PQL", parse_definition(PQL_RULES))
FIELDS = {"company_size": 300, "email": "kim@bigco.example", "stage": "lead", "properties": {}}


def pricing(n, at):
    return ActivityFact(n, "page_view", at, {"url": "/pricing"})


def demo(n, at):
    return ActivityFact(n, "form_submit", at, {"form": "demo-request"})


def blog(n, at):
    return ActivityFact(n, "page_view", at, {"url": "/blog"})


def product(n, at):
    return ActivityFact(n, "product_event", at, {"event": "teammate_invited"})


def state(*activities, stage=Stage.LEAD, **kwargs):
    values = {
        "lead_id": 7,
        "stage": stage,
        "stage_changed_at": NOW - timedelta(days=60),
        "fields_changed_at": None,
        "fields": {**FIELDS, "stage": stage},
        "activities": tuple(sorted(activities, key=lambda a: a.occurred_at)),
    }
    values.update(kwargs)
    return q.LeadState(**values)


def decide(lead_state, *, active=None, versions=None, now=NOW):
    active = {"mql": MQL} if active is None else active
    return q.leads_decide(
        [lead_state],
        active=active,
        versions=versions if versions is not None else {v.id: v for v in active.values()},
        now=now,
    )


def test_the_stage_values_are_the_models():
    assert (q.LEAD, q.MQL, q.NURTURE) == (Stage.LEAD, Stage.MQL, Stage.NURTURE)


def test_a_fresh_lead_qualifies_at_its_first_qualifying_fact():
    visit = pricing(1, NOW - timedelta(days=2))
    [decision] = decide(state(blog(0, NOW - timedelta(days=5)), visit))
    assert isinstance(decision, q.NewMql)
    assert (decision.definition, decision.qualification.at) == (MQL, visit.occurred_at)
    assert decision.qualification.trigger_activity_id == 1


def test_nothing_is_decided_without_facts_or_definitions():
    assert decide(state(blog(0, NOW - timedelta(days=1)))) == []
    assert decide(state(pricing(0, NOW - timedelta(days=1))), active={}) == []


def test_a_lead_that_qualified_before_waits_for_a_return_to_nurture():
    event = q.PastEvent(3, NOW - timedelta(days=40), MQL.id)
    assert decide(state(pricing(0, NOW - timedelta(days=1)), events=(event,))) == []


def test_back_in_nurture_only_facts_after_the_return_count():
    returned = NOW - timedelta(days=8)
    old = q.PastEvent(3, NOW - timedelta(days=10), MQL.id)
    lead = state(
        pricing(0, NOW - timedelta(days=10)),
        stage=Stage.NURTURE,
        events=(old,),
        returns=(returned,),
    )
    assert decide(lead) == []  # the visit before the return was judged already
    later = demo(1, NOW - timedelta(days=1))
    [decision] = decide(
        state(*lead.activities, later, stage=Stage.NURTURE, events=(old,), returns=(returned,))
    )
    assert decision.qualification.at == later.occurred_at


def test_nurture_not_before():
    returned = NOW - timedelta(days=5)
    assert q.nurture_not_before(returned, [], None) is None
    assert q.nurture_not_before(returned, [], NOW - timedelta(days=6)) is None
    changed = NOW - timedelta(days=1)
    assert q.nurture_not_before(returned, [], changed) == changed
    visit = pricing(0, NOW - timedelta(days=3))
    assert q.nurture_not_before(returned, [visit], None) == visit.occurred_at
    assert q.nurture_not_before(returned, [visit], changed) == changed


def test_the_earlier_of_mql_and_pql_wins_and_mql_on_a_tie():
    facts = [product(i, NOW - timedelta(hours=h)) for i, h in enumerate((50, 40, 30))]
    [decision] = decide(
        state(*facts, pricing(9, NOW - timedelta(hours=5))), active={"mql": MQL, "pql": PQL}
    )
    assert (decision.definition, decision.qualification.at) == (PQL, NOW - timedelta(hours=30))


def test_kinds_the_sql_pre_filter_left_out_are_not_evaluated():
    facts = [product(i, NOW - timedelta(hours=h)) for i, h in enumerate((50, 40, 30))]
    lead = state(*facts, pricing(9, NOW - timedelta(hours=5)), kinds=frozenset({"mql"}))
    [decision] = decide(lead, active={"mql": MQL, "pql": PQL})
    assert decision.definition == MQL


def _mql_event(at, evaluated_with):
    """The event a walk at `at` over `evaluated_with` stored, with its explanation."""
    walk = first_qualification(
        MQL.rules, fields=FIELDS, activities=evaluated_with, not_before=None, now=at
    )
    return q.PastEvent(3, walk.at, MQL.id, q.qualification_explanation(walk, definition=MQL))


def test_an_older_fact_re_dates_the_latest_event_and_keeps_where_it_came_from():
    visit = pricing(1, NOW - timedelta(days=1))
    event = _mql_event(NOW - timedelta(hours=20), [visit])
    older = demo(2, NOW - timedelta(days=6))
    change = q.MoveIntoMql(11, Stage.LEAD, event.qualified_at)
    lead = state(
        visit,
        older,
        stage=Stage.MQL,
        events=(event,),
        moves_into_mql=(change,),
        earliest_new_activity=older.occurred_at,
    )

    [redate] = decide(lead)

    assert isinstance(redate, q.Redate) and redate.moved
    assert (redate.qualification.at, redate.old_at, redate.change_id) == (
        older.occurred_at,
        event.qualified_at,
        11,
    )
    explanation = q.redated_explanation(redate, explanation=event.explanation, now=NOW)
    assert explanation["redated_from"] == event.qualified_at.isoformat()
    assert explanation["redates"] == [
        {
            "from": event.qualified_at.isoformat(),
            "to": older.occurred_at.isoformat(),
            "recorded_at": NOW.isoformat(),
        }
    ]


def test_a_newer_fact_or_a_return_after_the_event_moves_nothing():
    visit = pricing(1, NOW - timedelta(days=1))
    event = _mql_event(NOW - timedelta(hours=20), [visit])
    newer = demo(2, NOW - timedelta(hours=2))
    settled = {"stage": Stage.SQL, "events": (event,)}
    assert decide(state(visit, newer, earliest_new_activity=newer.occurred_at, **settled)) == []
    older = demo(3, NOW - timedelta(days=6))
    closed = state(
        visit,
        older,
        earliest_new_activity=older.occurred_at,
        returns=(NOW - timedelta(hours=10),),
        **settled,
    )
    assert decide(closed) == []


def test_an_older_fact_that_changes_nothing_is_not_a_re_date():
    visit = pricing(1, NOW - timedelta(days=1))
    event = _mql_event(NOW - timedelta(hours=20), [visit])
    older_blog = blog(2, NOW - timedelta(days=4))
    lead = state(
        visit,
        older_blog,
        stage=Stage.MQL,
        events=(event,),
        earliest_new_activity=older_blog.occurred_at,
    )
    assert decide(lead) == []


# --- properties ------------------------------------------------------------------------------

moments = st.integers(min_value=1, max_value=30 * 24)  # hours before NOW
facts = st.lists(st.tuples(st.sampled_from([pricing, demo, blog]), moments), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(items=facts, seed=st.integers())
def test_the_decision_does_not_depend_on_the_delivery_order(items, seed):
    activities = [make(i, NOW - timedelta(hours=h)) for i, (make, h) in enumerate(items)]
    shuffled = list(activities)
    random.Random(seed).shuffle(shuffled)
    in_order = decide(state(*activities))
    any_order = decide(replace(state(*activities), activities=tuple(shuffled)))
    assert [d.qualification.at for d in in_order] == [d.qualification.at for d in any_order]


@settings(max_examples=150, deadline=None)
@given(items=facts, cut=st.integers(min_value=0, max_value=8))
def test_a_re_date_never_moves_an_event_later(items, cut):
    activities = [make(i, NOW - timedelta(hours=h)) for i, (make, h) in enumerate(items)]
    first, late = activities[:cut], activities[cut:]
    if not first or not late:
        return
    [new] = decide(state(*first)) or [None]
    if new is None:
        return
    event = q.PastEvent(
        3,
        new.qualification.at,
        MQL.id,
        q.qualification_explanation(new.qualification, definition=MQL),
    )
    lead = state(
        *activities,
        stage=Stage.MQL,
        events=(event,),
        earliest_new_activity=min(a.occurred_at for a in late),
    )
    for decision in decide(lead):
        assert decision.qualification.at <= event.qualified_at
        # In-order delivery of every fact would have qualified the lead there.
        [alone] = decide(state(*activities))
        assert decision.qualification.at == alone.qualification.at


# Behaviour trees of any shape: a lead without the activities `requirements` names never
# qualifies, whatever its other facts and the moment.
ACTIVITY_KINDS = ["page_view", "form_submit", "email_click", "product_event"]
leaf = st.builds(
    lambda kind, value, min_count, within: {
        "kind": kind,
        "min_count": min_count,
        **({"property": "tag", "match": "equals", "value": value} if value else {}),
        **({"within_days": within} if within else {}),
    },
    st.sampled_from(ACTIVITY_KINDS),
    st.sampled_from([None, "a", "b"]),
    st.integers(min_value=1, max_value=2),
    st.sampled_from([None, 3, 30]),
)
trees = st.recursive(
    leaf,
    lambda children: st.builds(
        lambda match, conditions: {"match": match, "conditions": conditions},
        st.sampled_from(["all", "any"]),
        st.lists(children, max_size=3),
    ),
    max_leaves=6,
)
stored = st.lists(
    st.tuples(st.sampled_from(ACTIVITY_KINDS), st.sampled_from([None, "a", "b", "c"]), moments),
    max_size=8,
)


def _need_met(need, activities):
    if isinstance(need, q.ActivityNeed):
        return any(m.matches(a) for m in need.matches for a in activities)
    results = [_need_met(child, activities) for child in need.needs]
    return all(results) if need.match == "all" else any(results)


@settings(max_examples=300, deadline=None)
@given(tree=trees, items=stored)
def test_a_lead_lacking_the_required_activities_never_qualifies(tree, items):
    behaviour = tree if "conditions" in tree else {"match": "all", "conditions": [tree]}
    defn = parse_definition({"behaviour": behaviour})
    activities = [
        ActivityFact(i, kind, NOW - timedelta(hours=h), {"tag": tag} if tag else {})
        for i, (kind, tag, h) in enumerate(items)
    ]
    needs = q.requirements(defn).activities
    if needs is None or _need_met(needs, activities):
        return
    assert (
        first_qualification(defn, fields={}, activities=activities, not_before=None, now=NOW)
        is None
    )


def test_requirements_of_the_demo_definition():
    needs = q.requirements(MQL.rules).activities
    assert needs == q.NeedGroup(
        "all",
        (
            q.ActivityNeed(
                (
                    ActivityMatch("page_view", "url", "contains", "/pricing"),
                    ActivityMatch("form_submit", "form", "equals", "demo-request"),
                )
            ),
        ),
    )
    assert q.requirements(parse_definition({"fit": MQL_RULES["fit"]})).activities is None
