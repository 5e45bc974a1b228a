from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.accounts.roles import Role
from apps.leads.seniority import SENIORITY_LABELS

# The two signatures an ICP revision needs before it is "the agreed profile".
APPROVER_ROLES = (Role.MARKETING_LEADER, Role.SALES_LEADER)


class IcpRevisionQuerySet(models.QuerySet):
    def with_approving_roles(self):
        """Annotated with how many of the two leader roles approved each revision."""
        return self.annotate(
            approving_roles=models.Count(
                "approvals__role",
                filter=models.Q(approvals__role__in=APPROVER_ROLES),
                distinct=True,
            )
        )


class IcpRevision(models.Model):
    """One saved state of the organization's Ideal Customer Profile; every save is a new revision.

    `criteria` holds the firmographics in the shape apps/icp/fit.py reads
    (employee_min/max, revenue_min/max, industries, regions, technologies,
    seniorities); the narrative parts are lists of plain texts, personas a list
    of cards {role, goals, pains, objections}.
    """

    number = models.PositiveIntegerField(unique=True)
    criteria = models.JSONField(default=dict, blank=True)
    triggers = models.JSONField(default=list, blank=True)
    pains = models.JSONField(default=list, blank=True, help_text="In the customer's own words")
    watering_holes = models.JSONField(default=list, blank=True)
    personas = models.JSONField(default=list, blank=True)
    summary = models.CharField(max_length=300, blank=True, help_text="What changed and why")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = IcpRevisionQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"ICP revision {self.number}"

    @property
    def seniority_labels(self) -> list[str]:
        return [SENIORITY_LABELS.get(s, s) for s in (self.criteria or {}).get("seniorities", [])]


class IcpApproval(models.Model):
    """A leader's approval of one revision: who, as which role, and when."""

    revision = models.ForeignKey(IcpRevision, on_delete=models.CASCADE, related_name="approvals")
    role = models.CharField(max_length=32, choices=Role.choices)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["approved_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["revision", "role"], name="icpapproval_one_per_role"),
        ]

    def __str__(self) -> str:
        return f"{self.role} approved revision {self.revision_id}"
