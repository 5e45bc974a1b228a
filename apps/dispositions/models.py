from django.conf import settings
from django.db import models
from django.utils import timezone


class Outcome(models.TextChoices):
    ACCEPTED = "accepted", "Accepted (→ SQL)"
    REJECTED = "rejected", "Rejected"
    NURTURE = "nurture", "Returned to nurture"
    WORKING = "working", "Working"


# Outcomes that settle an MQL (close the disposition clock); "working" does not.
FINAL_OUTCOMES = frozenset({Outcome.ACCEPTED, Outcome.REJECTED, Outcome.NURTURE})
# Outcomes that must say why.
REASON_REQUIRED = frozenset({Outcome.REJECTED, Outcome.NURTURE})
# The outcomes a reason code can belong to (also named in the OpenAPI schema's enums).
REASON_CODE_OUTCOME_CHOICES = [(o.value, o.label) for o in (Outcome.REJECTED, Outcome.NURTURE)]


class ReasonCode(models.Model):
    """An entry of the organization's picklist of reasons for rejecting or returning an MQL."""

    label = models.CharField(max_length=120)
    outcome = models.CharField(max_length=16, choices=REASON_CODE_OUTCOME_CHOICES)
    position = models.PositiveIntegerField(default=0)
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="Retired codes stay valid on old dispositions"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["outcome", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["outcome", "label"],
                condition=models.Q(retired_at__isnull=True),
                name="reasoncode_live_label_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def is_active(self) -> bool:
        return self.retired_at is None


class Disposition(models.Model):
    """Sales feedback on an MQL. Every one is kept; the lead's state follows the latest."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="dispositions")
    mql_event = models.ForeignKey(
        "mql.MqlEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dispositions",
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason_code = models.ForeignKey(
        ReasonCode, null=True, blank=True, on_delete=models.PROTECT, related_name="dispositions"
    )
    note = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dispositions",
    )
    occurred_at = models.DateTimeField()
    external_id = models.CharField(max_length=128, null=True, blank=True, unique=True)
    channel = models.CharField(max_length=16, default="web", help_text="web, api, csv")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["lead", "occurred_at"], name="disposition_lead_time_idx"),
            models.Index(fields=["outcome", "occurred_at"], name="disposition_outcome_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} on {self.lead_id}"
