"""MQL definitions API: read, draft, publish with the marketing leader's token, evaluate a lead."""

import json
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from apps.mql.models import DefinitionStatus, MqlDefinition
from tests.handoff.batches import qualify
from tests.mql.factories import MQL_RULES, LeadFactory, demo_request, published_definition


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def test_draft_edit_publish_through_the_api(api_as, make_user):
    marketer = api_as("marketer")
    created = post(
        marketer,
        reverse("api:mql:definition_list"),
        {"kind": "mql", "name": "API draft", "rules": MQL_RULES},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["warnings"], body["created_by"]) == (
        "draft",
        [],
        marketer.user.email,
    )
    assert MqlDefinition.objects.get(pk=body["id"]).version == body["version"]

    url = reverse("api:mql:definition_detail", args=[body["id"]])
    patched = marketer.patch(url, json.dumps({"name": "Renamed"}), content_type="application/json")
    assert patched.json()["name"] == "Renamed"

    publish_url = reverse("api:mql:definition_publish", args=[body["id"]])
    assert marketer.post(publish_url).status_code == 403
    published = api_as("marketing_leader").post(publish_url)
    assert published.status_code == 200 and published.json()["status"] == "published"

    again = marketer.patch(url, json.dumps({"name": "x"}), content_type="application/json")
    assert again.status_code == 409 and "status" in again.json()


def test_invalid_rules_name_each_path(api_as):
    response = post(
        api_as("marketing_leader"),
        reverse("api:mql:definition_list"),
        {"name": "Bad", "rules": {"behaviour": {"conditions": [{"kind": "telepathy"}]}}},
    )
    assert response.status_code == 400
    assert "rules.behaviour.conditions[0].kind" in response.json()


def test_integrations_and_reps_read_but_do_not_draft(api_as, acme):
    published = published_definition()
    drafts = MqlDefinition.objects.filter(status=DefinitionStatus.DRAFT).count()
    for role in ("integration", "rep"):
        client = api_as(role)
        listed = client.get(reverse("api:mql:definition_list") + "?status=published&kind=mql")
        assert listed.status_code == 200
        assert [d["id"] for d in listed.json()["results"]] == [published.pk]
        refused = post(client, reverse("api:mql:definition_list"), {"name": "x"})
        assert refused.status_code == 403
    assert MqlDefinition.objects.filter(status=DefinitionStatus.DRAFT).count() == drafts


def test_evaluate_a_lead_on_demand(api_as, make_user):
    definition = published_definition()
    rep = make_user("rep")
    lead = LeadFactory(owner=rep)
    demo_request(lead, timezone.now() - timedelta(days=1))
    qualify(lead_ids=[lead.pk], now=timezone.now())

    response = api_as("rep", user=rep).get(reverse("api:mql:lead_evaluate", args=[lead.pk]))

    assert response.status_code == 200
    body = response.json()
    assert body["stage"] == "mql" and body["mql_at"] is not None
    [evaluation] = body["evaluations"]
    assert evaluation["qualified"] is True and evaluation["definition"]["kind"] == "mql"
    assert body["why_mql"]["definition"]["version"] == definition.version
    assert body["fit"]["grade"] == "D" and body["fit"]["matches"] == []  # no ICP yet
    # Another rep's lead is not theirs to read.
    assert api_as("rep").get(reverse("api:mql:lead_evaluate", args=[lead.pk])).status_code == 404


def test_unknown_kind_is_a_400_naming_the_field(api_as):
    response = post(
        api_as("marketer"), reverse("api:mql:definition_list"), {"kind": "xql", "name": "X"}
    )
    assert response.status_code == 400 and "kind" in response.json()
