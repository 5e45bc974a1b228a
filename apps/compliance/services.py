"""Writes of the compliance engine."""

import socket

from django.db import connection
from django.utils import timezone

from apps.compliance.models import SweepRun


def tenant_sweep(*, worker: str | None = None) -> SweepRun:
    """Run the periodic work for the current tenant schema and record the run."""
    run = SweepRun.objects.create(
        schema_name=connection.schema_name,
        worker=worker or socket.gethostname(),
        started_at=timezone.now(),
    )
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at"])
    return run
