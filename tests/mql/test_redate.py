"""Re-dating across batches: a late, older fact moves an MQL (and its clocks) to where in-order
delivery would have put it — never later, never across a return to nurture."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.accounts.models import AuditEvent
from apps.compliance.models import Alert
from apps.compliance.services import clocks_breach
from apps.dashboards.models import ChartSnapshot
from apps.leads.models import Lead, Stage, StageChange
from apps.leads.stages import lead_stage_change
from apps.mql.models import MqlDefinition, MqlEvent
from apps.mql.panels import lead_panel
from apps.sla.clocks import clocks_sync
from apps.sla.models import SlaClock
from tests.compliance import factories as sla_f
from tests.handoff.batches import hand_off_stored, qualify
from tests.mql.factories import (
    MQL_RULES,
    ActivityFactory,
    LeadFactory,
    demo_request,
    pricing_visit,
    published_definition,
)

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)  # a Monday
SWITCH = NOW - timedelta(days=12)  # the SLA version in force changes here

# Qualifying takes a combination: points decay, so the moment depends on the whole history.
COMBO_RULES = {
    **MQL_RULES,
    "scoring": {
        # The pricing visit and the demo request of MQL_RULES, plus blog reading, against a
        # higher threshold: no single signal is enough.
        "threshold": 70,
        "rules": [
            *MQL_RULES["scoring"]["rules"],
            {
                "id": "blog",
                "signal": {
                    "type": "activity",
                    "kind": "page_view",
                    "property": "url",
                    "match": "contains",
                    "value": "/blog",
                },
                "points": 15,
                "decay": {"type": "linear", "days": 14},
            },
        ],
    },
}
FIRST_CONTACT_8H = {**sla_f.FIRST_CONTACT_4H, "params": {"hours": 8, "clock": "business"}}
FOLLOW_UP_2_IN_3 = {
    "owner_team": "sales",
    "metric": "follow_up_cadence",
    "params": {"touches": 2, "days": 3},
    "target": 0.9,
    "yellow_threshold": 0.75,
}
DISPOSITION_48H = {
    "owner_team": "sales",
    "metric": "disposition_time",
    "params": {"hours": 48, "clock": "calendar"},
    "target": 0.9,
    "yellow_threshold": 0.8,
}


@pytest.fixture(autouse=True)
def no_other_published_definition(acme):
    """Only this test's definitions decide (committed tests of other apps share the tenant)."""
    MqlDefinition.objects.filter(status="published").update(status="retired")


@pytest.fixture
def sla(acme):
    """Version A until SWITCH (8 business hours + disposition), then B (4 h + follow-up cadence)."""
    older = sla_f.signed_version(
        effective_at=NOW - timedelta(days=400),
        superseded_at=SWITCH,
        commitments=(FIRST_CONTACT_8H, DISPOSITION_48H),
    )
    newer = sla_f.signed_version(
        effective_at=SWITCH, commitments=(sla_f.FIRST_CONTACT_4H, FOLLOW_UP_2_IN_3)
    )
    return older, newer


def _facts(lead, history):
    """Store the history items (kind, occurred_at) on the lead; `n` tags each for comparison."""
    for n, (kind, at) in history:
        if kind == "call":
            ActivityFactory(lead=lead, kind="call", occurred_at=at, properties={"n": n})
        elif kind == "demo":
            ActivityFactory(
                lead=lead,
                kind="form_submit",
                occurred_at=at,
                properties={"n": n, "form": "demo-request"},
            )
        else:
            ActivityFactory(lead=lead, occurred_at=at, properties={"n": n, "url": f"/{kind}"})


def _deliver(lead, batch, *, now):
    """What activities_ingest does with one batch: store, then hand off (qualify with the
    earliest new fact, sync the clocks when a sales touch came in)."""
    _facts(lead, batch)
    hand_off_stored(
        lead_ids=[lead.pk],
        now=now,
        earliest_new_activity={lead.pk: min(at for _, (_, at) in batch)},
        clocks_touched=[lead.pk] if any(kind == "call" for _, (kind, _) in batch) else [],
    )


