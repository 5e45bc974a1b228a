import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import ApiKey, User


def test_admin_token_lists_users_with_pagination(api_as, make_user):
    for _ in range(3):
        make_user("rep")
    api = api_as("admin")
    data = api.get("/api/v1/users/?role=rep").json()
    assert data["count"] == 3
    assert {u["role"] for u in data["results"]} == {"rep"}


def test_admin_token_creates_user_with_role_and_invites(
    api_as, mailoutbox, django_capture_on_commit_callbacks
):
    api = api_as("admin")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/users/",
            {"email": "new@x.test", "name": "N", "role": "sales_leader"},
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "sales_leader" and body["has_password"] is False
    assert User.objects.get(email="new@x.test").role == "sales_leader"
    assert mailoutbox[0].to == ["new@x.test"]


def test_bad_input_is_a_400_naming_the_field(api_as, make_user):
    api = api_as("admin")
    make_user("rep", email="taken@x.test")
    assert api.post(
        "/api/v1/users/", {"email": "nope", "role": "rep"}, content_type="application/json"
    ).json().keys() == {"email"}
    assert (
        "role"
        in api.post(
            "/api/v1/users/", {"email": "a@x.test", "role": "king"}, content_type="application/json"
        ).json()
    )
    dup = api.post(
        "/api/v1/users/", {"email": "taken@x.test", "role": "rep"}, content_type="application/json"
    )
    assert dup.status_code == 400 and "email" in dup.json()
    malformed = api.generic("POST", "/api/v1/users/", "{not json", content_type="application/json")
    assert malformed.status_code == 400


def test_admin_token_changes_role_and_deactivates(api_as, make_user):
    api = api_as("admin")
    rep = make_user("rep")
    changed = api.patch(
        f"/api/v1/users/{rep.pk}/", {"role": "executive"}, content_type="application/json"
    )
    assert changed.status_code == 200 and changed.json()["role"] == "executive"
    gone = api.post(f"/api/v1/users/{rep.pk}/deactivate/")
    assert gone.status_code == 200 and gone.json()["is_active"] is False
    rep.refresh_from_db()
    assert (rep.role, rep.is_active) == ("executive", False)


def test_deactivating_the_last_admin_is_a_409(api_as):
    api = api_as("rep")  # a rep cannot even try
    only_admin = User.objects.filter(role="admin").first()
    assert api.post(f"/api/v1/users/{only_admin.pk}/deactivate/").status_code == 403
    admin_api = api_as("admin")
    User.objects.filter(role="admin").exclude(pk=admin_api.user.pk).update(role="executive")
    response = admin_api.patch(
        f"/api/v1/users/{admin_api.user.pk}/", {"role": "rep"}, content_type="application/json"
    )
    assert response.status_code == 409
    assert "role" in response.json()


@pytest.mark.parametrize(
    "role", ["executive", "marketing_leader", "marketer", "sales_leader", "rep", "integration"]
)
def test_only_admins_manage_users(api_as, role):
    api = api_as(role)
    assert api.get("/api/v1/users/").status_code == 403
    assert (
        api.post(
            "/api/v1/users/", {"email": "z@x.test", "role": "rep"}, content_type="application/json"
        ).status_code
        == 403
    )


def test_me_answers_for_every_person(api_as):
    api = api_as("marketer")
    assert api.get("/api/v1/me/").json()["email"] == api.user.email


def test_revoked_and_unknown_tokens_are_rejected(api_as, acme):
    api = api_as("admin")
    assert api.get("/api/v1/me/").status_code == 200
    ApiKey.objects.filter(user=api.user).update(revoked_at=timezone.now())
    assert api.get("/api/v1/me/").status_code == 401
    forged = Client(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION="Bearer hk_000000000000_nope")
    assert forged.get("/api/v1/me/").status_code == 401
    garbage = Client(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION="Bearer x y z")
    assert garbage.get("/api/v1/me/").status_code == 401


def test_token_use_records_last_used(api_as):
    api = api_as("rep")
    api.get("/api/v1/me/")
    assert ApiKey.objects.get(user=api.user).last_used_at is not None


def test_schema_and_docs_are_served_offline(anon_client):
    schema = anon_client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/users/" in schema.content
    docs = anon_client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()
