"""Tokens without a browser: scopes, expiry, the password exchange (with two-factor), the
create_token command, organization API keys by API, and signing by API with a fresh proof."""

import io
import json
from datetime import timedelta

import pyotp
import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from apps.accounts import two_factor
from apps.accounts.models import ApiKey, AuditEvent
from apps.accounts.services import api_key_create
from apps.sla import services as sla_services
from apps.tenants.models import Organization
from tests.sla import factories as sla_f

PASSWORD = "correct-horse-battery-9"


def _post(client, url, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def _bearer(token: str) -> Client:
    return Client(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=f"Bearer {token}")


# --- scopes and expiry -----------------------------------------------------------------------


def test_a_token_does_only_what_its_scopes_allow(acme, make_user):
    admin = make_user("admin")
    _, read_only = api_key_create(name="ro", created_by=admin, user=admin, scopes=["read"])
    _, writer = api_key_create(name="rw", created_by=admin, user=admin, scopes=["read", "write"])
    _, manager = api_key_create(name="adm", created_by=admin, user=admin, scopes=["admin"])

    assert _bearer(read_only).get("/api/v1/leads/").status_code == 200
    refused = _post(_bearer(read_only), "/api/v1/leads/upsert/", [{"external_id": "x"}])
    assert refused.status_code == 403
    assert "lacks the write scope" in refused.json()["detail"]
    assert (
        _post(_bearer(writer), "/api/v1/leads/upsert/", [{"external_id": "x"}]).status_code == 200
    )
    # People and keys need the admin scope, whatever the role.
    assert _bearer(writer).get("/api/v1/users/").status_code == 403
    assert _bearer(manager).get("/api/v1/users/").status_code == 200
    assert _bearer(manager).get("/api/v1/leads/").status_code == 403


def test_personal_tokens_expire_after_the_default_and_are_refused_then(acme, make_user):
    rep = make_user("rep")
    key, raw = api_key_create(name="t", created_by=rep, user=rep)
    assert abs(key.expires_at - (timezone.now() + timedelta(days=90))) < timedelta(minutes=1)
    assert _bearer(raw).get("/api/v1/me/").status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = _bearer(raw).get("/api/v1/me/")
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


@pytest.mark.parametrize(
    ("role", "kwargs", "field", "message"),
    [
        ("rep", {"scopes": ["sign"]}, "scopes", "cannot use it"),
        ("marketing_leader", {"scopes": ["admin"]}, "scopes", "cannot use it"),
        ("rep", {"scopes": ["fly"]}, "scopes", "Unknown scope"),
        ("rep", {"expires_in": None}, "expires_in", "must expire"),
        ("rep", {"expires_in": timedelta(days=400)}, "expires_in", "366 days"),
        (None, {"scopes": ["admin"]}, "scopes", "read and write only"),
    ],
)
def test_token_requests_that_make_no_sense_are_refused_by_field(
    acme, make_user, role, kwargs, field, message
):
    from apps.accounts.exceptions import DomainError

    user = make_user(role) if role else None
    with pytest.raises(DomainError) as caught:
        api_key_create(name="x", created_by=user, user=user, **kwargs)
    assert caught.value.field == field and message in caught.value.message


# --- the first token without a browser ------------------------------------------------------


def test_password_exchange_issues_a_scoped_token(acme, make_user, anon_client):
    leader = make_user("sales_leader", email="sid@acme.test")
    response = _post(
        anon_client,
        "/api/v1/auth/token/",
        {
            "email": "SID@acme.test",
            "password": PASSWORD,
            "name": "CI",
            "scopes": ["read", "sign"],
            "expires_in_minutes": 30,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token"].startswith("hk_") and body["scopes"] == ["read", "sign"]
    assert body["kind"] == "personal"
    key = ApiKey.objects.get(pk=body["id"])
    assert key.user == leader
    assert timedelta(minutes=29) < key.expires_at - timezone.now() <= timedelta(minutes=30)
    assert _bearer(body["token"]).get("/api/v1/me/").json()["email"] == "sid@acme.test"


def test_password_exchange_refuses_alike_and_is_throttled(acme, make_user, anon_client):
    make_user("rep", email="rita@acme.test")
    wrong = _post(anon_client, "/api/v1/auth/token/", {"email": "rita@acme.test", "password": "x"})
    unknown = _post(
        anon_client, "/api/v1/auth/token/", {"email": "nobody@acme.test", "password": "x"}
    )
    assert wrong.status_code == unknown.status_code == 403
    assert wrong.json() == unknown.json() == {"non_field_errors": ["Wrong email or password."]}
    assert AuditEvent.objects.filter(action="api_key.exchange_refused").count() == 2
    statuses = [
        _post(anon_client, "/api/v1/auth/token/", {"email": "rita@acme.test", "password": "x"})
        for _ in range(5)
    ]
    assert statuses[-1].status_code == 429
    assert "Retry-After" in statuses[-1]


@override_settings(TOKEN_EXCHANGE_RATE="100/min")
def test_password_exchange_with_two_factor_needs_the_code(acme, make_user, anon_client):
    user = make_user("admin", email="ada@acme.test")
    device = two_factor.enrolment_start(user=user)
    two_factor.enrolment_confirm(user=user, code=pyotp.TOTP(device.secret).now())
    data = {"email": "ada@acme.test", "password": PASSWORD}
    missing = _post(anon_client, "/api/v1/auth/token/", data)
    assert missing.status_code == 403 and "otp" in missing.json()
    later = timezone.now() + timedelta(seconds=31)  # a code not used yet
    code = pyotp.TOTP(device.secret).at(later)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(two_factor.timezone, "now", lambda: later)
        granted = _post(anon_client, "/api/v1/auth/token/", {**data, "otp": code})
        replayed = _post(anon_client, "/api/v1/auth/token/", {**data, "otp": code})
    assert granted.status_code == 201
    assert replayed.status_code == 403  # a code works once


def test_password_exchange_refuses_who_must_use_two_factor_but_has_not_set_it_up(
    acme, make_user, anon_client
):
    make_user("marketing_leader", email="mona@acme.test")
    make_user("rep", email="rob@acme.test")
    Organization.objects.filter(pk=acme.pk).update(two_factor_required=True)
    leader = _post(
        anon_client, "/api/v1/auth/token/", {"email": "mona@acme.test", "password": PASSWORD}
    )
    rep = _post(
        anon_client, "/api/v1/auth/token/", {"email": "rob@acme.test", "password": PASSWORD}
    )
    assert leader.status_code == 403 and "set it up" in leader.json()["otp"][0]
    assert rep.status_code == 201  # reps are not covered by the policy


def test_create_token_command_prints_the_token_once(acme, make_user):
    make_user("marketing_leader", email="mo@acme.test")
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_token",
        "--organization",
        "acme",
        "--email",
        "mo@acme.test",
        "--name",
        "Signing bot",
        "--expires-in",
        "15m",
        "--scopes",
        "read,sign",
        stdout=out,
        stderr=err,
    )
    connection.set_tenant(acme)
    raw = out.getvalue().strip()
    key = ApiKey.objects.get(name="Signing bot")
    assert raw.startswith(f"hk_{key.prefix}_") and len(raw.splitlines()) == 1
    assert key.scopes == ["read", "sign"]
    assert timedelta(minutes=14) < key.expires_at - timezone.now() <= timedelta(minutes=15)
    assert "mo@acme.test" in err.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--organization", "nope", "--email", "a@b.c"], "No organization"),
        (["--schema", "acme", "--email", "ghost@acme.test"], "No user"),
        (["--schema", "acme", "--email", "admin@acme.test", "--expires-in", "soon"], "90d"),
        (["--schema", "acme", "--email", "admin@acme.test", "--scopes", "root"], "unknown scope"),
        (["--schema", "acme", "--email", "admin@acme.test", "--scopes", "sign"], "cannot use it"),
    ],
)
def test_create_token_command_explains_bad_input(acme, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_token", *args, stdout=io.StringIO(), stderr=io.StringIO())
    connection.set_tenant(acme)


# --- organization API keys by API -------------------------------------------------------------


def test_admins_create_list_and_revoke_organization_keys(api_as):
    admin = api_as("admin")
    created = _post(admin, "/api/v1/api-keys/", {"name": "HubSpot sync", "expires_in_minutes": 60})
    assert created.status_code == 201
    body = created.json()
    assert body["scopes"] == ["read", "write"] and body["kind"] == "organization"
    assert body["expires_at"] is not None
    integration = _bearer(body["token"])
    assert _post(integration, "/api/v1/leads/upsert/", [{"external_id": "k1"}]).status_code == 200

    listed = admin.get("/api/v1/api-keys/?active=true").json()
    assert [k["name"] for k in listed["results"]] == ["HubSpot sync"]
    assert "token" not in listed["results"][0]
    revoked = _post(admin, f"/api/v1/api-keys/{body['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert integration.get("/api/v1/leads/").status_code == 401
    assert admin.get("/api/v1/api-keys/?active=false").json()["count"] == 1

    bad = _post(admin, "/api/v1/api-keys/", {"name": "x", "scopes": ["admin"]})
    assert bad.status_code == 400 and "scopes" in bad.json()
    assert _post(api_as("sales_leader"), "/api/v1/api-keys/", {"name": "x"}).status_code == 403
    no_admin_scope = api_as("admin", scopes=["read", "write"])
    assert no_admin_scope.get("/api/v1/api-keys/").status_code == 403


def test_the_openapi_schema_documents_the_new_endpoints(anon_client):
    schema = anon_client.get("/api/schema/?format=json").json()
    for path in ("/api/v1/auth/token/", "/api/v1/api-keys/", "/api/v1/api-keys/{id}/revoke/"):
        assert path in schema["paths"], path
    sign = schema["paths"]["/api/v1/sla/versions/{id}/sign/"]["post"]
    assert "fresh proof" in sign["description"]


# --- signing by API ---------------------------------------------------------------------------


@pytest.fixture
def submitted(acme, make_user):
    sla_f.definition(status="published", version=1)
    marketing, sales = make_user("marketing_leader"), make_user("sales_leader")
    version = sla_services.version_create(actor=marketing, template_key="sample_sla")
    sla_services.version_submit(version=version, actor=marketing)
    return version, marketing, sales


def test_signing_by_api_needs_the_hash_and_a_fresh_proof(api_as, submitted):
    version, _, sales = submitted
    url = f"/api/v1/sla/versions/{version.pk}/sign/"
    everyday = api_as("sales_leader", user=sales)
    # The issue's forgery: {} and a bearer token.
    empty = _post(everyday, url, {})
    assert empty.status_code == 400 and "content_hash" in empty.json()
    no_proof = _post(everyday, url, {"content_hash": version.content_hash})
    assert no_proof.status_code == 403 and "fresh proof" in no_proof.json()["password"][0]
    stale_key, stale = api_key_create(name="s", created_by=sales, user=sales, scopes=["sign"])
    ApiKey.objects.filter(pk=stale_key.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    assert _post(_bearer(stale), url, {"content_hash": version.content_hash}).status_code == 403
    assert not version.signatures.exists()

    _, fresh = api_key_create(name="f", created_by=sales, user=sales, scopes=["sign"])
    signed = _post(_bearer(fresh), url, {"content_hash": version.content_hash})
    assert signed.status_code == 201
    assert signed.json()["channel"] == "api"


def test_signing_by_api_with_the_password(api_as, submitted):
    version, marketing, _ = submitted
    url = f"/api/v1/sla/versions/{version.pk}/sign/"
    client = api_as("marketing_leader", user=marketing)
    wrong = _post(client, url, {"content_hash": version.content_hash, "password": "nope"})
    assert wrong.status_code == 403
    right = _post(client, url, {"content_hash": version.content_hash, "password": PASSWORD})
    assert right.status_code == 201
    assert right.json()["team"] == "marketing"