def _outcome(lead):
    """Everything in-order delivery decides about the lead, comparable across two leads."""
    lead = Lead.objects.get(pk=lead.pk)
    events = list(MqlEvent.objects.filter(lead=lead).select_related("trigger_activity"))
    changes = list(
        StageChange.objects.filter(lead=lead, to_stage=Stage.MQL).values_list(
            "from_stage", "occurred_at"
        )
    )
    # Activity ids differ between the two leads: compare the history tags instead.
    tags = {a.pk: a.properties["n"] for a in lead.activities.all()}
    clocks = sorted(
        SlaClock.objects.filter(lead=lead).values_list(
            "kind",
            "commitment_id",
            "sla_version_id",
            "started_at",
            "due_at",
            "met_at",
            "state",
            "breached_at",
        )
    )
    return {
        "stage": lead.stage,
        "mql_at": lead.mql_at,
        "stage_changed_at": lead.stage_changed_at if lead.stage == Stage.MQL else None,
        "events": [
            {
                "qualified_at": e.qualified_at,
                "definition": e.definition_id,
                "trigger": e.trigger_activity.properties["n"] if e.trigger_activity else None,
                "score": round(e.score, 9) if e.score is not None else None,
                "evaluated_at": e.explanation["evaluated_at"],
                "conditions": e.explanation["conditions"],
                "score_lines": [
                    {**line, "activity_id": tags.get(line["activity_id"])}
                    for line in e.explanation["score_lines"]
                ],
                "reasons": e.explanation["reasons"],
            }
            for e in events
        ],
        "stage_changes": changes,
        "clocks": clocks,
    }


@pytest.fixture
def combo_definition(acme):
    return published_definition(COMBO_RULES)


history_items = st.lists(
    st.tuples(
        st.sampled_from(["pricing", "demo", "blog", "call"]),
        st.integers(min_value=1, max_value=25 * 24),  # hours before NOW
    ),
    min_size=2,
    max_size=7,
    unique_by=lambda item: item[1],
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items=history_items, data=st.data())
def test_any_split_into_batches_in_any_order_ends_like_in_order_delivery(
    sla, combo_definition, items, data
):
    history = [(n, (kind, NOW - timedelta(hours=h))) for n, (kind, h) in enumerate(items)]
    order = data.draw(st.permutations(history))
    cuts = sorted(data.draw(st.sets(st.integers(1, len(order) - 1), max_size=len(order) - 1)))
    batches = [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]

    in_order, split = LeadFactory(), LeadFactory()
    for n, item in sorted(history, key=lambda h: h[1][1]):
        _deliver(in_order, [(n, item)], now=NOW)
    for batch in batches:
        _deliver(split, batch, now=NOW)
    # Clocks past due with nobody meeting them are the sweep's to breach, for both alike.
    clocks_breach(now=NOW)

    assert _outcome(split) == _outcome(in_order)


# --- the rules, one by one ---------------------------------------------------------------------


@pytest.fixture
def mql_definition(acme):
    return published_definition()


def _qualify(lead, now, *, earliest=None):
    return qualify(
        lead_ids=[lead.pk], now=now, earliest_new_activity={lead.pk: earliest} if earliest else None
    )


def _chart_row(moment):
    return ChartSnapshot.objects.create(
        key=f"{moment:%Y%m%d%H%M%S}".ljust(64, "0"),
        chart="funnel",
        period_kind="week",
        period_start=moment - timedelta(days=1),
        period_end=moment + timedelta(days=1),
        as_of=moment + timedelta(days=1),
        frozen=True,
    )


