from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from apps.tenants.database_roles import owner_connection


class Organization(TenantMixin):
    """One customer company: its own PostgreSQL schema, reached on its own subdomain."""

    name = models.CharField(max_length=120)
    subdomain = models.SlugField(max_length=40, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Leaders and admins must sign in with a one-time code too (apps/accounts/two_factor.py).
    two_factor_required = models.BooleanField(default=False)

    # Schemas are created by organization_create, inside its transaction.
    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # Schemas are DDL: created (and migrated) and dropped as the owner role, whatever
    # path gets here (apps/tenants/database_roles.py).
    def create_schema(self, *args, **kwargs):
        with owner_connection():
            return super().create_schema(*args, **kwargs)

    def _drop_schema(self, force_drop=False):
        with owner_connection():
            return super()._drop_schema(force_drop)


class Domain(DomainMixin):
    """A host name that routes to an organization (acme.localhost, acme.handoff.app)."""

    def __str__(self) -> str:
        return self.domain
