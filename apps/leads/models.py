from django.conf import settings
from django.db import models
from django.utils import timezone


class Stage(models.TextChoices):
    LEAD = "lead", "Lead"
    MQL = "mql", "MQL"
    SQL = "sql", "SQL"
    OPPORTUNITY = "opportunity", "Opportunity"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    NURTURE = "nurture", "Nurture"
    DISQUALIFIED = "disqualified", "Disqualified"


# The time stamp each stage sets on the lead when it is entered (first time only).
STAGE_TIMESTAMP = {
    Stage.MQL: "mql_at",
    Stage.SQL: "sql_at",
    Stage.OPPORTUNITY: "opportunity_at",
    Stage.WON: "closed_at",
    Stage.LOST: "closed_at",
}


class ActivityKind(models.TextChoices):
    # engagement
    PAGE_VIEW = "page_view", "Page view"
    FORM_SUBMIT = "form_submit", "Form submitted"
    CONTENT_DOWNLOAD = "content_download", "Content download"
    WEBINAR_REGISTERED = "webinar_registered", "Webinar registration"
    WEBINAR_ATTENDED = "webinar_attended", "Webinar attended"
    EMAIL_OPEN = "email_open", "Email opened"
    EMAIL_CLICK = "email_click", "Email clicked"
    PRODUCT_EVENT = "product_event", "Product event"
    # sales touches
    CALL = "call", "Call"
    EMAIL_SENT = "email_sent", "Email sent"
    MEETING = "meeting", "Meeting"
    SMS = "sms", "SMS"
    SOCIAL = "social", "Social touch"


SALES_TOUCH_KINDS = frozenset(
    {
        ActivityKind.CALL,
        ActivityKind.EMAIL_SENT,
        ActivityKind.MEETING,
        ActivityKind.SMS,
        ActivityKind.SOCIAL,
    }
)


class ActivityFamily(models.TextChoices):
    ENGAGEMENT = "engagement", "Engagement"
    SALES_TOUCH = "sales_touch", "Sales touch"


def activity_family(kind: str) -> str:
    return ActivityFamily.SALES_TOUCH if kind in SALES_TOUCH_KINDS else ActivityFamily.ENGAGEMENT


class LeadQuerySet(models.QuerySet):
    def open_mqls(self):
        return self.filter(stage=Stage.MQL)


# What the funnel reads of a lead besides created_at (the covering indexes below).
FUNNEL_COLUMNS = ["source", "owner", "stage", "mql_at", "sql_at", "opportunity_at", "closed_at"]