def test_a_late_older_fact_re_dates_the_mql_its_stage_change_and_explanation(mql_definition):
    lead = LeadFactory()
    late_visit = pricing_visit(lead, NOW - timedelta(days=1))
    _qualify(lead, NOW - timedelta(hours=20))
    demo = demo_request(lead, NOW - timedelta(days=6))
    around_old = _chart_row(late_visit.occurred_at)
    elsewhere = _chart_row(NOW - timedelta(days=60))

    assert _qualify(lead, NOW, earliest=demo.occurred_at) == []  # no new event: a re-date

    lead.refresh_from_db()
    [event] = MqlEvent.objects.filter(lead=lead)
    assert (lead.stage, lead.mql_at, lead.stage_changed_at) == (
        Stage.MQL,
        demo.occurred_at,
        demo.occurred_at,
    )
    assert (event.qualified_at, event.trigger_activity_id) == (demo.occurred_at, demo.pk)
    assert event.score == pytest.approx(60.0)
    assert event.explanation["evaluated_at"] == demo.occurred_at.isoformat()
    assert [line["rule_id"] for line in event.explanation["score_lines"]] == ["demo_request"]
    assert event.explanation["redated_from"] == late_visit.occurred_at.isoformat()
    assert event.explanation["redated_at"] == NOW.isoformat()
    assert event.explanation["redates"] == [
        {
            "from": late_visit.occurred_at.isoformat(),
            "to": demo.occurred_at.isoformat(),
            "recorded_at": NOW.isoformat(),
        }
    ]
    assert lead.stage_changes.get(to_stage=Stage.MQL).occurred_at == demo.occurred_at
    audit = AuditEvent.objects.get(action="mql.redated")
    assert audit.detail["count"] == 1
    assert audit.detail["moves"][0]["lead_id"] == lead.pk

    # The stored charts of the periods the MQL left and joined are dropped (and recomputed).
    assert not ChartSnapshot.objects.filter(pk=around_old.pk).exists()
    assert ChartSnapshot.objects.filter(pk=elsewhere.pk).exists()

    # The lead page says so.
    panel = lead_panel(lead=lead, user=None)
    html = render_to_string(panel["template"], panel["context"])
    assert "Re-dated from" in html and "when an earlier fact arrived on" in html
    assert panel["context"]["redated"]["from"] == late_visit.occurred_at


def test_it_moves_only_earlier_and_only_when_the_older_fact_qualifies(mql_definition):
    lead = LeadFactory()
    visit = pricing_visit(lead, NOW - timedelta(days=1))
    _qualify(lead, NOW - timedelta(hours=20))
    blog = ActivityFactory(lead=lead, occurred_at=NOW - timedelta(days=4), properties={"url": "/b"})

    _qualify(lead, NOW, earliest=blog.occurred_at)

    event = MqlEvent.objects.get(lead=lead)
    assert event.qualified_at == visit.occurred_at and "redated_from" not in event.explanation
    assert not AuditEvent.objects.filter(action="mql.redated").exists()


def test_a_late_fact_that_would_have_kept_the_lead_out_never_moves_it_later(acme):
    rules = {
        **MQL_RULES,
        "scoring": {
            **MQL_RULES["scoring"],
            "rules": [
                *MQL_RULES["scoring"]["rules"],
                {
                    "id": "unsubscribed",
                    "signal": {
                        "type": "activity",
                        "kind": "email_click",
                        "property": "link",
                        "match": "equals",
                        "value": "unsubscribe",
                    },
                    "points": -100,
                    "decay": {"type": "linear", "days": 30},
                },
            ],
        },
    }
    published_definition(rules)
    lead = LeadFactory()
    visit = pricing_visit(lead, NOW - timedelta(days=1))
    _qualify(lead, NOW - timedelta(hours=20))
    unsubscribe = ActivityFactory(
        lead=lead,
        kind="email_click",
        occurred_at=NOW - timedelta(days=3),
        properties={"link": "unsubscribe"},
    )

    _qualify(lead, NOW, earliest=unsubscribe.occurred_at)

    # In order, the lead would not have qualified at the visit; once an MQL, it stays one.
    assert MqlEvent.objects.get(lead=lead).qualified_at == visit.occurred_at


def test_without_the_earliest_new_fact_nothing_is_walked_again(mql_definition):
    lead = LeadFactory()
    visit = pricing_visit(lead, NOW - timedelta(days=1))
    _qualify(lead, NOW - timedelta(hours=20))
    demo_request(lead, NOW - timedelta(days=6))

    _qualify(lead, NOW)  # e.g. a lead upsert: no activity arrived

    assert MqlEvent.objects.get(lead=lead).qualified_at == visit.occurred_at


