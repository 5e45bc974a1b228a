from django.db import models


class SweepRun(models.Model):
    """One run of the per-tenant sweep: proves the worker ran, in which schema, and how long it took."""

    schema_name = models.CharField(max_length=63)
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["-started_at"], name="sweeprun_started_idx")]

    def __str__(self) -> str:
        return f"sweep {self.schema_name} {self.started_at:%Y-%m-%d %H:%M}"
