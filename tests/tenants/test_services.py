import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.tenants.exceptions import OrganizationError
from apps.tenants.models import Domain, Organization
from apps.tenants.services import organization_create, subdomain_validate

GOOD = {
    "name": "Zenith Labs",
    "subdomain": "zenith",
    "admin_name": "Zoe Admin",
    "admin_email": "zoe@zenith.test",
    "admin_password": "pale-river-stone-42",
}


@pytest.mark.parametrize(
    ("subdomain", "message"),
    [
        ("www", "reserved"),
        ("admin", "reserved"),
        ("api", "reserved"),
        ("acme", "already taken"),
        ("Ab", "lowercase"),
        ("9lives", "starting with a letter"),
        ("bad_slug", "lowercase"),
        ("trailing-", "not ending with a hyphen"),
        ("a--b", "letters"),
        ("x" * 41, "3–40"),
    ],
)
def test_subdomain_rules_name_the_field(db, subdomain, message):
    with pytest.raises(OrganizationError) as exc:
        subdomain_validate(subdomain)
    assert exc.value.field == "subdomain"
    assert message in exc.value.message


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"admin_password": "short"}, "admin_password"),
        ({"admin_password": "password123"}, "admin_password"),
        ({"admin_password": "1234567890123"}, "admin_password"),
        ({"admin_email": "not-an-email"}, "admin_email"),
        ({"name": "  "}, "name"),
    ],
)
def test_invalid_signup_creates_nothing(db, override, field):
    with pytest.raises(OrganizationError) as exc:
        organization_create(**{**GOOD, **override})
    assert exc.value.field == field
    assert not Organization.objects.filter(subdomain="zenith").exists()


def test_organization_gets_schema_domain_and_admin(db):
    organization = organization_create(**GOOD)

    assert organization.schema_name == "zenith"
    assert Domain.objects.get(tenant=organization).domain == "zenith.localhost"
    with connection.cursor() as cursor:
        cursor.execute("select 1 from information_schema.schemata where schema_name = 'zenith'")
        assert cursor.fetchone() == (1,)
    with schema_context("zenith"):
        admin = User.objects.get()
        assert (admin.email, admin.role) == ("zoe@zenith.test", "admin")
        assert admin.check_password(GOOD["admin_password"])
    # The admin exists only in the new organization's schema.
    with schema_context("acme"):
        assert not User.objects.filter(email="zoe@zenith.test").exists()


def test_hyphenated_subdomain_maps_to_a_valid_schema(db):
    organization = organization_create(**{**GOOD, "subdomain": "north-star"})
    assert organization.schema_name == "north_star"
    assert Domain.objects.get(tenant=organization).domain == "north-star.localhost"


def test_create_organization_command(db, monkeypatch):
    monkeypatch.setenv("HANDOFF_ADMIN_PASSWORD", GOOD["admin_password"])
    call_command(
        "create_organization",
        "--name",
        "Cmd Co",
        "--subdomain",
        "cmdco",
        "--admin-email",
        "boss@cmd.test",
    )
    organization = Organization.objects.get(subdomain="cmdco")
    with schema_context(organization.schema_name):
        assert User.objects.get().role == "admin"


def test_create_organization_command_reports_the_field(db, monkeypatch):
    monkeypatch.setenv("HANDOFF_ADMIN_PASSWORD", GOOD["admin_password"])
    with pytest.raises(CommandError, match=r"subdomain: .*already taken"):
        call_command(
            "create_organization",
            "--name",
            "Dup",
            "--subdomain",
            "acme",
            "--admin-email",
            "x@y.test",
        )
