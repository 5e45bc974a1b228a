"""A form post carrying a valid CSRF token is refused when its Origin is another
organization's host (no wildcard over BASE_DOMAIN in CSRF_TRUSTED_ORIGINS)."""

import re

from django.conf import settings
from django.test import Client

from apps.accounts.models import ApiKey

TOKEN_FORM = {"name": "CI", "scopes": ["read"], "expires_in_days": "30"}


def _signed_in(make_user) -> tuple[Client, str]:
    user = make_user("rep")
    client = Client(HTTP_HOST="acme.localhost", enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get("/accounts/profile/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    return client, token


def test_a_foreign_organizations_origin_is_refused(make_user):
    client, token = _signed_in(make_user)
    for origin in ("http://globex.localhost", "http://globex.localhost:8000", "http://evil.test"):
        response = client.post(
            "/accounts/profile/", {**TOKEN_FORM, "csrfmiddlewaretoken": token}, HTTP_ORIGIN=origin
        )
        assert response.status_code == 403, origin
    assert not ApiKey.objects.filter(kind="personal").exists()


def test_the_organizations_own_origin_is_accepted(make_user):
    client, token = _signed_in(make_user)
    response = client.post(
        "/accounts/profile/",
        {**TOKEN_FORM, "csrfmiddlewaretoken": token},
        HTTP_ORIGIN="http://acme.localhost",
    )
    assert response.status_code == 200
    assert ApiKey.objects.filter(kind="personal").count() == 1


def test_no_wildcard_origin_is_trusted_by_default():
    assert not any("*" in origin for origin in settings.CSRF_TRUSTED_ORIGINS)
