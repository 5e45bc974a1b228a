"""Routing: ordered rules, round robin per pool, fallback, manual reassignment, fairness under concurrency."""

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import pytest

from apps.accounts.exceptions import DomainError, NotAllowed
from apps.accounts.models import User
from apps.leads import owners
from apps.leads.models import Assignment, Lead, RoutingRule
from apps.leads.routing import conditions_clean, describe_condition, rule_matches
from tests.leads.committed import committed
from tests.leads.factories import LeadFactory, RoutingRuleFactory


def route(*leads):
    return owners.leads_route(lead_ids=[lead.pk for lead in leads])


@pytest.fixture
def reps(make_user):
    return [make_user("rep", name=f"Rep {n}") for n in range(3)]


def test_conditions_are_cleaned_and_matched():
    conditions, problems = conditions_clean(
        [
            {"field": "company_size", "op": "gte", "value": "500"},
            {"field": "country", "op": "in", "value": "de, fr"},
            {"field": "industry", "op": "equals", "value": "Software"},
        ]
    )
    assert not problems
    assert conditions[1] == {"field": "country", "op": "in", "value": ["DE", "FR"]}
    lead = {"company_size": 800, "country": "DE", "industry": "software"}
    assert rule_matches(conditions, lead)
    assert not rule_matches(conditions, {**lead, "company_size": 499})
    assert not rule_matches(conditions, {**lead, "company_size": None})  # unknown never matches
    assert describe_condition(conditions[0]) == "Company size (employees) ≥ 500"


@pytest.mark.parametrize(
    "bad",
    [
        {"field": "shoe_size", "op": "equals", "value": 1},
        {"field": "country", "op": "gte", "value": 3},
        {"field": "company_size", "op": "gte", "value": "big"},
        {"field": "country", "op": "in", "value": ""},
        {"field": "source", "op": "like", "value": "x"},
    ],
)
def test_bad_conditions_are_explained(bad):
    _, problems = conditions_clean([bad])
    assert problems and problems[0].startswith("Condition 1:")


def test_first_matching_rule_wins_and_rotates_its_pool(acme, reps):
    enterprise = RoutingRuleFactory(
        name="Enterprise",
        conditions=[{"field": "company_size", "op": "gte", "value": 500}],
        pool=reps[:2],
    )
    RoutingRuleFactory(
        name="EMEA",
        conditions=[{"field": "region", "op": "equals", "value": "EMEA"}],
        pool=[reps[2]],
    )
    big = [LeadFactory(company_size=1000, region="EMEA") for _ in range(4)]
    emea = LeadFactory(company_size=50, region="EMEA")
    assignments = route(*big, emea)
    owners = {a.lead_id: a.owner for a in assignments}
    assert [owners[lead.pk] for lead in big] == [reps[0], reps[1], reps[0], reps[1]]
    assert owners[emea.pk] == reps[2]
    record = Assignment.objects.get(lead=big[0])
    assert record.rule == enterprise and record.reason == "Routing rule “Enterprise”"
    lead = Lead.objects.get(pk=big[0].pk)
    assert lead.owner == reps[0] and lead.assigned_at == record.assigned_at


def test_fallback_takes_the_rest_and_owned_leads_keep_their_owner(acme, reps, make_user):
    RoutingRuleFactory(name="Fallback", is_fallback=True, position=0, pool=reps)
    RoutingRuleFactory(
        name="US", conditions=[{"field": "country", "op": "equals", "value": "US"}], pool=[reps[2]]
    )
    owned = LeadFactory(owner=reps[0], country="US")
    us, other = LeadFactory(country="US"), LeadFactory(country="JP")
    assignments = route(owned, us, other)
    assert {a.lead_id: a.owner for a in assignments} == {us.pk: reps[2], other.pk: reps[0]}
    assert Lead.objects.get(pk=owned.pk).owner == reps[0]
    assert not Assignment.objects.filter(lead=owned).exists()


def test_inactive_people_are_skipped_and_empty_pools_fall_through(acme, reps):
    reps[1].is_active = False
    reps[1].save()
    RoutingRuleFactory(name="Nobody", pool=[])
    rule = RoutingRuleFactory(name="Team", pool=reps)
    leads = [LeadFactory() for _ in range(4)]
    owners = [a.owner for a in route(*leads)]
    assert owners == [reps[0], reps[2], reps[0], reps[2]]
    rule.refresh_from_db()
    assert rule.cursor == 0  # the next turn is reps[0]'s again


def test_no_rule_leaves_the_lead_unassigned(acme):
    lead = LeadFactory()
    assert route(lead) == []
    assert Lead.objects.get(pk=lead.pk).owner is None


def test_reassign_by_the_sales_leader(acme, reps, make_user):
    leader = make_user("sales_leader")
    lead = LeadFactory(owner=reps[0])
    assignment = owners.lead_reassign(
        lead=lead, owner=reps[1], actor=leader, reason="Speaks German"
    )
    assert assignment.assigned_by == leader and assignment.reason == "Speaks German"
    assert Lead.objects.get(pk=lead.pk).owner == reps[1]
    with pytest.raises(DomainError) as exc:
        owners.lead_reassign(lead=lead, owner=reps[1], actor=leader)
    assert exc.value.field == "owner"
    with pytest.raises(NotAllowed):
        owners.lead_reassign(lead=lead, owner=reps[2], actor=reps[0])


