"""Compliance records: sweep runs, metric snapshots, and the alert outbox with its deliveries.

Alerts are rows first. The sweep inserts an ``Alert`` (unique per clock and kind, or
per commitment, period and kind) and one ``AlertDelivery`` per channel and
recipient in the same transaction, with ``ON CONFLICT DO NOTHING``; a Celery task
then claims pending deliveries (``FOR UPDATE SKIP LOCKED``) and delivers them. A lost
broker message only delays a delivery: the minute sweep re-enqueues what is pending.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class SweepRun(models.Model):
    """One run of the per-tenant sweep: proves the worker ran, in which schema, and how long it took."""

    schema_name = models.CharField(max_length=63)
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # {"breached": n, "warnings": n, "alerts": n, "snapshots": n, ...} for the run's work.
    stats = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["-started_at"], name="sweeprun_started_idx")]

    def __str__(self) -> str:
        return f"sweep {self.schema_name} {self.started_at:%Y-%m-%d %H:%M}"


class PeriodKind(models.TextChoices):
    WEEK = "week", "Week"
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"


class ComplianceSnapshot(models.Model):
    """One commitment kind's numbers for one period as of one moment; frozen (immutable)
    once closed.

    One row per kind (owner team and metric, apps/compliance/kinds.py), however many SLA
    versions were in force during the period: ``commitment`` is the kind's newest one
    then, ``versions`` the version numbers the figure was measured under. Refreshed by
    every sweep while the period is open (as_of = the sweep's time); frozen by the first
    sweep after the period ends, with as_of = the period's end, so the recorded numbers
    are reproducible and escalations read a fixed history.
    """

    commitment = models.ForeignKey(
        "sla.Commitment", on_delete=models.CASCADE, related_name="compliance_snapshots"
    )
    kind = models.CharField(max_length=80, help_text="<owner team>.<metric>[.<n>]")
    versions = models.JSONField(default=list, blank=True, help_text="SLA version numbers")
    period_kind = models.CharField(max_length=8, choices=PeriodKind.choices)
    period_start = models.DateField(help_text="First local day of the period")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    as_of = models.DateTimeField()
    value = models.FloatField(null=True, blank=True)
    numerator = models.FloatField()
    denominator = models.FloatField()
    target = models.FloatField()
    yellow_threshold = models.FloatField()
    effective_target = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=8)
    pending = models.PositiveIntegerField(default=0)
    median_hours = models.FloatField(null=True, blank=True)
    p90_hours = models.FloatField(null=True, blank=True)
    # A clock kind's open period only: [[owner id or null, met, missed, pending], ...] per
    # current owner of the measured leads, as of as_of (the scorecard's per-rep figures add
    # up to the tile). Null when not stored: a closed period (owners change after it closed),
    # or a kind not measured by clocks.
    owner_counts = models.JSONField(null=True, blank=True)
    frozen = models.BooleanField(default=False)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["kind", "period_kind", "period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "period_kind", "period_start"],
                name="snapshot_one_per_kind_period",
            ),
        ]
        indexes = [
            models.Index(fields=["period_kind", "period_start"], name="snapshot_period_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.period_kind} {self.period_start} ({self.status})"


class WinRateSnapshot(models.Model):
    """The pipeline-at-risk inputs of the whole organization as of one sweep: the won share
    of its MQLs whose first-contact clock was met, and of those whose clock was breached,
    over the 12 months before ``as_of``, and the average amount of the deals won then.

    The sweep replaces the one row every run (``snapshots_refresh``); the scorecard of the
    open period reads it instead of scanning a year of clocks, while it is fresh.
    """

    as_of = models.DateTimeField()
    since = models.DateTimeField(help_text="as_of minus 365 days")
    in_sla_won = models.PositiveIntegerField()
    in_sla_total = models.PositiveIntegerField()
    out_sla_won = models.PositiveIntegerField()
    out_sla_total = models.PositiveIntegerField()
    average_won_amount = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-as_of"]

    def __str__(self) -> str:
        return f"win rates as of {self.as_of:%Y-%m-%d %H:%M}"


class AlertKind(models.TextChoices):
    DUE_SOON = "due_soon", "Due soon"
    BREACH = "breach", "SLA breach"
    COMMITMENT_RED = "commitment_red", "Commitment turned red"
    ESCALATION = "escalation", "Escalation"


class Channel(models.TextChoices):
    IN_APP = "in_app", "In the app"
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Organization webhook"


# Channels a person chooses for themselves; the webhook is the organization's.
PERSONAL_CHANNELS = (Channel.IN_APP, Channel.EMAIL)


class Alert(models.Model):
    """Something someone must hear about, recorded once; its deliveries say who and how.

    Clock alerts (due soon, breach) are unique per clock and kind; commitment alerts
    (turned red, escalation) per commitment, period, kind and escalation rule. An alert
    without deliveries (``found_in_backfill``) is a record of history, not a message.
    ``payload`` holds what the message needs (lead and commitment names, due time,
    values), captured when the alert is raised, so every channel says the same.
    """

    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    clock = models.ForeignKey(
        "sla.SlaClock", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    commitment = models.ForeignKey(
        "sla.Commitment", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    escalation_rule = models.ForeignKey(
        "sla.EscalationRule",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alerts",
    )
    period_kind = models.CharField(max_length=8, choices=PeriodKind.choices, blank=True)
    period_start = models.DateField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    # An escalation episode found in back-filled history, older than the closed periods the
    # sweep still sends about: recorded (the scorecard and the API show it), nobody notified.
    # A database default too, so the sweep's raw INSERTs need not name it.
    found_in_backfill = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clock", "kind"],
                condition=Q(clock__isnull=False),
                name="alert_once_per_clock_kind",
            ),
            models.UniqueConstraint(
                fields=["commitment", "period_kind", "period_start", "kind", "escalation_rule"],
                condition=Q(clock__isnull=True),
                nulls_distinct=False,
                name="alert_once_per_commitment_period_kind",
            ),
            models.CheckConstraint(
                condition=Q(clock__isnull=False)
                | (Q(commitment__isnull=False) & Q(period_start__isnull=False)),
                name="alert_has_a_subject",
            ),
        ]
        indexes = [models.Index(fields=["-created_at"], name="alert_created_idx")]

    def __str__(self) -> str:
        return f"{self.kind} alert {self.pk}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"
    SKIPPED = "skipped", "Skipped"


class EmailDigest(models.Model):
    """One email to one person that carries every alert pending for them (at most one a minute).

    The composition is fixed before sending (the deliveries point here) and ``key``
    becomes the Message-ID, so a digest re-sent after a crash is the same message.
    At most one unsent digest per person at a time (partial unique constraint).
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_digests"
    )
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient"],
                condition=Q(sent_at__isnull=True),
                name="digest_one_unsent_per_recipient",
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "-sent_at"], name="digest_recipient_sent_idx"),
        ]

    def __str__(self) -> str:
        return f"digest {self.key} to {self.recipient_id}"


