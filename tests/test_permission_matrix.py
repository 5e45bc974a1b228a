"""Every tenant URL name x every role -> allowed or 403, from one table (tests/*/access.py merged).

A URL without a row fails the test, so a new page cannot ship without a decision
about who may open it.
"""

from importlib import import_module
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.support.access import INTEGRATION, PUBLIC, ROLES

TESTS = Path(__file__).parent


def _table() -> dict:
    table = {}
    for path in sorted(TESTS.glob("*/access.py")):
        if path.parent.name != "support":
            table.update(import_module(f"tests.{path.parent.name}.access").ACCESS)
    return table


ACCESS = _table()


def _url_names(patterns, prefix="") -> set[str]:
    names = set()
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.namespace == "admin":
                continue  # Django's admin site guards itself (staff operators only)
            ns = f"{prefix}{p.namespace}:" if p.namespace else prefix
            names |= _url_names(p.url_patterns, ns)
        elif isinstance(p, URLPattern) and p.name:
            names.add(prefix + p.name)
    return names


def test_every_tenant_url_has_a_row():
    names = _url_names(get_resolver("config.urls_tenant").url_patterns)
    missing = sorted(names - ACCESS.keys())
    stale = sorted(ACCESS.keys() - names)
    assert not missing, f"add these URL names to a tests/<app>/access.py table: {missing}"
    assert not stale, f"these rows name URLs that no longer exist: {stale}"


CASES = [
    (name, role)
    for name, row in sorted(ACCESS.items())
    if row.roles != PUBLIC
    for role in (*ROLES, INTEGRATION)
]


@pytest.mark.parametrize(("url_name", "role"), CASES)
def test_role_matrix(url_name, role, client_as, api_as, make_user):
    row = ACCESS[url_name]
    is_api = url_name.startswith("api:")
    if role == INTEGRATION and not is_api:
        return  # API keys are not browser sessions
    client = api_as(role) if is_api else client_as(role)
    env = SimpleNamespace(user=client.user or make_user("admin"))
    url = reverse(url_name, kwargs=row.kwargs(env))
    status = client.get(url).status_code
    if role in row.roles:
        assert status != 403, f"{role} should be allowed on {url_name}"
        assert status < 500
    else:
        assert status == 403, f"{role} got {status} on {url_name}, expected 403"


@pytest.mark.parametrize("url_name", sorted(n for n, r in ACCESS.items() if r.roles != PUBLIC))
def test_anonymous_is_sent_to_login_or_401(url_name, acme, make_user):
    row = ACCESS[url_name]
    env = SimpleNamespace(user=make_user("admin"))
    response = Client(HTTP_HOST="acme.localhost").get(reverse(url_name, kwargs=row.kwargs(env)))
    if url_name.startswith("api:"):
        assert response.status_code in (401, 403)
    else:
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("url_name", sorted(n for n, r in ACCESS.items() if r.roles == PUBLIC))
def test_public_pages_open_without_sign_in(url_name, acme, make_user):
    env = SimpleNamespace(user=make_user("admin"))
    response = Client(HTTP_HOST="acme.localhost").get(
        reverse(url_name, kwargs=ACCESS[url_name].kwargs(env))
    )
    assert response.status_code in (200, 302, 404, 405)  # 404: an unknown invitation token
