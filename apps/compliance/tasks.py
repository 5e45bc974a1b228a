"""Celery tasks of the compliance engine; each runs in the schema it was sent from."""

from celery import shared_task

from apps.compliance.services import tenant_sweep


@shared_task(bind=True, ignore_result=True, max_retries=3, default_retry_delay=10)
def tenant_sweep_task(self) -> None:
    """The per-tenant minute sweep (queued by tenants_fan_out_task)."""
    tenant_sweep(worker=self.request.hostname)