class AlertDelivery(models.Model):
    """The outbox row: one alert to one recipient over one channel (the webhook has none)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_deliveries",
    )
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # Sent with the webhook (X-Handoff-Delivery) so a receiver can drop a repeat.
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    digest = models.ForeignKey(
        EmailDigest, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "channel", "recipient"],
                nulls_distinct=False,
                name="delivery_once_per_alert_channel_recipient",
            ),
        ]
        indexes = [
            # The delivery task's and the sweep's scan: small, only what is still owed.
            models.Index(
                fields=["channel", "next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} delivery of alert {self.alert_id} ({self.status})"


class Notification(models.Model):
    """An in-app notification: what the bell counts; unique per alert and person."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "recipient"], name="notification_once_per_alert_recipient"
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_list_idx"),
            # The bell's count on every page: only unread rows are in it.
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="notification_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationMute(models.Model):
    """A person does not want one kind of alert over one channel."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_mutes"
    )
    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    channel = models.CharField(
        max_length=8, choices=[(c.value, c.label) for c in PERSONAL_CHANNELS]
    )

    class Meta:
        ordering = ["user", "kind", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "channel"], name="mute_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} mutes {self.kind} by {self.channel}"


def default_webhook_kinds() -> list[str]:
    # Due-soon warnings are for the rep; a channel of the whole team would drown in them.
    return [AlertKind.BREACH, AlertKind.COMMITMENT_RED, AlertKind.ESCALATION]


class AlertSettings(models.Model):
    """The organization's alert settings (one row): due-soon share and the optional webhook."""

    due_soon_share = models.FloatField(
        null=True,
        blank=True,
        help_text="Warn when this share of a clock's window is left (0.25 = 25 %); "
        "empty = the COMPLIANCE_DUE_SOON_SHARE default",
    )
    webhook_url = models.URLField(max_length=500, blank=True)
    # In clear on purpose: signing needs the secret itself (like leads.WebhookEndpoint).
    webhook_secret = models.CharField(max_length=128, blank=True)
    webhook_enabled = models.BooleanField(default=False)
    webhook_kinds = models.JSONField(default=default_webhook_kinds, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "alert settings"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="alertsettings_single_row"),
            models.CheckConstraint(
                condition=Q(due_soon_share__isnull=True)
                | (Q(due_soon_share__gt=0) & Q(due_soon_share__lt=1)),
                name="alertsettings_share_between_0_and_1",
            ),
        ]

    def __str__(self) -> str:
        return "alert settings"

    @property
    def webhook_is_on(self) -> bool:
        return self.webhook_enabled and bool(self.webhook_url) and bool(self.webhook_secret)


