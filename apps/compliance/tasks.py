"""Celery tasks of the compliance engine; each runs in the schema it was sent from.

Both are idempotent: the sweep's steps insert with ON CONFLICT DO NOTHING and the
delivery claims rows with FOR UPDATE SKIP LOCKED, so a duplicate message, a retry or
two workers running them at once change nothing. Messages are acknowledged late
(CELERY_TASK_ACKS_LATE): a killed worker's message is redelivered.
"""

from celery import shared_task
from django.db import DatabaseError

from apps.compliance.outbox import deliveries_deliver
from apps.compliance.services import ALERT_DELIVERIES_TASK, tenant_sweep


@shared_task(bind=True, ignore_result=True, max_retries=3, default_retry_delay=10)
def tenant_sweep_task(self) -> None:
    """The per-tenant minute sweep (queued by tenants_fan_out_task)."""
    tenant_sweep(worker=self.request.hostname)


@shared_task(
    name=ALERT_DELIVERIES_TASK,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
)
def alert_deliveries_task() -> dict:
    """Deliver what the outbox owes now (queued on commit of new alerts, and by each sweep)."""
    return {str(channel): count for channel, count in deliveries_deliver().items()}
