from django.conf import settings
from django.db import models
from django.utils import timezone


class MarketingSpend(models.Model):
    """What marketing spent on one channel in one calendar month (the input of CAC in the QBR).

    `channel` uses the same values as Lead.source, so spend and won deals line up.
    """

    month = models.DateField(help_text="First day of the month")
    channel = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-month", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["month", "channel"], name="spend_month_channel_unique"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="spend_not_negative"),
            models.CheckConstraint(condition=models.Q(month__day=1), name="spend_month_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.month:%Y-%m}: {self.amount}"


class ReportKind(models.TextChoices):
    HUDDLE = "huddle", "Weekly huddle"
    MONTHLY = "monthly", "Monthly pipeline review"
    QBR = "qbr", "Quarterly business review"


class ReportSubscription(models.Model):
    """A user's wish to receive one review report by email when its period closes."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions"
    )
    report = models.CharField(max_length=16, choices=ReportKind.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["report", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "report"], name="reportsub_user_report_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_report_display()} → {self.user_id}"


class ReportDelivery(models.Model):
    """One email of one report period to one subscriber. The row is written before sending, so a
    sweep that runs twice (or twice at once) never sends the same period twice."""

    subscription = models.ForeignKey(
        ReportSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    period_start = models.DateField()
    period_label = models.CharField(max_length=60)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-period_start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_start"], name="reportdelivery_once_per_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscription} {self.period_label}"


class ChartSnapshot(models.Model):
    """One chart's computed data for one scope (period, filters, options), stored so the charts
    page reads a row instead of re-running whole-cohort aggregates on every view.

    A closed period's snapshot is frozen (as of the period's end, like the compliance
    snapshots); an open period's is refreshed every few minutes by the worker and on demand
    (apps/dashboards/snapshots.py). ``payload`` holds the points, the note and the plotly
    figure exactly as the chart builders made them.
    """

    key = models.CharField(max_length=64, unique=True, help_text="sha256 of chart and scope")
    chart = models.CharField(max_length=40)
    period_kind = models.CharField(max_length=8)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    # The scope to rebuild it from (query parameters, owner, chart options).
    scope = models.JSONField(default=dict)
    as_of = models.DateTimeField(help_text="The moment the numbers describe")
    computed_at = models.DateTimeField(default=timezone.now)
    compute_ms = models.PositiveIntegerField(default=0)
    frozen = models.BooleanField(default=False, help_text="The period had closed: never recomputed")
    refresh_requested_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(default=dict)

    class Meta:
        indexes = [
            models.Index(fields=["period_start", "period_end"], name="chartsnap_period_idx"),
            models.Index(fields=["frozen", "computed_at"], name="chartsnap_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.chart} {self.period_kind} {self.period_start:%Y-%m-%d} as of {self.as_of}"
