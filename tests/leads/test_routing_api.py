"""Routing rules by API: list, create, change, reorder, delete, for sales leaders and admins, with
the routing page's rules (validated conditions, one fallback, pools of active reps)."""

import json

import pytest
from django.urls import reverse
from django_tenants.utils import schema_context

from apps.accounts.models import AuditEvent
from apps.leads.models import Assignment, RoutingRule
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

LIST = reverse("api:leads:routing_rule_list")
REORDER = reverse("api:leads:routing_rule_reorder")
MANAGERS = ["sales_leader", "admin"]
OTHERS = ["rep", "marketer", "marketing_leader", "executive", "integration"]


def detail(pk: int) -> str:
    return reverse("api:leads:routing_rule_detail", kwargs={"pk": pk})


def send(client, method: str, url: str, payload=None):
    return getattr(client, method)(url, payload or {}, content_type="application/json")


@pytest.fixture
def reps(make_user):
    return [make_user("rep", email=f"router{n}@acme.test", name=f"Router {n}") for n in range(3)]


@pytest.fixture
def leader(api_as):
    return api_as("sales_leader")


def _route(client, lead) -> str:
    response = client.post(reverse("api:leads:lead_route", kwargs={"pk": lead.pk}))
    assert response.status_code in (200, 201), response.content
    lead.refresh_from_db()
    return lead.owner.email


def test_create_then_routing_follows_the_rules(leader, reps):
    germany = send(
        leader,
        "post",
        LIST,
        {
            "name": "  DACH  enterprise ",
            "conditions": [
                {"field": "country", "op": "in", "value": "de, at"},
                {"field": "company_size", "op": "gte", "value": "500"},
            ],
            "pool": [reps[0].email, reps[1].email.upper()],
        },
    )
    assert germany.status_code == 201, germany.content
    body = germany.json()
    assert body["name"] == "DACH enterprise"
    assert body["conditions"] == [
        {"field": "country", "op": "in", "value": ["DE", "AT"]},
        {"field": "company_size", "op": "gte", "value": 500},
    ]
    assert body["description"] == [
        "Country (ISO code) is one of DE, AT",
        "Company size (employees) ≥ 500",
    ]
    assert [p["email"] for p in body["pool"]] == [reps[0].email, reps[1].email]
    assert body["is_active"] and not body["is_fallback"] and body["routed_last_30_days"] == 0
    fallback = send(
        leader,
        "post",
        LIST,
        {"name": "Everyone else", "pool": [reps[2].email], "is_fallback": True},
    )
    assert fallback.status_code == 201, fallback.content

    big_german = LeadFactory(country="DE", company_size=800)
    small_german = LeadFactory(country="DE", company_size=20)
    assert _route(leader, big_german) in {reps[0].email, reps[1].email}
    assert _route(leader, small_german) == reps[2].email
    assignment = Assignment.objects.filter(lead=big_german).latest("assigned_at")
    assert assignment.rule_id == body["id"]

    listed = leader.get(LIST).json()
    assert [r["name"] for r in listed["results"]] == ["DACH enterprise", "Everyone else"]
    assert listed["results"][0]["routed_last_30_days"] == 1
    assert AuditEvent.objects.filter(action="routing_rule.created").count() == 2


