"""Celery tasks of the leads app; each runs in the schema it was sent from (tenant-schemas-celery)."""

from celery import shared_task

from apps.leads.services import import_job_run


@shared_task(ignore_result=True, acks_late=True)
def lead_import_run_task(job_id: int) -> None:
    """Run one CSV import. Idempotent: a re-delivered message resumes after the last committed chunk."""
    import_job_run(job_id=job_id)
