"""Qualification on ingest: mql_at from the facts, idempotence, nurture, PQL, bounded queries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from apps.handoff.channels import activities_ingest, leads_upsert
from apps.leads.models import Lead, Stage
from apps.leads.stages import lead_stage_change
from apps.mql.models import MqlDefinition, MqlEvent
from apps.mql.selectors import mql_explanation
from apps.mql.services import leads_qualify
from tests.handoff.batches import qualify
from tests.mql.factories import (
    PQL_RULES,
    ActivityFactory,
    LeadFactory,
    demo_request,
    pricing_visit,
    published_definition,
)

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_other_published_definition(acme):
    """Only this test's definitions decide (committed tests of other apps share the tenant)."""
    MqlDefinition.objects.filter(status="published").update(status="retired")


@pytest.fixture
def mql_definition(acme):
    return published_definition()


def test_back_filled_history_dates_the_mql_from_the_activity_not_from_now(mql_definition):
    lead = LeadFactory()
    ActivityFactory(lead=lead, occurred_at=NOW - timedelta(days=9), properties={"url": "/blog"})
    visit = pricing_visit(lead, NOW - timedelta(days=3, hours=2))

    events = qualify(lead_ids=[lead.pk], now=NOW)

    assert len(events) == 1
    event = events[0]
    assert event.qualified_at == visit.occurred_at
    assert event.trigger_activity_id == visit.pk
    assert event.kind == "mql" and event.definition == mql_definition
    assert event.score == pytest.approx(40.0)
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL
    assert lead.mql_at == visit.occurred_at
    change = lead.stage_changes.get()
    assert (change.from_stage, change.to_stage, change.channel) == ("lead", "mql", "system")
    assert change.occurred_at == visit.occurred_at


def test_the_explanation_says_why_with_version_conditions_and_score(mql_definition):
    lead = LeadFactory()
    visit = pricing_visit(lead, NOW - timedelta(days=1))
    qualify(lead_ids=[lead.pk], now=NOW)

    why = mql_explanation(lead=lead)

    assert why["definition"] == {
        "id": mql_definition.pk,
        "kind": "mql",
        "version": mql_definition.version,
        "name": mql_definition.name,
    }
    assert why["qualified_at"] == visit.occurred_at
    met = {c["label"] for c in why["conditions"] if c["met"]}
    assert {"Visited pricing", "Company size is at least 50"} <= met
    assert [line["rule_id"] for line in why["score_lines"]] == ["pricing_visit"]
    assert why["score_lines"][0]["points_after_decay"] == pytest.approx(40.0)
    assert why["threshold"] == 40
    assert why["reasons"][0].startswith("Qualified")


def test_qualifying_twice_creates_nothing_new(mql_definition):
    lead = LeadFactory()
    pricing_visit(lead, NOW - timedelta(days=1))

    assert len(qualify(lead_ids=[lead.pk], now=NOW)) == 1
    assert qualify(lead_ids=[lead.pk, lead.pk], now=NOW + timedelta(hours=1)) == []
    assert MqlEvent.objects.filter(lead=lead).count() == 1


def test_out_of_order_delivery_gives_the_same_mql_at(mql_definition):
    moments = [NOW - timedelta(days=d) for d in (20, 12, 5, 2)]
    in_order, reversed_order = LeadFactory(), LeadFactory()
    for lead, times in ((in_order, moments), (reversed_order, list(reversed(moments)))):
        for at in times:
            if at == moments[1]:
                demo_request(lead, at)
            else:
                pricing_visit(lead, at)

    events = {e.lead_id: e for e in qualify(lead_ids=[in_order.pk, reversed_order.pk], now=NOW)}

    # The first pricing visit (20 days ago) already qualified the lead back then.
    assert events[in_order.pk].qualified_at == moments[0]
    assert events[reversed_order.pk].qualified_at == moments[0]


def test_a_lead_that_does_not_fit_stays_a_lead_until_its_fields_change(mql_definition):
    lead = LeadFactory(company_size=10)
    demo_request(lead, NOW - timedelta(days=2))
    assert qualify(lead_ids=[lead.pk], now=NOW) == []

    changed = NOW + timedelta(hours=3)
    lead.company_size = 800
    lead.fields_changed_at = changed
    lead.save()
    events = qualify(lead_ids=[lead.pk], now=NOW + timedelta(hours=4))

    # Not dated back to the visit: we only know the company was big enough from `changed` on.
    assert [e.qualified_at for e in events] == [changed]
    assert events[0].trigger_activity_id is None


def test_an_mql_stays_an_mql_as_its_score_decays(mql_definition):
    lead = LeadFactory()
    pricing_visit(lead, NOW - timedelta(days=1))
    qualify(lead_ids=[lead.pk], now=NOW)

    later = qualify(lead_ids=[lead.pk], now=NOW + timedelta(days=60))

    lead.refresh_from_db()
    assert later == [] and lead.stage == Stage.MQL


