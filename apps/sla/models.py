from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone as django_timezone


class BusinessCalendar(models.Model):
    """Working hours of an organization: the input of apps/sla/business_time.py."""

    name = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64, default="UTC")
    # Seven lists (Monday..Sunday) of [start "HH:MM", end "HH:MM"] working intervals.
    week = models.JSONField(default=list)
    holiday_country = models.CharField(max_length=2, blank=True)
    holiday_subdivision = models.CharField(max_length=10, blank=True)
    closed_dates = models.JSONField(
        default=list, blank=True, help_text='["2026-12-24", …] company days off'
    )
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=django_timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SlaContract(models.Model):
    """The agreement between marketing and sales; its content lives in versions."""

    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=django_timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_SIGNATURES = "awaiting_signatures", "Awaiting signatures"
    ACTIVE = "active", "Active"
    SUPERSEDED = "superseded", "Superseded"


class SlaVersionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=VersionStatus.ACTIVE)

    def in_force_at(self, moment):
        """Versions that governed `moment`: signed, effective on or before it, not yet replaced then."""
        return self.filter(
            status__in=[VersionStatus.ACTIVE, VersionStatus.SUPERSEDED],
            effective_at__lte=moment,
        ).filter(models.Q(superseded_at__isnull=True) | models.Q(superseded_at__gt=moment))


