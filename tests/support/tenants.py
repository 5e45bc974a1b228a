"""The organizations every test session starts with (created once, committed)."""

from django.db import connection

SESSION_TENANTS = ("acme", "globex")
SESSION_PASSWORD = "correct-horse-battery-9"


def ensure_session_tenants() -> None:
    from apps.tenants.models import Organization
    from apps.tenants.services import organization_create, public_tenant_ensure

    public_tenant_ensure()
    for subdomain in SESSION_TENANTS:
        if not Organization.objects.filter(subdomain=subdomain).exists():
            organization_create(
                name=subdomain.title(),
                subdomain=subdomain,
                admin_name=f"{subdomain.title()} Admin",
                admin_email=f"admin@{subdomain}.test",
                admin_password=SESSION_PASSWORD,
            )
    connection.set_schema_to_public()