def test_patch_changes_only_what_is_sent(leader, reps):
    rule = send(
        leader,
        "post",
        LIST,
        {
            "name": "Software",
            "conditions": [{"field": "industry", "op": "equals", "value": "Software"}],
            "pool": [reps[0].email],
        },
    ).json()
    changed = send(leader, "patch", detail(rule["id"]), {"pool": [reps[1].email]})
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert [p["email"] for p in body["pool"]] == [reps[1].email]
    assert body["name"] == "Software" and body["conditions"] == rule["conditions"]
    paused = send(leader, "patch", detail(rule["id"]), {"is_active": False}).json()
    assert paused["is_active"] is False
    assert RoutingRule.objects.get(pk=rule["id"]).is_active is False
    assert leader.get(detail(rule["id"])).json()["is_active"] is False


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"pool": ["x@acme.test"]}, "name"),
        ({"name": "   ", "pool": ["{rep}"]}, "name"),
        ({"name": "No pool", "pool": []}, "pool"),
        ({"name": "Ghost", "pool": ["nobody@acme.test"]}, "pool"),
        (
            {
                "name": "Bad field",
                "pool": ["{rep}"],
                "conditions": [{"field": "shoe", "op": "equals"}],
            },
            "conditions",
        ),
        (
            {
                "name": "Bad number",
                "pool": ["{rep}"],
                "conditions": [{"field": "company_size", "op": "gte", "value": "big"}],
            },
            "conditions",
        ),
        (
            {
                "name": "Text order",
                "pool": ["{rep}"],
                "conditions": [{"field": "country", "op": "gte", "value": 3}],
            },
            "conditions",
        ),
        (
            {
                "name": "Picky fallback",
                "pool": ["{rep}"],
                "is_fallback": True,
                "conditions": [{"field": "country", "op": "equals", "value": "DE"}],
            },
            "conditions",
        ),
        ({"name": "Not a list", "pool": "{rep}"}, "pool"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(leader, reps, payload, field):
    payload = json.loads(json.dumps(payload).replace("{rep}", reps[0].email))
    response = send(leader, "post", LIST, payload)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not RoutingRule.objects.exists()


def test_a_pool_takes_only_active_reps_and_sales_leaders(leader, make_user, reps):
    marketer = make_user("marketer")
    gone = make_user("rep", is_active=False)
    for email in (marketer.email, gone.email):
        response = send(leader, "post", LIST, {"name": "Mixed", "pool": [reps[0].email, email]})
        assert response.status_code == 400 and email in response.json()["pool"][0]


def test_one_fallback_at_most(leader, reps):
    first = send(
        leader, "post", LIST, {"name": "Catch-all", "pool": [reps[0].email], "is_fallback": True}
    )
    assert first.status_code == 201
    second = send(
        leader, "post", LIST, {"name": "Another", "pool": [reps[1].email], "is_fallback": True}
    )
    assert second.status_code == 400 and "is_fallback" in second.json()
    rule = send(leader, "post", LIST, {"name": "Normal", "pool": [reps[1].email]}).json()
    switched = send(leader, "patch", detail(rule["id"]), {"is_fallback": True})
    assert switched.status_code == 400 and "is_fallback" in switched.json()


def test_reorder_changes_which_rule_takes_a_lead(leader, reps):
    germany = send(
        leader,
        "post",
        LIST,
        {
            "name": "Germany",
            "pool": [reps[0].email],
            "conditions": [{"field": "country", "op": "equals", "value": "DE"}],
        },
    ).json()
    big = send(
        leader,
        "post",
        LIST,
        {
            "name": "Big",
            "pool": [reps[1].email],
            "conditions": [{"field": "company_size", "op": "gte", "value": 100}],
        },
    ).json()
    lead = LeadFactory(country="DE", company_size=900)
    assert _route(leader, lead) == reps[0].email

    response = send(leader, "post", REORDER, {"ordered_ids": [big["id"], germany["id"]]})
    assert response.status_code == 200, response.content
    assert [r["name"] for r in response.json()["routing_rules"]] == ["Big", "Germany"]
    assert [r["position"] for r in response.json()["routing_rules"]] == [1, 2]
    assert _route(leader, lead) == reps[1].email
    assert AuditEvent.objects.filter(action="routing_rule.reordered").exists()


@pytest.mark.parametrize(
    "change",
    [lambda ids: ids[:1], lambda ids: [*ids, ids[0]], lambda ids: [*ids, 999999]],
)
def test_reorder_with_a_stale_list_is_a_conflict(leader, reps, change):
    ids = [
        send(leader, "post", LIST, {"name": f"R{n}", "pool": [reps[0].email]}).json()["id"]
        for n in range(2)
    ]
    response = send(leader, "post", REORDER, {"ordered_ids": change(ids)})
    assert response.status_code == 409 and "ordered_ids" in response.json()
    assert list(RoutingRule.objects.order_by("position").values_list("pk", flat=True)) == ids


def test_reorder_validates_its_input(leader):
    response = send(leader, "post", REORDER, {"ordered_ids": "1,2"})
    assert response.status_code == 400 and "ordered_ids" in response.json()
    response = send(leader, "post", REORDER, {})
    assert response.status_code == 400 and "ordered_ids" in response.json()


def test_delete_keeps_past_assignments(leader, reps):
    rule = send(leader, "post", LIST, {"name": "Temp", "pool": [reps[0].email]}).json()
    lead = LeadFactory()
    _route(leader, lead)
    response = leader.delete(detail(rule["id"]))
    assert response.status_code == 204
    assert not RoutingRule.objects.filter(pk=rule["id"]).exists()
    assignment = Assignment.objects.get(lead=lead)
    assert assignment.rule_id is None and assignment.owner == reps[0]
    assert leader.get(detail(rule["id"])).status_code == 404
    assert leader.delete(detail(rule["id"])).status_code == 404
    assert AuditEvent.objects.filter(action="routing_rule.deleted", target="Temp").exists()


@pytest.mark.parametrize("role", MANAGERS)
def test_managers_may_use_every_operation(api_as, reps, role):
    api = api_as(role)
    rule = send(api, "post", LIST, {"name": f"By {role}", "pool": [reps[0].email]})
    assert rule.status_code == 201
    pk = rule.json()["id"]
    assert api.get(detail(pk)).status_code == 200
    assert send(api, "patch", detail(pk), {"name": "Renamed"}).status_code == 200
    assert send(api, "post", REORDER, {"ordered_ids": [pk]}).status_code == 200
    assert api.delete(detail(pk)).status_code == 204


@pytest.mark.parametrize("role", OTHERS)
def test_other_roles_may_not_read_or_change_rules(api_as, leader, reps, role):
    pk = send(leader, "post", LIST, {"name": "Guarded", "pool": [reps[0].email]}).json()["id"]
    api = api_as(role)
    assert api.get(LIST).status_code == 403
    assert api.get(detail(pk)).status_code == 403
    assert send(api, "post", LIST, {"name": "Mine", "pool": [reps[0].email]}).status_code == 403
    assert send(api, "patch", detail(pk), {"name": "Mine"}).status_code == 403
    assert send(api, "post", REORDER, {"ordered_ids": [pk]}).status_code == 403
    assert api.delete(detail(pk)).status_code == 403
    assert RoutingRule.objects.get(pk=pk).name == "Guarded"


def test_another_organizations_rules_are_invisible_and_untouchable(leader, globex):
    with schema_context(globex.schema_name):
        theirs = RoutingRule.objects.create(name="Globex rule", position=1)
    names = {r["name"] for r in leader.get(LIST).json()["results"]}
    assert "Globex rule" not in names
    seen = leader.get(detail(theirs.pk))
    assert seen.status_code == 404 or seen.json()["name"] != "Globex rule"
    leader.delete(detail(theirs.pk))
    with schema_context(globex.schema_name):
        assert RoutingRule.objects.filter(pk=theirs.pk, name="Globex rule").exists()