class WebhookAttempt(models.Model):
    """One POST of a delivery to the organization webhook: the delivery log admins read."""

    delivery = models.ForeignKey(
        AlertDelivery, on_delete=models.CASCADE, related_name="attempts_log"
    )
    attempted_at = models.DateTimeField(default=timezone.now)
    url = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-attempted_at", "-id"]
        indexes = [models.Index(fields=["-attempted_at"], name="webhookattempt_time_idx")]

    def __str__(self) -> str:
        return f"webhook attempt {self.pk} ({self.status_code or self.error[:30]})"


class MqlEventFact(models.Model):
    """One row per MQL (or PQL) event with the facts every metric reads, kept current.

    Written only by apps/compliance/facts.py: the hand-off pipeline refreshes the rows of
    the leads a batch touched, in the batch's transaction; ``manage.py facts_rebuild``
    recomputes every row from the raw facts with the same SQL. Each column follows
    DESIGN.md's "Metric semantics": the facts of an event are those in its window
    ``[mql_at, window_end)``, where ``window_end`` is the lead's next event of the same
    kind; an event is judged under its clocks' SLA version (else the one in force at its
    ``mql_at``). Facts are stored with their instants, so "as of T" is a comparison with
    T: every stored instant is the *first* of its kind in the window, and remains so as T
    grows.
    """

    event = models.OneToOneField(
        "mql.MqlEvent", on_delete=models.CASCADE, primary_key=True, related_name="fact"
    )
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8)
    mql_at = models.DateTimeField()
    # The lead's next event of the same kind (exclusive end of this event's window).
    window_end = models.DateTimeField(null=True, blank=True)
    definition = models.ForeignKey(
        "mql.MqlDefinition", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    definition_version = models.PositiveIntegerField()
    # Owner at mql_at (latest assignment at or before it, else the first one inside the
    # window: the routing of a back-filled MQL), and the lead's owner now.
    owner_at_mql = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    source = models.CharField(max_length=100, blank=True)
    campaign = models.CharField(max_length=200, blank=True)
    sla_version = models.ForeignKey(
        "sla.SlaVersion",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Due instants of the event's clocks (None: no clock of that kind).
    first_contact_due = models.DateTimeField(null=True, blank=True)
    follow_up_due = models.DateTimeField(null=True, blank=True)
    disposition_due = models.DateTimeField(null=True, blank=True)
    # The follow-up cadence of the event's version: N touches within D days.
    cadence_touches = models.PositiveIntegerField(null=True, blank=True)
    cadence_days = models.PositiveIntegerField(null=True, blank=True)
    # Sales touches in the window: the first, the N-th (N = cadence_touches), how many.
    first_touch_at = models.DateTimeField(null=True, blank=True)
    nth_touch_at = models.DateTimeField(null=True, blank=True)
    touch_count = models.PositiveIntegerField(default=0)
    # Business seconds mql_at -> first touch in the calendar of sla_version.
    first_contact_business_seconds = models.FloatField(null=True, blank=True)
    # First final disposition (accepted, rejected, nurture) in the window, ties by id.
    disposition_at = models.DateTimeField(null=True, blank=True)
    disposition_outcome = models.CharField(max_length=16, blank=True)
    disposition_reason_code = models.ForeignKey(
        "dispositions.ReasonCode",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # The lead reached SQL inside the window (its conversion), else None.
    sql_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField()

    class Meta:
        ordering = ["mql_at", "event"]
        indexes = [
            models.Index(fields=["kind", "mql_at"], name="mqlfact_kind_time_idx"),
            models.Index(fields=["owner", "mql_at"], name="mqlfact_owner_time_idx"),
            models.Index(fields=["lead", "mql_at"], name="mqlfact_lead_time_idx"),
        ]

    def __str__(self) -> str:
        return f"fact of {self.kind} event {self.event_id} at {self.mql_at:%Y-%m-%d %H:%M}"
