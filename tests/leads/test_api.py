"""Leads API: bulk endpoints (limits, errors, partial success), list and detail, webhooks, tenancy."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django_tenants.utils import schema_context

from apps.leads import owners, services, stages
from apps.leads.models import Activity, Lead
from apps.leads.webhook_signatures import signature_for
from tests.leads.factories import ActivityFactory, LeadFactory

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def post_json(client, url, data, **headers):
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    return client.post(url, body, content_type="application/json", **headers)


@pytest.fixture
def integration(api_as):
    return api_as("integration")


def test_upsert_partial_success_answers_207_with_indexes(acme, integration):
    response = post_json(
        integration,
        reverse("api:leads:lead_upsert"),
        [{"external_id": "L1", "email": "ana@example.com"}, {"external_id": "L2", "email": "bad"}],
    )
    assert response.status_code == 207
    body = response.json()
    assert (body["created"], body["rejected"]) == (1, 1)
    assert body["errors"] == [
        {"index": 1, "errors": {"email": ["“bad” is not a valid email address."]}}
    ]
    assert Lead.objects.get(external_id="L1").email == "ana@example.com"


def test_upsert_all_good_is_200_all_bad_is_400(acme, integration):
    url = reverse("api:leads:lead_upsert")
    assert post_json(integration, url, {"items": [{"external_id": "L1"}]}).status_code == 200
    assert post_json(integration, url, {"external_id": "L1"}).json()["unchanged"] == 1
    assert post_json(integration, url, [{"email": "x@y.z"}]).status_code == 400


def test_over_the_limit_is_413_and_stores_nothing(acme, integration, settings):
    settings.API_BULK_MAX_ITEMS = 5
    response = post_json(
        integration, reverse("api:leads:lead_upsert"), [{"external_id": f"L{i}"} for i in range(6)]
    )
    assert response.status_code == 413
    assert "At most 5" in response.json()["items"][0]
    assert not Lead.objects.exists()


@pytest.mark.parametrize("body", ["{not json", "", "[]", "42", '"text"'])
def test_malformed_or_empty_bodies_are_400(acme, integration, body):
    for name in ("api:leads:lead_upsert", "api:leads:activity_ingest"):
        assert post_json(integration, reverse(name), body).status_code == 400


def test_activity_ingest_is_idempotent_over_http(acme, integration, make_user):
    rep = make_user("rep")
    LeadFactory(external_id="L1")
    batch = [
        {
            "external_id": "a1",
            "lead": "L1",
            "kind": "page_view",
            "occurred_at": T0.isoformat(),
            "properties": {"url": "/pricing"},
        },
        {
            "external_id": "a2",
            "lead": "L1",
            "kind": "call",
            "occurred_at": T0.isoformat(),
            "actor": rep.email,
        },
        {"external_id": "a3", "lead": "ghost", "kind": "call", "occurred_at": T0.isoformat()},
        {
            "external_id": "a4",
            "lead": "L1",
            "kind": "call",
            "occurred_at": T0.isoformat(),
            "actor": "who@acme.test",
        },
    ]
    url = reverse("api:leads:activity_ingest")
    first = post_json(integration, url, batch)
    assert first.status_code == 207
    assert first.json()["created"] == 2
    assert [e["index"] for e in first.json()["errors"]] == [2, 3]
    second = post_json(integration, url, batch).json()
    assert (second["created"], second["unchanged"], second["rejected"]) == (0, 2, 2)
    assert Activity.objects.count() == 2


def test_activity_ingest_takes_design_touch_names(acme, integration, make_user):
    rep = make_user("rep")
    LeadFactory(external_id="L-email")
    at = T0.isoformat()
    response = post_json(
        integration,
        reverse("api:leads:activity_ingest"),
        [
            {
                "external_id": "m1",
                "lead": "L-email",
                "kind": "email",
                "occurred_at": at,
                "actor": rep.email,
            },
            {
                "external_id": "m2",
                "lead": "L-email",
                "kind": "email_sent",
                "occurred_at": at,
                "actor": rep.email,
            },
        ],
    )
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 2
    stored = set(
        Activity.objects.filter(external_id__in=["m1", "m2"]).values_list("kind", "family")
    )
    assert stored == {("email_sent", "sales_touch")}


def test_ingestion_roles(acme, api_as):
    for role, allowed in [
        ("marketing_leader", True),
        ("sales_leader", True),
        ("marketer", False),
        ("rep", False),
    ]:
        status = post_json(
            api_as(role), reverse("api:leads:lead_upsert"), [{"external_id": f"x-{role}"}]
        ).status_code
        assert (status != 403) is allowed, role


def test_list_filters_and_cursor_pagination(acme, api_as, make_user):
    rep = make_user("rep")
    for n in range(7):
        LeadFactory(
            external_id=f"W{n}", source="webinar", campaign="Q1", owner=rep if n < 3 else None
        )
    LeadFactory(external_id="P1", source="paid_search", stage="mql")
    client = api_as("marketer")
    url = reverse("api:leads:lead_list")
    seen, next_url = [], f"{url}?source=webinar&page_size=3"
    while next_url:
        body = client.get(next_url).json()
        seen += [lead["external_id"] for lead in body["results"]]
        next_url = body["next"]
    assert sorted(seen) == [f"W{n}" for n in range(7)] and len(set(seen)) == 7
    assert [r["external_id"] for r in client.get(url, {"stage": "mql"}).json()["results"]] == ["P1"]
    owned = client.get(url, {"owner": rep.pk}).json()["results"]
    assert {r["external_id"] for r in owned} == {"W0", "W1", "W2"}
    assert owned[0]["owner"]["email"] == rep.email
    assert (
        client.get(url, {"owner": "none", "source": "webinar"}).json()["results"][0]["owner"]
        is None
    )
    assert client.get(url, {"created_from": "not-a-date"}).status_code == 400


def test_rep_sees_only_own_leads(acme, api_as, make_user):
    client = api_as("rep")
    mine = LeadFactory(owner=client.user)
    other = LeadFactory(owner=make_user("rep"))
    ids = [r["id"] for r in client.get(reverse("api:leads:lead_list")).json()["results"]]
    assert ids == [mine.pk]
    assert client.get(reverse("api:leads:lead_detail", args=[mine.pk])).status_code == 200
    assert client.get(reverse("api:leads:lead_detail", args=[other.pk])).status_code == 404


def test_detail_has_the_timeline(acme, api_as, make_user):
    rep = make_user("rep")
    lead = LeadFactory(external_id="L1")
    ActivityFactory(lead=lead, kind="content_download", properties={"asset": "enterprise-ebook"})
    owners.lead_reassign(lead=lead, owner=rep, actor=None)
    stages.lead_stage_change(lead=lead, to_stage="sql", occurred_at=T0 + timedelta(days=1))
    body = api_as("executive").get(reverse("api:leads:lead_detail", args=[lead.pk])).json()
    kinds = [entry["kind"] for entry in body["timeline"]]
    assert set(kinds) == {"activity", "stage_change", "assignment", "created"}
    download = next(e for e in body["timeline"] if e["kind"] == "activity")
    assert download["detail"] == "enterprise-ebook" and download["family"] == "engagement"


def test_reassign_and_route_over_the_api(acme, api_as, make_user):
    rep = make_user("rep")
    lead = LeadFactory()
    client = api_as("sales_leader")
    response = post_json(
        client, reverse("api:leads:lead_reassign", args=[lead.pk]), {"owner": rep.email}
    )
    assert response.status_code == 200 and response.json()["owner"]["id"] == rep.pk
    assert (
        post_json(
            client, reverse("api:leads:lead_reassign", args=[lead.pk]), {"owner": "x@y.z"}
        ).status_code
        == 400
    )
    response = post_json(client, reverse("api:leads:lead_route", args=[lead.pk]), {})
    assert response.status_code == 400 and "routing" in response.json()


def test_tenants_are_isolated(acme, globex, api_as):
    LeadFactory(external_id="acme-lead")
    with schema_context(globex.schema_name):
        from apps.accounts.services import api_key_create

        globex_lead = LeadFactory(external_id="globex-lead")
        _, globex_token = api_key_create(name="globex integration", created_by=None)
    acme_client = api_as("admin")
    listed = [
        r["external_id"] for r in acme_client.get(reverse("api:leads:lead_list")).json()["results"]
    ]
    assert listed == ["acme-lead"]
    # Lead ids are per schema: globex's id on acme's host is simply not found (or another lead).
    response = acme_client.get(reverse("api:leads:lead_detail", args=[globex_lead.pk]))
    assert response.status_code == 404 or response.json()["external_id"] != "globex-lead"
    # Globex's key means nothing on acme's host.
    stranger = Client(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=f"Bearer {globex_token}")
    assert (
        post_json(stranger, reverse("api:leads:lead_upsert"), [{"external_id": "x"}]).status_code
        == 401
    )
    assert stranger.get(reverse("api:leads:lead_list")).status_code == 401


# --- webhooks ---------------------------------------------------------------------------------

HUBSPOT_EVENTS = [
    {"objectId": 901, "subscriptionType": "contact.creation", "occurredAt": 1740990000000},
    {
        "objectId": 901,
        "subscriptionType": "contact.propertyChange",
        "propertyName": "email",
        "propertyValue": "kim@example.com",
        "occurredAt": 1740990001000,
    },
    {
        "objectId": 901,
        "subscriptionType": "contact.propertyChange",
        "propertyName": "numemployees",
        "propertyValue": "500-1000",
        "occurredAt": 1740990002000,
    },
    {
        "objectId": 901,
        "subscriptionType": "contact.propertyChange",
        "propertyName": "lifecyclestage",
        "propertyValue": "marketingqualifiedlead",
        "occurredAt": 1740990003000,
    },
    {"objectId": 55, "subscriptionType": "deal.creation", "occurredAt": 1740990004000},
]
SALESFORCE_LEADS = {
    "new": [
        {
            "attributes": {
                "type": "Lead",
                "url": "/services/data/v59.0/sobjects/Lead/00Q5e00000AbCdE",
            },
            "Id": "00Q5e00000AbCdE",
            "FirstName": "Lena",
            "LastName": "Vogel",
            "Email": "lena@vogel.example",
            "Company": "Vogel AG",
            "Title": "Head of Operations",
            "NumberOfEmployees": 1200,
            "Country": "Germany",
            "LeadSource": "Partner Referral",
            "Status": "Open - Not Contacted",
            "LastModifiedDate": "2025-03-03T08:00:00.000+0000",
            "Owner": {"Email": "someone@vogel.example"},
        }
    ]
}


def test_webhook_by_secret_url_hubspot_events(acme):
    endpoint = services.webhook_endpoint_get()
    url = reverse("api:leads:webhook_receive_token", args=["hubspot", endpoint.url_token])
    response = post_json(Client(HTTP_HOST="acme.localhost"), url, HUBSPOT_EVENTS)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["created"] == 1 and body["ignored"] == 1
    lead = Lead.objects.get(external_id="901")
    assert (lead.email, lead.company_size, lead.stage) == ("kim@example.com", 500, "lead")
    assert lead.properties["crm_stage"] == "marketingqualifiedlead"  # MQL is ours to decide


def test_webhook_with_a_wrong_token_is_404(acme):
    services.webhook_endpoint_get()
    url = reverse("api:leads:webhook_receive_token", args=["hubspot", "guess"])
    assert post_json(Client(HTTP_HOST="acme.localhost"), url, HUBSPOT_EVENTS).status_code == 404
    assert not Lead.objects.exists()


def signed(endpoint, body: bytes, *, timestamp=None, secret=None):
    timestamp = str(int(timestamp if timestamp is not None else time.time()))
    return {
        "HTTP_X_HANDOFF_TIMESTAMP": timestamp,
        "HTTP_X_HANDOFF_SIGNATURE": signature_for(
            secret or endpoint.signing_secret, timestamp, body
        ),
    }


def test_webhook_signed_salesforce_payload(acme):
    endpoint = services.webhook_endpoint_get()
    body = json.dumps(SALESFORCE_LEADS).encode()
    response = Client(HTTP_HOST="acme.localhost").post(
        reverse("api:leads:webhook_receive", args=["salesforce"]),
        body,
        content_type="application/json",
        **signed(endpoint, body),
    )
    assert response.status_code == 200, response.content
    assert "Owner.Email" in response.json()["unmapped_fields"]
    lead = Lead.objects.get(external_id="00Q5e00000AbCdE")
    assert (lead.first_name, lead.country, lead.region, lead.source, lead.seniority) == (
        "Lena",
        "DE",
        "EMEA",
        "partner",
        "director",
    )


@pytest.mark.parametrize("tamper", ["secret", "body", "stale", "missing"])
def test_webhook_signature_failures_are_401_and_store_nothing(acme, tamper):
    endpoint = services.webhook_endpoint_get()
    body = json.dumps(SALESFORCE_LEADS).encode()
    headers = signed(endpoint, body)
    if tamper == "secret":
        headers = signed(endpoint, body, secret="not-the-secret")
    elif tamper == "body":
        body = body.replace(b"Lena", b"Mallory")
    elif tamper == "stale":
        headers = signed(endpoint, body, timestamp=time.time() - 3600)
    else:
        headers = {}
    response = Client(HTTP_HOST="acme.localhost").post(
        reverse("api:leads:webhook_receive", args=["salesforce"]),
        body,
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 401
    assert "signature" in response.json()
    assert not Lead.objects.exists()


def test_webhook_rotation_and_switch_off(acme, make_user):
    admin = make_user("admin")
    old = services.webhook_endpoint_get()
    new = services.webhook_endpoint_rotate(actor=admin)
    assert new.url_token != old.url_token and new.signing_secret != old.signing_secret
    client = Client(HTTP_HOST="acme.localhost")
    assert (
        post_json(
            client,
            reverse("api:leads:webhook_receive_token", args=["hubspot", old.url_token]),
            HUBSPOT_EVENTS,
        ).status_code
        == 404
    )
    services.webhook_endpoint_rotate(actor=admin, is_active=False)
    assert (
        post_json(
            client,
            reverse("api:leads:webhook_receive_token", args=["hubspot", new.url_token]),
            HUBSPOT_EVENTS,
        ).status_code
        == 404
    )


def test_webhook_bad_payloads_are_4xx(acme):
    endpoint = services.webhook_endpoint_get()
    client = Client(HTTP_HOST="acme.localhost")
    assert (
        post_json(
            client,
            reverse("api:leads:webhook_receive_token", args=["hubspot", endpoint.url_token]),
            "{oops",
        ).status_code
        == 400
    )
    assert (
        post_json(
            client,
            reverse("api:leads:webhook_receive_token", args=["pipedrive", endpoint.url_token]),
            [],
        ).status_code
        == 400
    )
    assert (
        post_json(
            client,
            reverse("api:leads:webhook_receive_token", args=["salesforce", endpoint.url_token]),
            "42",
        ).status_code
        == 400
    )


def test_webhook_uses_the_saved_field_mapping(acme, make_user):
    services.field_mapping_save(
        source="hubspot",
        mapping={"hs_object_id": "external_id", "favourite_color": "properties.color"},
        actor=make_user("admin"),
    )
    endpoint = services.webhook_endpoint_get()
    payload = {
        "id": "77",
        "properties": {"favourite_color": "teal", "email": "ignored@example.com"},
    }
    response = post_json(
        Client(HTTP_HOST="acme.localhost"),
        reverse("api:leads:webhook_receive_token", args=["hubspot", endpoint.url_token]),
        payload,
    )
    assert response.json()["unmapped_fields"] == ["email"]
    lead = Lead.objects.get(external_id="77")
    assert lead.properties == {"color": "teal"} and lead.email == ""


def test_a_body_beyond_the_upload_limit_is_413(acme, integration, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    items = [{"external_id": f"L{i}", "company": "x" * 50} for i in range(50)]
    response = post_json(integration, reverse("api:leads:lead_upsert"), items)
    assert response.status_code == 413
    assert not Lead.objects.exists()


def test_a_signed_webhook_replayed_inside_its_window_is_refused(acme):
    endpoint = services.webhook_endpoint_get()
    body = json.dumps(SALESFORCE_LEADS).encode()
    url = reverse("api:leads:webhook_receive", args=["salesforce"])
    headers = signed(endpoint, body)
    client = Client(HTTP_HOST="acme.localhost")
    first = client.post(url, body, content_type="application/json", **headers)
    assert first.status_code == 200
    replays = [
        client.post(url, body, content_type="application/json", **headers).status_code
        for _ in range(5)
    ]
    assert replays == [409] * 5
    # A new delivery of the same content (new timestamp, so a new signature) is accepted.
    fresh = signed(endpoint, body, timestamp=time.time() + 1)
    assert client.post(url, body, content_type="application/json", **fresh).status_code == 200
    # An explicit delivery id is what is remembered when the sender gives one.
    again = signed(endpoint, body, timestamp=time.time() + 2)
    for expected in (200, 409):
        response = client.post(
            url, body, content_type="application/json", HTTP_X_HANDOFF_DELIVERY="d-77", **again
        )
        assert response.status_code == expected
        again = signed(endpoint, body, timestamp=time.time() + 3)
