"""SLA API: drafts, submission, signatures with personal tokens, immutability, verification."""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from apps.sla import clocks, services
from apps.sla.models import SlaClock, SlaVersion, VersionStatus
from apps.sla.snapshots import canonical_json
from tests.sla import factories as f

BASE = "/api/v1/sla"
PASSWORD = "correct-horse-battery-9"  # tests.accounts.factories.UserFactory's


@pytest.fixture
def definition(acme):
    return f.definition(status="published", version=1)


def _post(client, url, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def _patch(client, url, data):
    return client.patch(url, json.dumps(data), content_type="application/json")


def test_draft_submit_and_sign_with_personal_tokens(api_as, definition):
    marketing, sales = api_as("marketing_leader"), api_as("sales_leader")
    created = _post(marketing, f"{BASE}/versions/", {"template": "startup_one_pager"})
    assert created.status_code == 201
    version = created.json()
    assert [c["metric"] for c in version["commitments"]] == [
        "first_contact_time",
        "mql_to_sql_rate",
    ]
    pk = version["id"]

    bad = _post(
        marketing,
        f"{BASE}/versions/{pk}/commitments/",
        {
            "owner_team": "sales",
            "metric": "follow_up_cadence",
            "params": {"touches": 6},
            "target": 0.9,
            "yellow_threshold": 0.8,
        },
    )
    assert bad.status_code == 400
    assert "params.days" in bad.json()

    added = _post(
        sales,
        f"{BASE}/versions/{pk}/commitments/",
        {
            "owner_team": "sales",
            "metric": "disposition_time",
            "params": {"hours": 48, "clock": "calendar"},
            "target": 0.9,
            "yellow_threshold": 0.8,
        },
    )
    assert added.status_code == 201
    commitment_id = added.json()["commitments"][-1]["id"]
    rule = _post(
        sales,
        f"{BASE}/versions/{pk}/escalation-rules/",
        {"commitment": commitment_id, "threshold": 0.8, "periods": 2, "period_kind": "week"},
    )
    assert rule.status_code == 201

    effective = "2026-04-01T00:00:00Z"
    assert (
        _patch(marketing, f"{BASE}/versions/{pk}/", {"effective_at": effective}).status_code == 200
    )
    submitted = _post(marketing, f"{BASE}/versions/{pk}/submit/")
    assert submitted.status_code == 200
    content_hash = submitted.json()["content_hash"]
    assert submitted.json()["status"] == "awaiting_signatures"

    # The hash is the SHA-256 of the canonical content anyone can fetch.
    content = marketing.get(f"{BASE}/versions/{pk}/content/").json()
    assert hashlib.sha256(canonical_json(content).encode()).hexdigest() == content_hash

    # Sales signs with a token made for signing minutes ago; marketing re-enters its password.
    signer = api_as("sales_leader", user=sales.user, scopes=["read", "sign"])
    signature = _post(signer, f"{BASE}/versions/{pk}/sign/", {"content_hash": content_hash})
    assert signature.status_code == 201
    assert (signature.json()["team"], signature.json()["channel"]) == ("sales", "api")
    assert signature.json()["sequence"] == 1 and len(signature.json()["mac"]) == 64
    signed = _post(
        marketing,
        f"{BASE}/versions/{pk}/sign/",
        {"team": "marketing", "content_hash": content_hash, "password": PASSWORD},
    )
    assert signed.status_code == 201

    detail = sales.get(f"{BASE}/versions/{pk}/").json()
    assert detail["status"] == "active"
    assert sales.get(f"{BASE}/versions/active/").json()["id"] == pk
    verify = sales.get(f"{BASE}/versions/{pk}/verify/").json()
    assert verify["is_intact"] and verify["problems"] == []
    assert all(s["matches"] and s["authentic"] and s["linked"] for s in verify["signatures"])
    changes = sales.get(f"{BASE}/versions/{pk}/changes/").json()["results"]
    assert {c["channel"] for c in changes} == {"api"}


@pytest.mark.parametrize("role", ["rep", "marketer", "executive", "admin", "integration"])
def test_only_the_leaders_can_sign_through_the_api(api_as, make_user, definition, role):
    leader = make_user("marketing_leader")
    version = services.version_create(actor=leader, template_key="sample_sla")
    services.version_submit(version=version, actor=leader)
    response = _post(
        api_as(role),
        f"{BASE}/versions/{version.pk}/sign/",
        {"content_hash": version.content_hash, "password": PASSWORD},
    )
    assert response.status_code == 403
    assert not version.signatures.exists()


def test_a_leader_cannot_sign_for_the_other_team(api_as, definition):
    sales = api_as("sales_leader")
    version = services.version_create(actor=sales.user, template_key="sample_sla")
    services.version_submit(version=version, actor=sales.user)
    response = _post(
        sales,
        f"{BASE}/versions/{version.pk}/sign/",
        {"team": "marketing", "content_hash": version.content_hash, "password": PASSWORD},
    )
    assert response.status_code == 403
    assert response.json() == {"team": ["You can sign for sales only, not for marketing."]}


def test_the_api_refuses_to_change_a_signed_version(api_as, definition):
    marketing = api_as("marketing_leader")
    version = f.signed_version(effective_at=datetime(2026, 1, 1, tzinfo=UTC))
    commitment = version.commitments.first()
    rule_target = f"{BASE}/versions/{version.pk}/commitments/{commitment.pk}/"
    attempts = [
        _patch(marketing, f"{BASE}/versions/{version.pk}/", {"purpose": "changed"}),
        _patch(marketing, rule_target, {"target": 0.1}),
        marketing.delete(rule_target),
        _post(
            marketing,
            f"{BASE}/versions/{version.pk}/commitments/",
            {"owner_team": "sales", "metric": "mql_volume", "target": 1, "yellow_threshold": 1},
        ),
        _post(marketing, f"{BASE}/versions/{version.pk}/submit/"),
        _post(
            api_as("sales_leader"),
            f"{BASE}/versions/{version.pk}/sign/",
            {"content_hash": "a" * 64, "password": PASSWORD},
        ),
    ]
    assert [r.status_code for r in attempts] == [409] * len(attempts)
    assert "status" in attempts[0].json()
    version.refresh_from_db()
    assert version.status == VersionStatus.ACTIVE and version.purpose == ""


def test_a_marketer_can_read_but_not_draft(api_as, definition):
    marketer = api_as("marketer")
    assert marketer.get(f"{BASE}/versions/").status_code == 200
    assert _post(marketer, f"{BASE}/versions/", {"template": "sample_sla"}).status_code == 403
    assert not SlaVersion.objects.exists()


def test_calendars_are_edited_by_admins_only(api_as):
    admin = api_as("admin")
    created = _post(
        admin,
        f"{BASE}/calendars/",
        {
            "name": "Sydney",
            "timezone": "Australia/Sydney",
            "week": [[["09:00", "17:00"]]] * 5 + [[], []],
            "holiday_country": "AU",
            "holiday_subdivision": "NSW",
            "closed_dates": ["2026-12-24"],
        },
    )
    assert created.status_code == 201
    assert created.json()["holiday_subdivision"] == "NSW"
    bad = _patch(admin, f"{BASE}/calendars/{created.json()['id']}/", {"timezone": "Mars/Olympus"})
    assert bad.status_code == 400
    assert "timezone" in bad.json()
    bad_region = _patch(
        admin, f"{BASE}/calendars/{created.json()['id']}/", {"holiday_subdivision": "ZZZ"}
    )
    assert bad_region.status_code == 400 and "holiday_country" in bad_region.json()
    assert _post(api_as("sales_leader"), f"{BASE}/calendars/", {"name": "x"}).status_code == 403


def test_lead_clocks_endpoint_and_reps_see_only_their_own(api_as, make_user):
    f.signed_version(effective_at=datetime(2026, 1, 1, tzinfo=UTC))
    rep = api_as("rep")
    own = f.lead(owner=rep.user)
    other = f.lead(owner=make_user("rep"))
    start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    clocks.clocks_open(
        mql_events=[f.mql_event(lead=own, at=start), f.mql_event(lead=other, at=start)]
    )
    mine = rep.get(f"{BASE}/leads/{own.pk}/clocks/")
    assert mine.status_code == 200
    assert {c["kind"] for c in mine.json()["results"]} == {
        "first_contact",
        "follow_up",
        "disposition",
    }
    assert rep.get(f"{BASE}/leads/{other.pk}/clocks/").status_code == 404
    assert api_as("sales_leader").get(f"{BASE}/leads/{other.pk}/clocks/").status_code == 200
    assert SlaClock.objects.filter(lead=other).count() == 3
    assert start + timedelta(hours=4) == SlaClock.objects.get(lead=own, kind="first_contact").due_at
