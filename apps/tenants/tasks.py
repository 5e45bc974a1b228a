"""Periodic fan-out: beat sends one task per active organization, run in that schema."""

from celery import shared_task
from django_tenants.utils import tenant_context

from apps.compliance.tasks import tenant_sweep_task
from apps.dashboards.tasks import charts_refresh_task
from apps.leads.tasks import lead_imports_requeue_task
from apps.tenants.selectors import organization_active_list
from apps.tenants.services import PROVISION_TASK, signup_provision

# What beat may fan out (CELERY_BEAT_SCHEDULE names the job).
FAN_OUT_JOBS = {
    "sweep": tenant_sweep_task,
    "charts": charts_refresh_task,
    "imports": lead_imports_requeue_task,
}


@shared_task(ignore_result=True)
def tenants_fan_out_task(job: str = "sweep") -> int:
    """Queue ``job`` (the minute sweep by default) for every active organization; returns how
    many were queued."""
    task = FAN_OUT_JOBS[job]
    count = 0
    for organization in organization_active_list().only("pk", "schema_name"):
        # Sent from inside the tenant's context, the task carries the schema name
        # in its headers and tenant-schemas-celery switches to it on the worker.
        with tenant_context(organization):
            task.delay()
        count += 1
    return count


@shared_task(name=PROVISION_TASK, ignore_result=True, acks_late=True)
def organization_provision_task(signup_id: int) -> None:
    """Provision the organization of a confirmed signup (public schema; slow, so never in a
    web request). Idempotent: a redelivered message for a finished signup does nothing."""
    signup_provision(signup_id=signup_id)
