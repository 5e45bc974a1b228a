from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class DefinitionKind(models.TextChoices):
    MQL = "mql", "MQL"
    PQL = "pql", "PQL"


class DefinitionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"  # the active version of its kind for new evaluations
    RETIRED = "retired", "Retired"  # an earlier published version, still readable


class MqlDefinitionQuerySet(models.QuerySet):
    def active(self, kind: str = DefinitionKind.MQL):
        return self.filter(kind=kind, status=DefinitionStatus.PUBLISHED)


class MqlDefinition(models.Model):
    """One version of the MQL (or PQL) definition: the rule set as JSON (see apps/mql/rules.py)."""

    kind = models.CharField(
        max_length=8, choices=DefinitionKind.choices, default=DefinitionKind.MQL
    )
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=DefinitionStatus.choices, default=DefinitionStatus.DRAFT
    )
    rules = models.JSONField(default=dict)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    objects = MqlDefinitionQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "version"], name="mqldefinition_kind_version_unique"
            ),
            # At most one published (active) version per kind.
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(status="published"),
                name="mqldefinition_one_active_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version} — {self.name}"


class MqlEvent(models.Model):
    """A lead qualifying under a definition version; a lead back from nurture can qualify again."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="mql_events")
    definition = models.ForeignKey(MqlDefinition, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(
        max_length=8, choices=DefinitionKind.choices, default=DefinitionKind.MQL
    )
    qualified_at = models.DateTimeField(
        help_text="mql_at: when the facts made the lead qualify, not when we learned it"
    )
    trigger_activity = models.ForeignKey(
        "leads.Activity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    score = models.FloatField(null=True, blank=True)
    # The evaluation at qualified_at: conditions met, score lines, reasons ("why is this an MQL?").
    explanation = models.JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["qualified_at", "id"]
        indexes = [
            models.Index(fields=["lead", "qualified_at"], name="mqlevent_lead_time_idx"),
            models.Index(fields=["qualified_at"], name="mqlevent_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.lead_id} at {self.qualified_at:%Y-%m-%d %H:%M}"


class DefinitionComment(models.Model):
    """A comment on one definition version: how sales leaders weigh in before it is published."""

    definition = models.ForeignKey(MqlDefinition, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment on {self.definition_id} by {self.author_id}"


class BacktestStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BacktestRun(models.Model):
    """A definition replayed over the last `days` days of stored history, against the active one."""

    definition = models.ForeignKey(
        MqlDefinition, on_delete=models.CASCADE, related_name="backtests"
    )
    # The version published when the run started (None when there was none).
    baseline = models.ForeignKey(
        MqlDefinition, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    days = models.PositiveIntegerField()
    window_end = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=BacktestStatus.choices, default=BacktestStatus.PENDING
    )
    total = models.PositiveIntegerField(default=0, help_text="Leads to replay")
    processed = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"back-test of {self.definition_id} over {self.days} days"

    @property
    def window_start(self):
        return self.window_end - timedelta(days=self.days)

    @property
    def progress_percent(self) -> int:
        if self.status == BacktestStatus.DONE:
            return 100
        return int(100 * self.processed / self.total) if self.total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in (BacktestStatus.DONE, BacktestStatus.FAILED)
