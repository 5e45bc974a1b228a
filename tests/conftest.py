"""Shared test set-up: two organizations created once per session on the real PostgreSQL.

Most tests run inside a transaction in the `acme` schema (fixture `acme`). Tests
that need other processes to see their data (live server, Celery worker) use the
`committed` helpers and clean up after themselves.
"""

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from tests.support import database
from tests.support.clock import is_shifted, shifted_now, start_session_clock
from tests.support.demo_org import demo_org, demo_site  # noqa: F401 - fixtures of the browser tests
from tests.support.tenants import SESSION_TENANTS, ensure_session_tenants


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """The owner role creates and migrates the test database (tests/support/database.py)."""
    database.roles_prepare()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        ensure_session_tenants()
        database.run_as_app()
    yield
    with django_db_blocker.unblock():
        database.run_as_owner()


@pytest.fixture
def acme(db):
    """The `acme` organization, with the connection switched into its schema for the test."""
    from apps.tenants.models import Organization

    organization = Organization.objects.get(subdomain=SESSION_TENANTS[0])
    connection.set_tenant(organization)
    yield organization
    connection.set_schema_to_public()


@pytest.fixture
def globex(db):
    """The second organization (not activated): use schema_context(globex.schema_name)."""
    from apps.tenants.models import Organization

    return Organization.objects.get(subdomain=SESSION_TENANTS[1])


@pytest.fixture
def make_user(acme):
    """Create a user of the current tenant with a role: make_user("rep")."""
    from tests.accounts.factories import UserFactory

    def make(role: str = "rep", **kwargs):
        return UserFactory(role=role, **kwargs)

    return make


def host_of(organization) -> str:
    return f"{organization.subdomain}.localhost"


@pytest.fixture
def client_as(acme, make_user):
    """A browser client signed in on acme's host with a new user of the given role."""

    def make(role: str = "rep", user=None) -> Client:
        client = Client(HTTP_HOST=host_of(acme))
        user = user or make_user(role)
        client.force_login(user)
        client.user = user
        return client

    return make


@pytest.fixture
def anon_client(acme) -> Client:
    return Client(HTTP_HOST=host_of(acme))


@pytest.fixture
def public_client(db) -> Client:
    return Client(HTTP_HOST="localhost")


@pytest.fixture
def api_as(acme, make_user):
    """An API client on acme's host authenticated with a personal token of a new user of the role,
    or with an organization API key when role == "integration"."""
    from apps.accounts.services import api_key_create

    def make(role: str = "admin", user=None, scopes=None) -> Client:
        if role == "integration":
            _, token = api_key_create(name="test integration", created_by=None, scopes=scopes)
            user = None
        else:
            user = user or make_user(role)
            if scopes is None:  # every scope the role may hold but `sign` (which needs freshness)
                scopes = ["read", "write", "admin"] if user.role == "admin" else ["read", "write"]
            _, token = api_key_create(name="test token", created_by=user, user=user, scopes=scopes)
        client = Client(HTTP_HOST=host_of(acme), HTTP_AUTHORIZATION=f"Bearer {token}")
        client.user = user
        client.token = token
        return client

    return make


@pytest.fixture
def in_schema():
    """Context manager to read/write in another tenant's schema within a test."""
    return schema_context


def pytest_addoption(parser):
    parser.addoption(
        "--as-of",
        metavar="INSTANT",
        default=None,
        help="run the session as if now were INSTANT (ISO 8601 with its UTC offset, "
        "e.g. 2028-02-29T00:30+11:00); the clock keeps ticking from there. "
        "Also read from HANDOFF_TEST_AS_OF.",
    )


def pytest_report_header(config):
    if is_shifted():
        return f"clock shifted: tests run as if now were {shifted_now():%Y-%m-%d %H:%M:%S %Z}"
    return None


def pytest_configure(config):
    import os
    import uuid

    from django.conf import settings

    start_session_clock(config.getoption("--as-of"))

    # Playwright's sync API runs an event loop in the test thread; the ORM calls the
    # tests make next to it are still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    # Real hashing costs ~0.3 s per user; the hasher is not what these tests test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    # Rate-limit counters of this session start from nothing, whatever earlier runs left in
    # the shared Redis; the suite's own traffic (hundreds of calls a minute from 127.0.0.1)
    # stays under generous limits, and tests/accounts/test_throttles.py sets small ones.
    settings.CACHES["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:12]}"
    for name in ("API_RATE_PER_TOKEN", "API_RATE_PER_ORGANIZATION", "API_RATE_ANONYMOUS"):
        setattr(settings, name, "100000/minute")
    settings.API_RATE_FAILED_TOKENS = "1000/minute"
    settings.SIGNUP_RATE_PER_ADDRESS = "1000/hour"
