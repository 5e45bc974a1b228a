"""Writes on organizations: creating one provisions its schema, domain and first admin."""

import re

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django_tenants.utils import schema_context

from apps.accounts.models import Role, User
from apps.accounts.services import organization_defaults_provision, user_create
from apps.tenants.addresses import organization_domain
from apps.tenants.database_roles import owner_connection
from apps.tenants.exceptions import OrganizationError
from apps.tenants.models import Domain, Organization

SUBDOMAIN_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
# Names a customer must not take: they are ours, or look like they are.
RESERVED_SUBDOMAINS = frozenset(
    {
        "admin", "api", "app", "assets", "auth", "billing", "blog", "cdn", "dashboard", "demo",
        "dev", "docs", "email", "ftp", "handoff", "help", "localhost", "login", "mail", "media",
        "public", "root", "signup", "smtp", "staging", "static", "status", "support", "system",
        "test", "www",
    }
)  # fmt: skip


def subdomain_validate(subdomain: str) -> str:
    """Normalise and check a requested subdomain; raises OrganizationError naming the field."""
    value = (subdomain or "").strip().lower()
    if not SUBDOMAIN_PATTERN.match(value) or "--" in value:
        raise OrganizationError(
            "subdomain",
            "Use 3–40 lowercase letters, digits or hyphens, starting with a letter "
            "and not ending with a hyphen.",
        )
    if value in RESERVED_SUBDOMAINS or value.startswith("pg"):
        raise OrganizationError("subdomain", f"“{value}” is reserved. Please choose another.")
    if Organization.objects.filter(subdomain=value).exists():
        raise OrganizationError("subdomain", f"“{value}” is already taken.")
    return value


def organization_create(
    *,
    name: str,
    subdomain: str,
    admin_name: str,
    admin_email: str,
    admin_password: str,
) -> Organization:
    """Create an organization with its own schema and domain, and its first admin user.

    Creating a schema is DDL: the whole creation runs as the owner role, in one
    transaction on its connection (apps/tenants/database_roles.py).
    """
    with owner_connection():
        return _organization_create(
            name=name,
            subdomain=subdomain,
            admin_name=admin_name,
            admin_email=admin_email,
            admin_password=admin_password,
        )


@transaction.atomic
def _organization_create(
    *, name: str, subdomain: str, admin_name: str, admin_email: str, admin_password: str
) -> Organization:
    name = (name or "").strip()
    if not name:
        raise OrganizationError("name", "Enter the organization's name.")
    subdomain = subdomain_validate(subdomain)
    try:
        validate_email(admin_email)
    except ValidationError as exc:
        raise OrganizationError("admin_email", "Enter a valid email address.") from exc
    try:
        validate_password(admin_password, User(email=admin_email, name=admin_name))
    except ValidationError as exc:
        raise OrganizationError("admin_password", " ".join(exc.messages)) from exc

    organization = Organization(
        name=name, subdomain=subdomain, schema_name=subdomain.replace("-", "_")
    )
    organization.save(verbosity=0)
    Domain.objects.create(
        domain=organization_domain(subdomain), tenant=organization, is_primary=True
    )
    with schema_context(organization.schema_name):
        user_create(
            email=admin_email,
            name=admin_name,
            role=Role.ADMIN,
            password=admin_password,
        )
        organization_defaults_provision()
    return organization


def public_tenant_ensure() -> Organization:
    """Make sure the public schema has its organization row and domains (idempotent)."""
    public, _ = Organization.objects.get_or_create(
        schema_name=settings.PUBLIC_SCHEMA_NAME,
        defaults={"name": "Handoff", "subdomain": "public"},
    )
    for host in {settings.BASE_DOMAIN, "127.0.0.1"}:
        Domain.objects.get_or_create(
            domain=host, defaults={"tenant": public, "is_primary": host == settings.BASE_DOMAIN}
        )
    return public
