"""Reads on organizations."""

from django.conf import settings
from django.db.models import QuerySet

from apps.tenants.models import Organization


def organization_active_list() -> QuerySet[Organization]:
    """Customer organizations whose background work should run (the public schema excluded)."""
    return Organization.objects.filter(is_active=True).exclude(
        schema_name=settings.PUBLIC_SCHEMA_NAME
    )