def test_route_now_re_runs_the_rules(acme, reps, make_user):
    leader = make_user("sales_leader")
    lead = LeadFactory(owner=reps[0])
    with pytest.raises(DomainError) as exc:
        owners.lead_route_now(lead=lead, actor=leader)
    assert exc.value.field == "routing"
    RoutingRuleFactory(name="Team", pool=[reps[2]])
    assignment = owners.lead_route_now(lead=lead, actor=leader)
    assert assignment.owner == reps[2] and assignment.assigned_by == leader
    assert Lead.objects.get(pk=lead.pk).owner == reps[2]


def test_rule_editing_service(acme, reps, make_user):
    leader = make_user("sales_leader")
    first = owners.routing_rule_save(
        rule=None,
        name="EMEA",
        conditions=[{"field": "region", "op": "equals", "value": "EMEA"}],
        pool=reps[:1],
        is_fallback=False,
        is_active=True,
        actor=leader,
    )
    second = owners.routing_rule_save(
        rule=None,
        name="Everyone",
        conditions=[],
        pool=reps,
        is_fallback=True,
        is_active=True,
        actor=leader,
    )
    assert second.position > first.position
    with pytest.raises(DomainError) as exc:
        owners.routing_rule_save(
            rule=None,
            name="Another",
            conditions=[],
            pool=reps,
            is_fallback=True,
            is_active=True,
            actor=leader,
        )
    assert exc.value.field == "is_fallback"
    with pytest.raises(DomainError) as exc:
        owners.routing_rule_save(
            rule=first,
            name="EMEA",
            conditions=[{"field": "x", "op": "equals", "value": 1}],
            pool=reps,
            is_fallback=False,
            is_active=True,
            actor=leader,
        )
    assert exc.value.field == "conditions"
    third = owners.routing_rule_save(
        rule=None,
        name="US",
        conditions=[],
        pool=reps,
        is_fallback=False,
        is_active=True,
        actor=leader,
    )
    owners.routing_rule_move(rule=third, direction="up", actor=leader)
    order = list(RoutingRule.objects.order_by("position").values_list("name", flat=True))
    assert order == ["EMEA", "US", "Everyone"]


# --- fairness under concurrency ------------------------------------------------------------
#
# Real threads, each with its own database connection, route committed leads at the same
# moment. Rows made inside the test's transaction would be invisible to them and
# `transactional_db` would flush the public tenants table, so the set-up is committed on a
# separate connection (tests/leads/committed.py) in the shared `acme` schema and exactly
# those rows are deleted afterwards.

THREADS = 6
LEADS_PER_THREAD = 5


def test_round_robin_is_fair_under_concurrent_routing(acme):
    schema = acme.schema_name
    tag = uuid.uuid4().hex[:8]

    def create():
        pool = [
            User.objects.create_user(f"fair-{tag}-{n}@acme.test", name=f"Fair {n}", role="rep")
            for n in range(3)
        ]
        rule = RoutingRule.objects.create(name=f"Fair {tag}", position=0)
        rule.pool.set(pool)
        leads = [
            Lead.objects.create(external_id=f"fair-{tag}-{n}")
            for n in range(THREADS * LEADS_PER_THREAD)
        ]
        return pool, rule, leads

    def remove():
        Assignment.objects.filter(lead__external_id__startswith=f"fair-{tag}-").delete()
        Lead.objects.filter(external_id__startswith=f"fair-{tag}-").delete()
        RoutingRule.objects.filter(name=f"Fair {tag}").delete()
        User.objects.filter(email__startswith=f"fair-{tag}-").delete()

    pool, rule, leads = committed(schema, create)
    barrier = threading.Barrier(THREADS)

    def route_each(chunk):
        barrier.wait()
        for lead in chunk:  # one routing transaction per lead, interleaved across threads
            owners.leads_route(lead_ids=[lead.pk])

    try:
        with ThreadPoolExecutor(THREADS) as executor:
            futures = [
                executor.submit(
                    committed, schema, lambda chunk=leads[i::THREADS]: route_each(chunk)
                )
                for i in range(THREADS)
            ]
            for future in futures:
                future.result(timeout=120)
        # Read on the test's own connection: READ COMMITTED sees what the threads committed.
        sequence = list(
            Assignment.objects.filter(rule=rule).order_by("pk").values_list("owner_id", flat=True)
        )
        assert len(sequence) == THREADS * LEADS_PER_THREAD
        assert Counter(sequence) == dict.fromkeys((u.pk for u in pool), len(sequence) // 3)
        # Each routing saw the cursor the previous one committed: a strict rotation.
        assert all(a != b for a, b in pairwise(sequence))
    finally:
        committed(schema, remove)