def test_disqualified_leads_do_not_requalify(mql_definition):
    lead = LeadFactory(stage=Stage.DISQUALIFIED)
    pricing_visit(lead, NOW - timedelta(days=1))
    assert qualify(lead_ids=[lead.pk], now=NOW) == []


def test_a_lead_back_in_nurture_qualifies_again_only_on_new_facts(mql_definition):
    lead = LeadFactory()
    first = pricing_visit(lead, NOW - timedelta(days=10))
    qualify(lead_ids=[lead.pk], now=NOW - timedelta(days=9))
    lead.refresh_from_db()
    returned_at = NOW - timedelta(days=8)
    lead_stage_change(lead=lead, to_stage=Stage.NURTURE, occurred_at=returned_at)
    # The old pricing visit is still within 7 days of the return: it must not bounce back.
    assert qualify(lead_ids=[lead.pk], now=returned_at + timedelta(hours=1)) == []

    second = demo_request(lead, NOW - timedelta(days=1))
    events = qualify(lead_ids=[lead.pk], now=NOW)

    assert [e.qualified_at for e in events] == [second.occurred_at]
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL and lead.mql_at == second.occurred_at
    history = list(MqlEvent.objects.filter(lead=lead).values_list("qualified_at", flat=True))
    assert history == [first.occurred_at, second.occurred_at]
    assert qualify(lead_ids=[lead.pk], now=NOW) == []


def test_a_pql_is_a_hand_off_too(acme):
    pql = published_definition(PQL_RULES, kind="pql")
    lead = LeadFactory()
    for hours in (30, 20, 10):
        ActivityFactory(
            lead=lead,
            kind="product_event",
            occurred_at=NOW - timedelta(hours=hours),
            properties={"event": "teammate_invited"},
        )

    events = qualify(lead_ids=[lead.pk], now=NOW)

    assert [(e.kind, e.definition_id) for e in events] == [("pql", pql.pk)]
    assert events[0].qualified_at == NOW - timedelta(hours=10)
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL and lead.mql_at == NOW - timedelta(hours=10)


def test_the_earlier_of_mql_and_pql_wins(mql_definition):
    published_definition(PQL_RULES, kind="pql")
    lead = LeadFactory()
    for hours in (50, 40, 30):
        ActivityFactory(
            lead=lead,
            kind="product_event",
            occurred_at=NOW - timedelta(hours=hours),
            properties={"event": "teammate_invited"},
        )
    pricing_visit(lead, NOW - timedelta(hours=5))

    [event] = qualify(lead_ids=[lead.pk], now=NOW)

    assert (event.kind, event.qualified_at) == ("pql", NOW - timedelta(hours=30))


def test_nothing_qualifies_without_a_published_definition(acme):
    lead = LeadFactory()
    pricing_visit(lead, NOW - timedelta(days=1))
    assert qualify(lead_ids=[lead.pk], now=NOW) == []


def test_new_mqls_are_routed_and_their_clocks_opened(mql_definition, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "apps.leads.owners.leads_route",
        lambda *, lead_ids, **kw: calls.append(("route", list(lead_ids))) or [],
    )
    monkeypatch.setattr(
        "apps.sla.clocks.clocks_start",
        lambda *, mql_events, **kw: calls.append(("clocks", list(mql_events))),
    )
    lead = LeadFactory()
    pricing_visit(lead, NOW - timedelta(days=1))

    events = qualify(lead_ids=[lead.pk], now=NOW)

    assert calls == [("route", [lead.pk]), ("clocks", events)]


