"""Celery tasks of the leads app; each runs in the schema it was sent from (tenant-schemas-celery)."""

from celery import shared_task
from django.utils import timezone

from apps.handoff.channels import import_job_run
from apps.leads.services import IMPORT_TASK, imports_requeue


@shared_task(name=IMPORT_TASK, ignore_result=True, acks_late=True)
def lead_import_run_task(job_id: int) -> None:
    """Run one CSV import. Idempotent: a re-delivered message resumes after the last committed chunk."""
    import_job_run(job_id=job_id)


@shared_task(ignore_result=True)
def lead_imports_requeue_task() -> int:
    """Re-send stalled queued imports of this organization (fanned out by beat)."""
    return imports_requeue(now=timezone.now())
