"""Periodic fan-out: beat sends one task per active organization, run in that schema."""

from celery import shared_task
from django_tenants.utils import tenant_context

from apps.compliance.tasks import tenant_sweep_task
from apps.tenants.selectors import organization_active_list


@shared_task(ignore_result=True)
def tenants_fan_out_task() -> int:
    """Queue the sweep for every active organization; returns how many were queued."""
    count = 0
    for organization in organization_active_list().only("pk", "schema_name"):
        # Sent from inside the tenant's context, the task carries the schema name
        # in its headers and tenant-schemas-celery switches to it on the worker.
        with tenant_context(organization):
            tenant_sweep_task.delay()
        count += 1
    return count