def test_the_event_is_walked_under_its_own_definition_version(mql_definition):
    lead = LeadFactory()
    pricing_visit(lead, NOW - timedelta(days=1))
    _qualify(lead, NOW - timedelta(hours=20))
    # A stricter version is published since: demo requests alone no longer qualify.
    stricter = {**MQL_RULES, "scoring": {**MQL_RULES["scoring"], "threshold": 95}}
    published_definition(stricter)
    demo = demo_request(lead, NOW - timedelta(days=6))

    _qualify(lead, NOW, earliest=demo.occurred_at)

    event = MqlEvent.objects.get(lead=lead)
    assert event.qualified_at == demo.occurred_at
    assert event.definition == mql_definition
    assert event.explanation["definition"]["version"] == mql_definition.version


def test_a_fit_condition_on_the_stage_reads_the_stage_it_qualified_from(acme):
    rules = {
        **MQL_RULES,
        "fit": {
            "match": "all",
            "conditions": [
                *MQL_RULES["fit"]["conditions"],
                {"id": "open", "field": "stage", "op": "in", "value": ["lead", "nurture"]},
            ],
        },
    }
    published_definition(rules)
    lead = LeadFactory()
    pricing_visit(lead, NOW - timedelta(days=1))
    _qualify(lead, NOW - timedelta(hours=20))
    demo = demo_request(lead, NOW - timedelta(days=6))

    _qualify(lead, NOW, earliest=demo.occurred_at)

    assert MqlEvent.objects.get(lead=lead).qualified_at == demo.occurred_at


def test_a_lead_further_down_the_funnel_is_re_dated_but_keeps_its_stage_time(mql_definition):
    lead = LeadFactory()
    pricing_visit(lead, NOW - timedelta(days=1))
    _qualify(lead, NOW - timedelta(hours=20))
    lead.refresh_from_db()
    sql_at = NOW - timedelta(hours=10)
    lead_stage_change(lead=lead, to_stage=Stage.SQL, occurred_at=sql_at)
    demo = demo_request(lead, NOW - timedelta(days=6))

    _qualify(lead, NOW, earliest=demo.occurred_at)

    lead.refresh_from_db()
    assert (lead.stage, lead.mql_at, lead.sql_at, lead.stage_changed_at) == (
        Stage.SQL,
        demo.occurred_at,
        sql_at,
        sql_at,
    )


def test_a_disqualified_mql_is_re_dated_too(mql_definition):
    """Sales rejected it, but it was an MQL: the cohort it counts in follows its real moment."""
    lead = LeadFactory()
    pricing_visit(lead, NOW - timedelta(days=1))
    _qualify(lead, NOW - timedelta(hours=20))
    lead.refresh_from_db()
    lead_stage_change(lead=lead, to_stage=Stage.DISQUALIFIED, occurred_at=NOW - timedelta(hours=5))
    demo = demo_request(lead, NOW - timedelta(days=6))

    _qualify(lead, NOW, earliest=demo.occurred_at)

    lead.refresh_from_db()
    assert lead.stage == Stage.DISQUALIFIED and lead.mql_at == demo.occurred_at
    assert MqlEvent.objects.get(lead=lead).qualified_at == demo.occurred_at


def _requalified_lead():
    """MQL 20 days ago, back to nurture 10 days ago, MQL again 1 day ago."""
    lead = LeadFactory()
    first = demo_request(lead, NOW - timedelta(days=20))
    _qualify(lead, NOW - timedelta(days=19))
    lead.refresh_from_db()
    returned_at = NOW - timedelta(days=10)
    lead_stage_change(lead=lead, to_stage=Stage.NURTURE, occurred_at=returned_at)
    second = pricing_visit(lead, NOW - timedelta(days=1))
    _qualify(lead, NOW - timedelta(hours=20))
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL
    return lead, first, returned_at, second


