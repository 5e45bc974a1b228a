"""Tenant isolation at the ORM, HTTP (Host header) and API level."""

from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.services import api_key_create


def test_orm_sees_only_the_current_schema(acme, globex, make_user):
    make_user("rep", email="only-in-acme@x.test")
    assert User.objects.filter(email="only-in-acme@x.test").exists()
    with schema_context(globex.schema_name):
        assert not User.objects.filter(email="only-in-acme@x.test").exists()
        assert User.objects.filter(email="admin@globex.test").exists()
    assert not User.objects.filter(email="admin@globex.test").exists()


def test_a_session_of_one_org_is_nothing_on_another_host(client_as):
    client = client_as("admin")
    assert client.get("/accounts/users/").status_code == 200
    # Same cookies, other organization's host: not signed in there.
    client.defaults["HTTP_HOST"] = "globex.localhost"
    response = client.get("/accounts/users/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_token_of_one_org_is_rejected_on_another_host(api_as):
    api = api_as("admin")
    assert api.get("/api/v1/users/").status_code == 200
    api.defaults["HTTP_HOST"] = "globex.localhost"
    assert api.get("/api/v1/users/").status_code == 401


def test_an_object_id_of_one_org_is_404_on_another(acme, globex, make_user):
    rep = make_user("rep")
    with schema_context(globex.schema_name):
        globex_admin = User.objects.get(email="admin@globex.test")
        _, token = api_key_create(
            name="t", created_by=globex_admin, user=globex_admin, scopes=["read", "admin"]
        )
        ids_in_globex = set(User.objects.values_list("pk", flat=True))
    globex_api = Client(HTTP_HOST="globex.localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    missing_id = max(ids_in_globex | {rep.pk}) + 1000
    assert rep.pk not in ids_in_globex or rep.pk == globex_admin.pk
    assert globex_api.get(f"/api/v1/users/{missing_id}/").status_code == 404
    # An id that exists in acme only answers with globex's own data, or 404 — never acme's user.
    response = globex_api.get(f"/api/v1/users/{rep.pk}/")
    assert response.status_code == 404 or response.json()["email"] != rep.email