class SlaVersion(models.Model):
    """One version of the SLA. Once both leaders sign, it is immutable (any change = a new version)."""

    contract = models.ForeignKey(SlaContract, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=24, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    purpose = models.TextField(blank=True)
    calendar = models.ForeignKey(
        BusinessCalendar, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Frozen copy of the calendar taken at submission: signed content never changes
    # when someone later edits the calendar.
    calendar_snapshot = models.JSONField(default=dict, blank=True)
    mql_definition = models.ForeignKey(
        "mql.MqlDefinition",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sla_versions",
    )
    effective_at = models.DateTimeField(
        null=True, blank=True, help_text="May lie in the past (baseline for imported history)"
    )
    review_date = models.DateField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=django_timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    # The signed version this one was drafted against (the amended one, or the newest
    # signed version when the draft started): a version signed after it makes this one
    # outdated, and an outdated version can be neither submitted nor signed.
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Each submission opens a signing round; signatures of earlier rounds are withdrawn.
    signing_round = models.PositiveIntegerField(default=0)
    # HMAC (apps/sla/sealing.py) over the sign-off state: status, dates, round, content hash
    # and the version's signatures. Recomputed by the sign-off services on every change.
    seal = models.CharField(max_length=64, blank=True)
    seal_key_id = models.CharField(max_length=32, blank=True)
    # The chain positions of the version's signatures when it was last sealed (covered by
    # the seal), so verification can name a signature that went missing.
    sealed_signatures = ArrayField(models.PositiveIntegerField(), default=list, blank=True)

    objects = SlaVersionQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "number"], name="slaversion_contract_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract} v{self.number} ({self.get_status_display()})"

    @property
    def is_signed(self) -> bool:
        return self.status in (VersionStatus.ACTIVE, VersionStatus.SUPERSEDED)


class Team(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"
    SHARED = "shared", "Shared"


class Metric(models.TextChoices):
    MQL_VOLUME = "mql_volume", "MQL volume"
    MQL_TO_SQL_RATE = "mql_to_sql_rate", "MQL → SQL rate"
    FIRST_CONTACT_TIME = "first_contact_time", "First contact within"
    FOLLOW_UP_CADENCE = "follow_up_cadence", "Follow-up cadence"
    DISPOSITION_TIME = "disposition_time", "Disposition within"
    REJECTION_REASON_COVERAGE = "rejection_reason_coverage", "Rejections with a reason"
    PIPELINE_COVERAGE = "pipeline_coverage", "Pipeline coverage"


# Metrics measured per lead with a deadline: each opens an SLA clock at MQL time.
CLOCK_METRICS = frozenset(
    {Metric.FIRST_CONTACT_TIME, Metric.FOLLOW_UP_CADENCE, Metric.DISPOSITION_TIME}
)


class ReviewPeriod(models.TextChoices):
    WEEK = "week", "Weekly"
    MONTH = "month", "Monthly"
    QUARTER = "quarter", "Quarterly"


class Commitment(models.Model):
    """One measurable promise of one team, within an SLA version.

    params by metric: first_contact_time / disposition_time {"hours": 4, "clock": "business"|"calendar"};
    follow_up_cadence {"touches": 6, "days": 14}; pipeline_coverage {"revenue_target": 1200000};
    others {}. Targets for rates are fractions (0.8 = 80 %); mql_volume's is a count;
    pipeline_coverage's a ratio (3.0 = 3x). segment: {"field": …, "op": …, "value": …} list, all must hold.
    """

    version = models.ForeignKey(SlaVersion, on_delete=models.CASCADE, related_name="commitments")
    position = models.PositiveIntegerField(default=0)
    owner_team = models.CharField(max_length=16, choices=Team.choices)
    metric = models.CharField(max_length=32, choices=Metric.choices)
    params = models.JSONField(default=dict, blank=True)
    target = models.FloatField()
    yellow_threshold = models.FloatField()
    review_period = models.CharField(
        max_length=8, choices=ReviewPeriod.choices, default=ReviewPeriod.WEEK
    )
    segment = models.JSONField(default=list, blank=True)
    label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["version", "position", "id"]

    def __str__(self) -> str:
        return self.label or self.get_metric_display()


class EscalationRule(models.Model):
    """If <commitment> is below <threshold> for <periods> consecutive closed periods, notify <role>."""

    version = models.ForeignKey(
        SlaVersion, on_delete=models.CASCADE, related_name="escalation_rules"
    )
    commitment = models.ForeignKey(
        Commitment, on_delete=models.CASCADE, related_name="escalation_rules"
    )
    threshold = models.FloatField()
    periods = models.PositiveSmallIntegerField(default=2)
    period_kind = models.CharField(
        max_length=8, choices=ReviewPeriod.choices, default=ReviewPeriod.WEEK
    )
    notify_role = models.CharField(max_length=32, default="executive")

    class Meta:
        ordering = ["version", "id"]

    def __str__(self) -> str:
        return f"{self.commitment} < {self.threshold} for {self.periods} {self.period_kind}s → {self.notify_role}"


class Signature(models.Model):
    """A leader's signature on one exact version: who, as which role, when, from where, on which content.

    Append-only (PostgreSQL refuses UPDATE, DELETE and TRUNCATE). Signatures form one
    chain per organization: ``mac`` is an HMAC, with a key kept outside the database,
    over the signature's fields, the content hash and the previous signature's ``mac``
    (apps/sla/sealing.py). A signature of an earlier signing round of its version is
    withdrawn (the version changed after it was signed).
    """

    version = models.ForeignKey(SlaVersion, on_delete=models.PROTECT, related_name="signatures")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=32)
    team = models.CharField(max_length=16, choices=Team.choices)
    signed_at = models.DateTimeField(default=django_timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    channel = models.CharField(max_length=16, default="web", help_text="web or api")
    content_hash = models.CharField(max_length=64)
    round = models.PositiveIntegerField(default=1)
    # Position in the organization's chain (null only for signatures made before keyed
    # signatures, until `manage.py sla_seal` seals them).
    sequence = models.PositiveIntegerField(null=True, blank=True, unique=True)
    key_id = models.CharField(max_length=32, blank=True)
    previous_mac = models.CharField(max_length=64, blank=True)
    mac = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["signed_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "round", "team"], name="signature_one_per_team_and_round"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.signer} for {self.team} on {self.version}"

    @property
    def is_withdrawn(self) -> bool:
        """Signed in an earlier round, or the version went back to draft since."""
        version = self.version
        return self.round != version.signing_round or version.status == VersionStatus.DRAFT

    @property
    def role_label(self) -> str:
        labels = {"marketing_leader": "Marketing leader", "sales_leader": "Sales leader"}
        return labels.get(self.role, self.role.replace("_", " ").capitalize())


class ClockKind(models.TextChoices):
    FIRST_CONTACT = "first_contact", "First contact"
    FOLLOW_UP = "follow_up", "Follow-up cadence"
    DISPOSITION = "disposition", "Disposition"


class ClockState(models.TextChoices):
    PENDING = "pending", "Pending"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"


class SlaClockQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(state=ClockState.PENDING)


class SlaClock(models.Model):
    """A deadline for one MQL event under one time-based commitment.

    due_at is computed once, at MQL time, with the calendar of the version then
    in force: later SLA or calendar changes never move it. `met_at` is the fact
    that satisfied it (possibly late); `state` is met only when that was on time,
    breached when the due time passed first.
    """

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="sla_clocks")
    mql_event = models.ForeignKey(
        "mql.MqlEvent", on_delete=models.CASCADE, related_name="sla_clocks"
    )
    commitment = models.ForeignKey(Commitment, on_delete=models.PROTECT, related_name="clocks")
    sla_version = models.ForeignKey(SlaVersion, on_delete=models.PROTECT, related_name="clocks")
    kind = models.CharField(max_length=16, choices=ClockKind.choices)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    met_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=ClockState.choices, default=ClockState.PENDING)
    created_at = models.DateTimeField(default=django_timezone.now)

    objects = SlaClockQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["mql_event", "commitment"], name="slaclock_one_per_event_commitment"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "due_at"], name="slaclock_state_due_idx"),
            models.Index(fields=["lead", "kind"], name="slaclock_lead_kind_idx"),
            models.Index(fields=["started_at"], name="slaclock_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} clock of {self.lead_id} due {self.due_at:%Y-%m-%d %H:%M}"


class ChangeAction(models.TextChoices):
    CREATED = "created", "Created"
    EDITED = "edited", "Edited"
    COMMITMENT_ADDED = "commitment_added", "Commitment added"
    COMMITMENT_CHANGED = "commitment_changed", "Commitment changed"
    COMMITMENT_REMOVED = "commitment_removed", "Commitment removed"
    ESCALATION_ADDED = "escalation_added", "Escalation rule added"
    ESCALATION_CHANGED = "escalation_changed", "Escalation rule changed"
    ESCALATION_REMOVED = "escalation_removed", "Escalation rule removed"
    SUBMITTED = "submitted", "Submitted for signatures"
    SIGNATURES_WITHDRAWN = "signatures_withdrawn", "Signatures withdrawn"
    SIGNED = "signed", "Signed"
    ACTIVATED = "activated", "Activated"
    SUPERSEDED = "superseded", "Superseded"


class SlaVersionChange(models.Model):
    """Every change to a version with its author: the draft's history and the sign-off trail.

    Append-only: PostgreSQL refuses UPDATE, DELETE and TRUNCATE, so the author and the
    version are protected from deletion too.
    """

    version = models.ForeignKey(SlaVersion, on_delete=models.PROTECT, related_name="changes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=24, choices=ChangeAction.choices)
    summary = models.CharField(max_length=400)
    # {"field": {"from": …, "to": …}} for edits; the added/removed row for commitments.
    detail = models.JSONField(default=dict, blank=True)
    channel = models.CharField(max_length=16, default="web", help_text="web, api, admin, system")
    changed_at = models.DateTimeField(default=django_timezone.now)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [
            models.Index(fields=["version", "changed_at"], name="slachange_version_time_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} on {self.version_id} by {self.author_id}"
