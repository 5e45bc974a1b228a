from urllib.parse import urlsplit

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.tenants.models import Organization


def test_landing_page_explains_and_links_to_signup(public_client):
    response = public_client.get("/")
    assert response.status_code == 200
    assert b'href="/signup/"' in response.content


def test_signup_form_shows_field_errors(public_client):
    response = public_client.post(
        "/signup/",
        {
            "name": "X",
            "subdomain": "www",
            "admin_name": "A",
            "admin_email": "a@b.test",
            "admin_password": "123",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "reserved" in errors["subdomain"][0]
    assert not Organization.objects.filter(name="X").exists()


def test_signup_lands_the_admin_on_the_new_host_logged_in(public_client):
    response = public_client.post(
        "/signup/",
        {
            "name": "Orbit",
            "subdomain": "orbit",
            "admin_name": "Olu Admin",
            "admin_email": "olu@orbit.test",
            "admin_password": "quiet-lantern-88",
        },
    )
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.hostname == "orbit.localhost"
    assert target.path == "/accounts/welcome/"

    browser = Client(HTTP_HOST="orbit.localhost")
    landed = browser.get(f"{target.path}?{target.query}", follow=True)
    assert landed.redirect_chain[-1][0] == "/accounts/users/"
    assert landed.context["user"].email == "olu@orbit.test"

    # The hand-off link works once.
    again = Client(HTTP_HOST="orbit.localhost").get(f"{target.path}?{target.query}")
    assert again.status_code == 404
    with schema_context("orbit"):
        assert User.objects.get(email="olu@orbit.test").last_login is not None


def test_handoff_link_of_one_org_does_not_work_on_another(public_client):
    response = public_client.post(
        "/signup/",
        {
            "name": "Comet",
            "subdomain": "comet",
            "admin_name": "C",
            "admin_email": "c@comet.test",
            "admin_password": "quiet-lantern-88",
        },
    )
    target = urlsplit(response["Location"])
    other = Client(HTTP_HOST="acme.localhost").get(f"{target.path}?{target.query}")
    assert other.status_code == 404


@pytest.mark.parametrize("host", ["nowhere.localhost", "evil.example.com"])
def test_unknown_hosts_get_404_or_400(db, host):
    response = Client(HTTP_HOST=host).get("/")
    assert response.status_code in (400, 404)
