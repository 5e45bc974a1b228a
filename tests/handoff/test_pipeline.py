"""The hand-off pipeline: every channel's batch runs qualify → stage → route → clocks, and a batch
costs the same statements whatever its size."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.handoff import channels
from apps.leads.models import Assignment, Lead, Stage, StageChange
from apps.mql import services as mql_services
from apps.mql.models import MqlDefinition, MqlEvent
from apps.sla.models import SlaClock
from tests.compliance import factories as sla_f
from tests.leads.factories import RoutingRuleFactory
from tests.mql.factories import PQL_RULES, published_definition
from tests.sla.factories import DISPOSITION_48H, FIRST_CONTACT_4H, FOLLOW_UP_6_IN_14

NOW = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)  # a Monday afternoon


@pytest.fixture
def organization(acme, make_user):
    """An MQL and a PQL definition, a signed SLA with three clocks, a round-robin pool of two."""
    MqlDefinition.objects.filter(status="published").update(status="retired")
    published_definition()
    published_definition(PQL_RULES, kind="pql")
    sla_f.signed_version(
        effective_at=NOW - timedelta(days=60),
        commitments=(FIRST_CONTACT_4H, FOLLOW_UP_6_IN_14, DISPOSITION_48H),
    )
    reps = [make_user("rep"), make_user("rep")]
    RoutingRuleFactory(name="Everyone", is_fallback=True, pool=reps)
    return reps


def _leads(tag: str, count: int, *, history: bool = False) -> list[Lead]:
    leads = Lead.objects.bulk_create(
        Lead(
            external_id=f"{tag}-{i}",
            email=f"buyer{i}@{tag}.example",
            company_size=300,
            country="US",
            created_at=NOW - timedelta(days=20),
            stage_changed_at=NOW - timedelta(days=20),
        )
        for i in range(count)
    )
    if history:  # every lead read the blog: behaviour facts of a kind the definition reads
        channels.activities_ingest(
            items=[
                _activity(f"{tag}-old-{i}", lead, "/blog", NOW - timedelta(days=10))
                for i, lead in enumerate(leads)
            ],
            channel="api",
            actor=None,
            now=NOW - timedelta(days=10),
        )
    return leads


def _activity(external_id: str, lead: Lead, url: str, at: datetime) -> dict:
    return {
        "external_id": external_id,
        "lead": lead.external_id,
        "kind": "page_view",
        "occurred_at": at.isoformat(),
        "properties": {"url": url},
    }


def _ingest(items: list[dict]) -> tuple[int, object]:
    """The batch's statements (django-tenants' SET search_path, sent once per connection and
    tenant, is not one of them) and its result."""
    with CaptureQueriesContext(connection) as queries:
        result = channels.activities_ingest(items=items, channel="api", actor=None, now=NOW)
    statements = [q["sql"] for q in queries.captured_queries]
    assert sum(s.startswith("SET search_path") for s in statements) <= 1
    return len([s for s in statements if not s.startswith("SET search_path")]), result


def _qualifying_batch(tag: str, count: int) -> tuple[int, list[Lead]]:
    leads = _leads(tag, count, history=True)
    items = [
        _activity(f"{tag}-pricing-{i}", lead, "/pricing", NOW - timedelta(hours=1))
        for i, lead in enumerate(leads)
    ]
    statements, result = _ingest(items)
    assert result.created == count
    return statements, leads


def test_every_lead_of_a_batch_becomes_an_mql_routed_with_its_clocks(organization):
    _, leads = _qualifying_batch("every", 10)

    ids = [lead.pk for lead in leads]
    assert (
        Lead.objects.filter(pk__in=ids, stage=Stage.MQL, mql_at=NOW - timedelta(hours=1)).count()
        == 10
    )
    assert MqlEvent.objects.filter(lead_id__in=ids, kind="mql").count() == 10
    assert (
        StageChange.objects.filter(lead_id__in=ids, from_stage="lead", to_stage="mql").count() == 10
    )
    # Round robin over the pool: five each.
    owners = list(Assignment.objects.filter(lead_id__in=ids).values_list("owner_id", flat=True))
    assert sorted(owners.count(rep.pk) for rep in organization) == [5, 5]
    assert Lead.objects.filter(pk__in=ids, owner__isnull=True).count() == 0
    assert SlaClock.objects.filter(lead_id__in=ids, state="pending").count() == 3 * 10


def test_turning_1000_leads_into_mqls_costs_the_statements_of_10(organization):
    few, _ = _qualifying_batch("few", 10)
    many, leads = _qualifying_batch("many", 1000)

    assert many == few
    ids = [lead.pk for lead in leads]
    assert MqlEvent.objects.filter(lead_id__in=ids).count() == 1000
    assert Assignment.objects.filter(lead_id__in=ids).count() == 1000
    assert SlaClock.objects.filter(lead_id__in=ids).count() == 3000
    assert StageChange.objects.filter(lead_id__in=ids, to_stage="mql").count() == 1000


def test_a_batch_that_qualifies_nobody_replays_no_rule_and_costs_the_statements_of_10(
    organization, monkeypatch
):
    few_leads = _leads("quiet-few", 10, history=True)
    many_leads = _leads("quiet-many", 1000, history=True)
    replayed = []
    real = mql_services.leads_qualify

    def leads_qualify(**kwargs):
        result = real(**kwargs)
        replayed.append(len(result.leads))
        return result

    monkeypatch.setattr("apps.mql.services.leads_qualify", leads_qualify)

    def blog(tag, leads):
        return [
            _activity(f"{tag}-blog-{i}", lead, "/blog/new", NOW - timedelta(minutes=5))
            for i, lead in enumerate(leads)
        ]

    few, _ = _ingest(blog("quiet-few", few_leads))
    many, result = _ingest(blog("quiet-many", many_leads))

    assert result.created == 1000 and many == few
    # Without a pricing visit, a demo request or the ebook no lead can meet the MQL
    # definition, nor the PQL one without product events: none is even read for a replay.
    assert replayed == [0, 0]
    assert not MqlEvent.objects.filter(lead__external_id__startswith="quiet-").exists()