def test_a_re_qualification_moves_no_earlier_than_the_return_to_nurture(mql_definition):
    lead, first, returned_at, second = _requalified_lead()
    # Would have qualified (30-day demo window) but happened before sales returned the lead.
    before_return = demo_request(lead, returned_at - timedelta(hours=2))

    _qualify(lead, NOW, earliest=before_return.occurred_at)

    assert list(MqlEvent.objects.filter(lead=lead).values_list("qualified_at", flat=True)) == [
        first.occurred_at,
        second.occurred_at,
    ]

    after_return = demo_request(lead, returned_at + timedelta(hours=3))
    _qualify(lead, NOW + timedelta(hours=1), earliest=after_return.occurred_at)

    events = list(MqlEvent.objects.filter(lead=lead))
    assert [e.qualified_at for e in events] == [first.occurred_at, after_return.occurred_at]
    assert events[0].explanation.get("redated_from") is None  # closed history stays put
    lead.refresh_from_db()
    assert lead.mql_at == after_return.occurred_at
    into_mql = list(
        lead.stage_changes.filter(to_stage=Stage.MQL).values_list("from_stage", "occurred_at")
    )
    assert into_mql == [("lead", first.occurred_at), ("nurture", after_return.occurred_at)]


def test_an_mql_closed_by_a_return_to_nurture_never_moves(mql_definition):
    lead = LeadFactory()
    first = pricing_visit(lead, NOW - timedelta(days=5))
    _qualify(lead, NOW - timedelta(days=4))
    lead.refresh_from_db()
    lead_stage_change(lead=lead, to_stage=Stage.NURTURE, occurred_at=NOW - timedelta(days=3))
    lead.refresh_from_db()
    # The CRM moves it on without a new qualification.
    lead_stage_change(lead=lead, to_stage=Stage.SQL, occurred_at=NOW - timedelta(days=2))
    older = demo_request(lead, NOW - timedelta(days=9))

    _qualify(lead, NOW, earliest=older.occurred_at)

    assert MqlEvent.objects.get(lead=lead).qualified_at == first.occurred_at


def test_late_history_that_adds_points_at_the_same_moment_refreshes_the_score(combo_definition):
    lead = LeadFactory()
    pricing_visit(lead, NOW - timedelta(hours=3))
    second = pricing_visit(lead, NOW - timedelta(hours=2))
    _qualify(lead, NOW - timedelta(hours=1))
    event = MqlEvent.objects.get(lead=lead)
    assert (event.qualified_at, event.score) == (
        second.occurred_at,
        pytest.approx(79.835, abs=1e-3),
    )
    late = pricing_visit(lead, NOW - timedelta(days=3, hours=1))

    _qualify(lead, NOW, earliest=late.occurred_at)

    event.refresh_from_db()
    # Still qualified at the second visit (the late one alone decayed below 70 by then),
    # but the "why" counts its points, as in-order delivery would have.
    assert event.qualified_at == second.occurred_at
    assert event.score == pytest.approx(109.678, abs=1e-3)
    assert len(event.explanation["score_lines"]) == 3
    assert "redated_from" not in event.explanation
    assert not AuditEvent.objects.filter(action="mql.redated").exists()


# --- the SLA clocks follow --------------------------------------------------------------------


def test_the_clocks_restart_at_the_new_moment_and_judge_the_touches_again(mql_definition, sla):
    newer_version = sla[1]
    lead = LeadFactory()
    t2 = NOW - timedelta(days=2, hours=3)  # Saturday 09:00, under the newer version
    pricing_visit(lead, t2)
    _qualify(lead, t2 + timedelta(hours=1))
    first_clock = SlaClock.objects.get(lead=lead, kind="first_contact")
    assert first_clock.sla_version == newer_version
    t1 = NOW - timedelta(days=4, hours=2)  # Thursday 10:00
    touch = ActivityFactory(lead=lead, kind="call", occurred_at=t1 + timedelta(hours=2))
    demo = demo_request(lead, t1)

    _qualify(lead, NOW, earliest=t1)

    first_clock.refresh_from_db()
    # Same clock, same version (both moments after SWITCH): moved in place, and the call
    # between the new and the old start now counts as the first contact, on time.
    assert first_clock.started_at == demo.occurred_at
    assert first_clock.due_at == t1 + timedelta(hours=4)
    assert (first_clock.met_at, first_clock.state) == (touch.occurred_at, "met")
    follow_up = SlaClock.objects.get(lead=lead, kind="follow_up")
    assert (follow_up.started_at, follow_up.due_at) == (t1, t1 + timedelta(days=3))


