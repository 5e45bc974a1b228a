"""The dispositions and touches API: single and bulk, by the lead's external_id, with personal
tokens and organization keys (which name the person with `actor`)."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from apps.dispositions.models import Disposition, Outcome
from apps.leads.models import Activity, Stage
from apps.sla.models import ClockKind, ClockState
from tests.dispositions import factories as f

pytestmark = pytest.mark.django_db

CREATE = reverse("api:dispositions:disposition_create")
BULK = reverse("api:dispositions:disposition_bulk")
TOUCH = reverse("api:dispositions:touch_create")
TOUCH_BULK = reverse("api:dispositions:touch_bulk")


def post(client, url, payload):
    return client.post(url, payload, content_type="application/json")


@pytest.fixture
def rep_api(api_as):
    return api_as("rep")


@pytest.fixture
def code(acme):
    return f.reason_code("Budget doesn't match (test)", Outcome.REJECTED)


def _mql(owner, **kw):
    return f.mql_lead(owner=owner, mql_at=timezone.now() - timedelta(hours=5), **kw)


def test_rep_creates_a_disposition_by_external_id(rep_api, code):
    lead = _mql(rep_api.user, external_id="hs-1001")
    response = post(
        rep_api,
        CREATE,
        {
            "lead": "hs-1001",
            "outcome": "rejected",
            "reason_code": code.label,
            "note": "No budget until 2027",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["lead"] == "hs-1001" and body["outcome"] == "rejected"
    assert body["reason_code"]["id"] == code.pk and body["actor"] == rep_api.user.email
    assert body["channel"] == "api"
    lead.refresh_from_db()
    assert lead.stage == Stage.DISQUALIFIED


@pytest.mark.parametrize("outcome", ["rejected", "nurture"])
def test_the_api_refuses_a_missing_reason_naming_the_field(rep_api, outcome):
    _mql(rep_api.user, external_id="hs-1002")
    response = post(rep_api, CREATE, {"lead": "hs-1002", "outcome": outcome})
    assert response.status_code == 400
    assert "reason_code" in response.json()
    assert not Disposition.objects.exists()


def test_reason_code_by_id_and_wrong_outcome(rep_api, code):
    _mql(rep_api.user, external_id="hs-1003")
    nurture = f.reason_code("Later (test)", Outcome.NURTURE)
    wrong = post(
        rep_api, CREATE, {"lead": "hs-1003", "outcome": "rejected", "reason_code": nurture.pk}
    )
    assert wrong.status_code == 400 and "reason_code" in wrong.json()
    unknown = post(
        rep_api, CREATE, {"lead": "hs-1003", "outcome": "rejected", "reason_code": "Nope"}
    )
    assert unknown.status_code == 400 and unknown.json()["reason_code"] == [
        "Unknown reason code “Nope”."
    ]
    ok = post(
        rep_api, CREATE, {"lead": "hs-1003", "outcome": "rejected", "reason_code": str(code.pk)}
    )
    assert ok.status_code == 201


def test_back_dated_is_kept_and_future_dated_refused(rep_api):
    lead = _mql(rep_api.user, external_id="hs-1004")
    when = (timezone.now() - timedelta(hours=2)).replace(microsecond=0)
    back = post(
        rep_api, CREATE, {"lead": "hs-1004", "outcome": "accepted", "occurred_at": when.isoformat()}
    )
    assert back.status_code == 201
    lead.refresh_from_db()
    assert lead.sql_at == when
    future = (timezone.now() + timedelta(days=1)).isoformat()
    refused = post(
        rep_api, CREATE, {"lead": "hs-1004", "outcome": "working", "occurred_at": future}
    )
    assert refused.status_code == 400 and "occurred_at" in refused.json()
    naive = post(
        rep_api,
        CREATE,
        {"lead": "hs-1004", "outcome": "working", "occurred_at": "2026-01-05T10:00:00"},
    )
    assert naive.status_code == 400 and "UTC offset" in naive.json()["occurred_at"][0]


def test_same_external_id_again_returns_the_stored_one(rep_api):
    _mql(rep_api.user, external_id="hs-1005")
    payload = {"lead": "hs-1005", "outcome": "accepted", "external_id": "sf-disp-1"}
    first = post(rep_api, CREATE, payload)
    again = post(rep_api, CREATE, payload)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Disposition.objects.count() == 1


def test_unknown_lead_and_other_reps_lead(rep_api, make_user):
    _mql(make_user("rep"), external_id="hs-other")
    assert post(rep_api, CREATE, {"lead": "nope", "outcome": "accepted"}).json() == {
        "lead": ["No lead with external_id “nope”."]
    }
    forbidden = post(rep_api, CREATE, {"lead": "hs-other", "outcome": "accepted"})
    assert forbidden.status_code == 403
    assert not Disposition.objects.exists()


def test_a_rep_cannot_act_as_someone_else(rep_api, make_user):
    _mql(rep_api.user, external_id="hs-1006")
    other = make_user("rep")
    response = post(
        rep_api, CREATE, {"lead": "hs-1006", "outcome": "accepted", "actor": other.email}
    )
    assert response.status_code == 400 and "actor" in response.json()


def test_integration_names_the_person(api_as, make_user, code):
    integration = api_as("integration")
    rep = make_user("rep")
    _mql(rep, external_id="hs-1007")
    missing = post(integration, CREATE, {"lead": "hs-1007", "outcome": "accepted"})
    assert missing.status_code == 400 and "actor" in missing.json()
    unknown = post(
        integration, CREATE, {"lead": "hs-1007", "outcome": "accepted", "actor": "ghost@x.test"}
    )
    assert unknown.status_code == 400 and "actor" in unknown.json()
    ok = post(
        integration,
        CREATE,
        {
            "lead": "hs-1007",
            "outcome": "rejected",
            "reason_code": code.pk,
            "actor": rep.email.upper(),
        },
    )
    assert ok.status_code == 201
    assert Disposition.objects.get().actor == rep


def test_marketing_cannot_create_dispositions(api_as):
    assert post(api_as("marketer"), CREATE, {"lead": "x", "outcome": "accepted"}).status_code == 403


def test_bulk_reports_each_item_by_index(rep_api, code):
    for n in range(3):
        _mql(rep_api.user, external_id=f"hs-b{n}")
    items = [
        {"lead": "hs-b0", "outcome": "rejected", "reason_code": code.pk, "external_id": "d-0"},
        {"lead": "hs-b1", "outcome": "rejected"},
        {"lead": "hs-b2", "outcome": "accepted", "occurred_at": "not a date"},
        "not an object",
        {"lead": "hs-b2", "outcome": "accepted", "external_id": "d-4"},
        {"lead": "hs-b0", "outcome": "rejected", "reason_code": code.pk, "external_id": "d-0"},
    ]
    response = post(rep_api, BULK, {"items": items})
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["unchanged"], body["rejected"]) == (2, 1, 3)
    statuses = [(r["index"], r["status"]) for r in body["results"]]
    assert statuses == [
        (0, "created"),
        (1, "rejected"),
        (2, "rejected"),
        (3, "rejected"),
        (4, "created"),
        (5, "unchanged"),
    ]
    assert "reason_code" in body["results"][1]["errors"]
    assert "occurred_at" in body["results"][2]["errors"]
    assert Disposition.objects.count() == 2


def test_bulk_limits(rep_api, settings):
    assert post(rep_api, BULK, {"items": "nope"}).status_code == 400
    with override_settings(API_BULK_MAX_ITEMS=2):
        response = post(rep_api, BULK, {"items": [{}, {}, {}]})
    assert response.status_code == 413 and "items" in response.json()


def test_lead_disposition_history(api_as, rep_api, make_user, code):
    lead = _mql(rep_api.user, external_id="hs-1010")
    post(rep_api, CREATE, {"lead": "hs-1010", "outcome": "working"})
    post(rep_api, CREATE, {"lead": "hs-1010", "outcome": "rejected", "reason_code": code.pk})
    url = reverse(
        "api:dispositions:lead_disposition_list", kwargs={"external_id": lead.external_id}
    )
    body = rep_api.get(url).json()
    assert body["count"] == 2
    assert [d["outcome"] for d in body["results"]] == ["rejected", "working"]
    assert api_as("marketer").get(url).status_code == 200
    assert api_as("rep").get(url).status_code == 403
    missing = reverse("api:dispositions:lead_disposition_list", kwargs={"external_id": "nope"})
    assert rep_api.get(missing).status_code == 404


def test_reason_code_list(api_as):
    body = api_as("integration").get(reverse("api:dispositions:reason_code_list")).json()
    offered = {(row["label"], row["outcome"]) for row in body["results"]}
    assert {("Timeline too long", "nurture"), ("Timeline too long", "rejected")} <= offered


# --- touches -------------------------------------------------------------------------


def test_touch_by_a_rep_closes_the_first_contact_clock(rep_api):
    version = f.sla_version(effective_at=timezone.now() - timedelta(days=30))
    lead = f.mql_lead(
        owner=rep_api.user,
        mql_at=timezone.now() - timedelta(minutes=30),
        version=version,
        external_id="hs-t1",
    )
    when = (timezone.now() - timedelta(minutes=5)).replace(microsecond=0)
    payload = {
        "external_id": "call-1",
        "lead": "hs-t1",
        "kind": "call",
        "occurred_at": when.isoformat(),
        "note": "Spoke 5 min",
    }
    created = post(rep_api, TOUCH, payload)
    assert created.status_code == 201, created.content
    assert created.json()["actor"] == rep_api.user.email
    assert post(rep_api, TOUCH, payload).status_code == 200
    assert Activity.objects.filter(lead=lead, family="sales_touch").count() == 1
    clock = lead.sla_clocks.get(kind=ClockKind.FIRST_CONTACT)
    assert (clock.met_at, clock.state) == (when, ClockState.MET)


@pytest.mark.parametrize(
    ("sent", "stored"), [("email", "email_sent"), ("email_sent", "email_sent")]
)
def test_touch_kinds_by_design_names_and_their_first_names(rep_api, sent, stored):
    lead = _mql(rep_api.user, external_id=f"hs-k-{sent}")
    when = (timezone.now() - timedelta(minutes=5)).replace(microsecond=0).isoformat()
    single = post(
        rep_api,
        TOUCH,
        {"external_id": f"k1-{sent}", "lead": lead.external_id, "kind": sent, "occurred_at": when},
    )
    assert single.status_code == 201, single.content
    assert single.json()["kind"] == stored
    bulk = post(
        rep_api,
        TOUCH_BULK,
        {
            "items": [
                {
                    "external_id": f"k2-{sent}",
                    "lead": lead.external_id,
                    "kind": sent,
                    "occurred_at": when,
                },
                {
                    "external_id": f"k3-{sent}",
                    "lead": lead.external_id,
                    "kind": "fax",
                    "occurred_at": when,
                },
            ]
        },
    )
    assert bulk.status_code == 200
    assert bulk.json()["created"] == 1 and bulk.json()["errors"][0]["index"] == 1
    assert "kind" in bulk.json()["errors"][0]["errors"]
    kinds = set(Activity.objects.filter(lead=lead).values_list("kind", "family"))
    assert kinds == {(stored, "sales_touch")}


def test_touch_refusals(rep_api, make_user):
    _mql(make_user("rep"), external_id="hs-t2")
    _mql(rep_api.user, external_id="hs-t3")
    now = timezone.now().isoformat()
    other = post(
        rep_api, TOUCH, {"external_id": "t-2", "lead": "hs-t2", "kind": "call", "occurred_at": now}
    )
    assert other.status_code == 403
    engagement = post(
        rep_api,
        TOUCH,
        {"external_id": "t-3", "lead": "hs-t3", "kind": "page_view", "occurred_at": now},
    )
    assert engagement.status_code == 400 and "kind" in engagement.json()
    future = (timezone.now() + timedelta(days=1)).isoformat()
    ahead = post(
        rep_api,
        TOUCH,
        {"external_id": "t-4", "lead": "hs-t3", "kind": "call", "occurred_at": future},
    )
    assert ahead.status_code == 400 and "occurred_at" in ahead.json()
    assert not Activity.objects.exists()


def test_touch_bulk_from_an_integration(api_as, make_user):
    integration = api_as("integration")
    rep = make_user("rep")
    _mql(rep, external_id="hs-t5")
    at = (timezone.now() - timedelta(hours=1)).isoformat()
    items = [
        {
            "external_id": "e-1",
            "lead": "hs-t5",
            "kind": "email_sent",
            "occurred_at": at,
            "actor": rep.email,
        },
        {"external_id": "e-2", "lead": "hs-t5", "kind": "call", "occurred_at": at},
        {
            "external_id": "e-3",
            "lead": "unknown",
            "kind": "call",
            "occurred_at": at,
            "actor": rep.email,
        },
        {
            "external_id": "e-1",
            "lead": "hs-t5",
            "kind": "email_sent",
            "occurred_at": at,
            "actor": rep.email,
        },
        {
            "external_id": "e-5",
            "lead": "hs-t5",
            "kind": "meeting",
            "occurred_at": at,
            "actor": rep.email,
        },
    ]
    response = post(integration, TOUCH_BULK, {"items": items})
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["rejected"]) == (2, 2)
    assert [e["index"] for e in body["errors"]] == [1, 2]
    assert "actor" in body["errors"][0]["errors"] and "lead" in body["errors"][1]["errors"]
    assert set(Activity.objects.values_list("external_id", flat=True)) == {"e-1", "e-5"}
    assert Activity.objects.get(external_id="e-5").actor == rep