class Lead(models.Model):
    """A person at a company, as the CRM knows them, with its lifecycle stage and stage times."""

    external_id = models.CharField(max_length=128, unique=True)
    email = models.EmailField(blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=200, blank=True)
    seniority = models.CharField(max_length=16, blank=True, default="unknown")
    company = models.CharField(max_length=200, blank=True)
    company_domain = models.CharField(max_length=200, blank=True)
    company_size = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    region = models.CharField(max_length=100, blank=True)
    source = models.CharField(
        max_length=100, blank=True, help_text="Channel, e.g. webinar, paid_search"
    )
    campaign = models.CharField(max_length=200, blank=True)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)

    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.LEAD)
    stage_changed_at = models.DateTimeField(default=timezone.now)
    mql_at = models.DateTimeField(
        null=True, blank=True, help_text="When the current MQL event qualified"
    )
    sql_at = models.DateTimeField(null=True, blank=True)
    opportunity_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    amount = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    expected_close = models.DateField(null=True, blank=True)

    properties = models.JSONField(default=dict, blank=True)
    # When a field the MQL definition may read last changed through an update
    # (not the creation): qualification never dates an MQL before the facts existed.
    fields_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["stage", "owner"], name="lead_stage_owner_idx"),
            models.Index(fields=["mql_at"], name="lead_mql_at_idx"),
            models.Index(fields=["source", "campaign"], name="lead_source_campaign_idx"),
            # Covering: the funnel of a period (apps/dashboards/selectors.funnel_stages) is an
            # index-only range scan of one of these two, organization-wide or for one source,
            # not a read of the leads heap (a quarter is most of it at 1M leads). The included
            # columns change only with the stage or owner, which other indexes hold already:
            # no update that was HOT stops being so.
            models.Index(
                fields=["created_at"], include=FUNNEL_COLUMNS, name="lead_created_funnel_idx"
            ),
            models.Index(
                fields=["source", "created_at"],
                include=FUNNEL_COLUMNS[1:],
                name="lead_source_created_idx",
            ),
            models.Index(fields=["email"], name="lead_email_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gte=0) | models.Q(amount__isnull=True),
                name="lead_amount_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.external_id

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class StageChange(models.Model):
    """Every lifecycle move of a lead: from, to, when, by whom and through which channel."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=16, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=16, choices=Stage.choices)
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=16, blank=True, help_text="api, webhook, csv, ui, system")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["lead", "occurred_at"], name="stagechange_lead_time_idx")]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage or '∅'} → {self.to_stage}"


class Activity(models.Model):
    """A timestamped event on a lead: engagement from marketing systems or a sales touch by a user."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=24, choices=ActivityKind.choices)
    family = models.CharField(max_length=16, choices=ActivityFamily.choices)
    occurred_at = models.DateTimeField()
    external_id = models.CharField(max_length=128, unique=True)
    properties = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activities",
    )
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["lead", "occurred_at"], name="activity_lead_time_idx"),
            models.Index(fields=["lead", "family", "occurred_at"], name="activity_lead_family_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        family="sales_touch",
                        kind__in=["call", "email_sent", "meeting", "sms", "social"],
                    )
                )
                | (
                    models.Q(family="engagement")
                    & ~models.Q(kind__in=["call", "email_sent", "meeting", "sms", "social"])
                ),
                name="activity_family_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.lead_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Assignment(models.Model):
    """A record of every owner change: who got the lead, when, and by which rule or person."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="assignments")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(default=timezone.now)
    rule = models.ForeignKey(
        "leads.RoutingRule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assignments",
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["assigned_at", "id"]
        indexes = [models.Index(fields=["lead", "assigned_at"], name="assignment_lead_time_idx")]

    def __str__(self) -> str:
        return f"{self.lead_id} → {self.owner_id}"


class RoutingRule(models.Model):
    """An ordered rule: leads matching its conditions go round-robin to its pool of reps."""

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    conditions = models.JSONField(
        default=list, blank=True, help_text="[{field, op, value}], all must hold"
    )
    pool = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="routing_rules", blank=True
    )
    is_fallback = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    # Round-robin position, advanced under a row lock so concurrent routing stays fair.
    cursor = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class FieldMapping(models.Model):
    """One inbound source's field names -> lead fields, as the organization last saved them."""

    class Source(models.TextChoices):
        HUBSPOT = "hubspot", "HubSpot"
        SALESFORCE = "salesforce", "Salesforce"
        CSV = "csv", "CSV import"

    source = models.CharField(max_length=16, choices=Source.choices, unique=True)
    # {source field or CSV header: lead item key | "properties.<key>" | "" (ignore)}
    mapping = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["source"]

    def __str__(self) -> str:
        return f"{self.get_source_display()} mapping"


class WebhookEndpoint(models.Model):
    """The organization's receiving webhook: a secret URL token and an HMAC signing secret.

    Both are stored in clear on purpose: the URL must be shown again to be pasted into
    the CRM, and verifying an HMAC needs the secret itself. Rotating replaces them.
    """

    url_token = models.CharField(max_length=64, unique=True)
    signing_secret = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)
    last_received_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"webhook {self.url_token[:6]}…"


class ImportJob(models.Model):
    """One CSV import: the uploaded file, its column mapping, progress and the row-by-row report.

    The file is kept in the database (not on a disk) so any worker can run the import.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Waiting for column mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class DateOrder(models.TextChoices):
        ISO = "iso", "ISO (2025-03-31)"
        MDY = "mdy", "US (03/31/2025)"
        DMY = "dmy", "Day first (31/03/2025)"

    filename = models.CharField(max_length=255)
    content = models.BinaryField()
    size = models.PositiveIntegerField(default=0)
    encoding = models.CharField(max_length=16, default="utf-8")
    delimiter = models.CharField(max_length=1, default=",")
    headers = models.JSONField(default=list, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    mapping = models.JSONField(default=dict, blank=True)
    date_order = models.CharField(max_length=3, choices=DateOrder.choices, default=DateOrder.ISO)
    time_zone = models.CharField(
        max_length=64, default="UTC", help_text="How to read dates and times without an offset"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    processed_rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # [{"line": n, "external_id": str, "errors": {field: [message]}}], line 1 = the header
    row_errors = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # When the job was (last) sent to the workers; a queued job older than that is re-sent.
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.filename} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0
