from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Organization(TenantMixin):
    """One customer company: its own PostgreSQL schema, reached on its own subdomain."""

    name = models.CharField(max_length=120)
    subdomain = models.SlugField(max_length=40, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Schemas are created by organization_create, inside its transaction.
    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Domain(DomainMixin):
    """A host name that routes to an organization (acme.localhost, acme.handoff.app)."""

    def __str__(self) -> str:
        return self.domain