def test_an_earlier_start_can_breach_a_met_clock(mql_definition, sla):
    lead = LeadFactory()
    t2 = datetime(2025, 5, 29, 10, 0, tzinfo=UTC)  # Thursday
    pricing_visit(lead, t2)
    _qualify(lead, t2 + timedelta(minutes=5))
    touch = ActivityFactory(lead=lead, kind="call", occurred_at=t2 + timedelta(hours=3))
    clocks_sync(lead_ids=[lead.pk], now=t2 + timedelta(hours=3))
    clock = SlaClock.objects.get(lead=lead, kind="first_contact")
    assert clock.state == "met"

    t1 = datetime(2025, 5, 28, 15, 0, tzinfo=UTC)  # Wednesday: 4 business hours end Thu 11:00
    demo_request(lead, t1)
    _qualify(lead, NOW, earliest=t1)

    clock.refresh_from_db()
    assert clock.due_at == datetime(2025, 5, 29, 11, 0, tzinfo=UTC)
    assert (clock.state, clock.met_at, clock.breached_at) == (
        "breached",
        touch.occurred_at,
        clock.due_at,
    )


def test_across_an_sla_version_change_the_clocks_are_those_of_the_older_version(
    mql_definition, sla, make_user
):
    older_version = sla[0]
    make_user("sales_leader")
    lead = LeadFactory()
    t2 = SWITCH + timedelta(days=1)
    pricing_visit(lead, t2)
    _qualify(lead, t2 + timedelta(minutes=1))
    first_clock = SlaClock.objects.get(lead=lead, kind="first_contact")
    # It ran out and the owner was told.
    clocks_breach(now=first_clock.due_at + timedelta(hours=1))
    assert Alert.objects.filter(clock=first_clock, kind="breach").count() == 1

    t1 = SWITCH - timedelta(days=3)
    demo_request(lead, t1)
    _qualify(lead, first_clock.due_at + timedelta(hours=2), earliest=t1)

    clocks = {c.kind: c for c in SlaClock.objects.filter(lead=lead)}
    assert set(clocks) == {"first_contact", "disposition"}  # the older version's commitments
    assert {c.sla_version_id for c in clocks.values()} == {older_version.pk}
    assert {c.started_at for c in clocks.values()} == {t1}
    # The same row, re-keyed: its breach alert stays attached and is not raised again.
    assert clocks["first_contact"].pk == first_clock.pk
    assert clocks["first_contact"].commitment.params["hours"] == 8
    clocks_breach(now=first_clock.due_at + timedelta(hours=3))
    assert Alert.objects.filter(lead=lead, kind="breach", clock__kind="first_contact").count() == 1


# --- bounded queries ---------------------------------------------------------------------------


def _mqls(count):
    leads = LeadFactory.create_batch(count)
    for lead in leads:
        pricing_visit(lead, NOW - timedelta(days=1))
    qualify(lead_ids=[lead.pk for lead in leads], now=NOW - timedelta(hours=20))
    return leads


def _redate_all(leads, *, days_ago):
    for lead in leads:
        demo_request(lead, NOW - timedelta(days=days_ago))
    earliest = {lead.pk: NOW - timedelta(days=days_ago) for lead in leads}
    with CaptureQueriesContext(connection) as queries:
        qualify(lead_ids=list(earliest), now=NOW, earliest_new_activity=earliest)
    return len(queries)


def test_re_dating_a_batch_costs_the_same_queries_for_5_or_60_leads(mql_definition, sla):
    few, many = _mqls(5), _mqls(60)

    assert _redate_all(few, days_ago=6) == _redate_all(many, days_ago=6)
    assert MqlEvent.objects.filter(qualified_at=NOW - timedelta(days=6)).count() == 65
    assert SlaClock.objects.filter(started_at=NOW - timedelta(days=6)).count() == 65 * 2


def test_a_batch_with_nothing_older_costs_what_it_did_before(mql_definition, sla):
    leads = _mqls(20)
    newer = {lead.pk: NOW - timedelta(hours=1) for lead in leads}
    with CaptureQueriesContext(connection) as without:
        qualify(lead_ids=list(newer), now=NOW)
    with CaptureQueriesContext(connection) as with_times:
        qualify(lead_ids=list(newer), now=NOW, earliest_new_activity=newer)
    assert len(with_times) == len(without)