def test_a_thousand_activity_batch_is_evaluated_in_a_bounded_number_of_queries(
    mql_definition, django_assert_max_num_queries
):
    # The MQL engine's own work (the stage changes, routing and clocks that follow are the
    # hand-off pipeline's: tests/handoff/test_pipeline.py counts the whole batch).
    leads = LeadFactory.create_batch(100)
    for i, lead in enumerate(leads):
        for j in range(10):
            url = "/pricing" if (i < 10 and j == 9) else f"/blog/{j}"
            ActivityFactory(
                lead=lead, occurred_at=NOW - timedelta(hours=10 * j + 1), properties={"url": url}
            )

    ids = [lead.pk for lead in leads]
    # Savepoint, definitions, the leads that may qualify (locked), their events, their
    # activities, release. Nobody qualifies at this moment (the pricing visits are in the
    # future), and the 90 leads without a pricing visit are not even read.
    with django_assert_max_num_queries(6) as none_yet:
        assert leads_qualify(lead_ids=ids, now=NOW - timedelta(days=30)).events == []
    # The ten new MQL events are one insert more.
    with django_assert_max_num_queries(7):
        events = leads_qualify(lead_ids=ids, now=NOW).events

    assert len(events) == 10
    assert len(none_yet.captured_queries) <= 6
    for event in events:  # what the hand-off pipeline does next
        lead_stage_change(lead=event.lead, to_stage=Stage.MQL, occurred_at=event.qualified_at)

    # A later batch of live facts for every lead: nothing is older than an MQL, so no MQL is
    # walked again, and the ten MQLs are not even read (the lock query leaves them out).
    for lead in leads:
        ActivityFactory(lead=lead, occurred_at=NOW, properties={"url": "/blog/new"})
    live = dict.fromkeys(ids, NOW)
    with django_assert_max_num_queries(6):
        assert leads_qualify(lead_ids=ids, now=NOW, earliest_new_activity=live).events == []

    # A batch of back-filled demo requests, older than the ten MQLs: they are all re-dated
    # with a fixed number of statements (reads as above plus their stage changes and the
    # events to update; one update; the audit row).
    older = NOW - timedelta(days=8)
    mqls = [event.lead_id for event in events]
    for lead_id in mqls:
        demo_request(Lead.objects.get(pk=lead_id), older)
    backfill = dict.fromkeys(mqls, older)
    with django_assert_max_num_queries(11):
        redated = leads_qualify(lead_ids=mqls, now=NOW, earliest_new_activity=backfill)
    assert redated.events == [] and len(redated.redated) == 10
    assert MqlEvent.objects.filter(lead_id__in=ids, qualified_at=older).count() == 10


def test_ingest_of_back_filled_history_in_two_batches_out_of_order(mql_definition, make_user):

    actor = make_user("marketing_leader")
    leads_upsert(
        items=[{"external_id": "crm-7", "email": "kim@bigco.example", "company_size": 300}],
        channel="api",
        actor=actor,
    )
    real_now = timezone.now()
    demo_at = real_now - timedelta(days=6)
    blog_at = real_now - timedelta(days=9)
    later_demo = real_now - timedelta(days=2)

    def activity(n, at, **properties):
        kind = "form_submit" if "form" in properties else "page_view"
        return {
            "external_id": f"ext-{n}",
            "lead": "crm-7",
            "kind": kind,
            "occurred_at": at.isoformat(),
            "properties": properties,
        }

    # The newest fact arrives first and qualifies the lead; the older demo request that
    # really made it an MQL arrives in the second batch.
    activities_ingest(
        items=[activity(3, later_demo, form="demo-request")], channel="api", actor=actor
    )
    lead = Lead.objects.get(external_id="crm-7")
    first_mql_at = lead.mql_at

    assert first_mql_at == later_demo  # what the stored facts said at that point
    activities_ingest(
        items=[activity(1, blog_at, url="/blog"), activity(2, demo_at, form="demo-request")],
        channel="api",
        actor=actor,
    )
    lead.refresh_from_db()
    # Still one MQL, but re-dated to the older demo request, as if the history had
    # arrived in order; the event remembers the moment it was first given.
    assert lead.mql_at == demo_at and lead.stage == Stage.MQL
    [event] = MqlEvent.objects.filter(lead=lead)
    assert event.qualified_at == demo_at
    assert event.trigger_activity.external_id == "ext-2"
    assert event.explanation["redated_from"] == first_mql_at.isoformat()
    assert lead.stage_changes.get(to_stage=Stage.MQL).occurred_at == demo_at

    # In a single batch, delivery order does not matter: the earliest qualifying fact wins.
    leads_upsert(
        items=[{"external_id": "crm-8", "company_size": 300, "email": "lee@bigco.example"}],
        channel="api",
        actor=actor,
    )
    batch = [
        activity(6, later_demo, form="demo-request"),
        activity(5, demo_at, form="demo-request"),
        activity(4, blog_at, url="/blog"),
    ]
    for item in batch:
        item["lead"] = "crm-8"
    activities_ingest(items=batch, channel="api", actor=actor)
    assert Lead.objects.get(external_id="crm-8").mql_at == demo_at


def test_back_in_nurture_a_field_change_dates_the_new_mql_not_before_it(mql_definition):
    lead = LeadFactory()
    demo_request(lead, NOW - timedelta(days=20))
    qualify(lead_ids=[lead.pk], now=NOW - timedelta(days=19))
    lead.refresh_from_db()
    lead_stage_change(lead=lead, to_stage=Stage.NURTURE, occurred_at=NOW - timedelta(days=10))
    demo_request(lead, NOW - timedelta(days=3))  # new, but the company was too small then
    lead.company_size = 10
    lead.save()
    assert qualify(lead_ids=[lead.pk], now=NOW - timedelta(days=2)) == []

    lead.company_size, lead.fields_changed_at = 900, NOW - timedelta(days=1)
    lead.save()
    [event] = qualify(lead_ids=[lead.pk], now=NOW)

    assert event.qualified_at == NOW - timedelta(days=1)
