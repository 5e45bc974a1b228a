"""Writes of the dashboards: marketing spend, report subscriptions and the scheduled report emails."""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.accounts.exceptions import DomainError, NotAllowed
from apps.accounts.roles import Role
from apps.compliance.periods import Period
from apps.dashboards import reports
from apps.dashboards.models import MarketingSpend, ReportDelivery, ReportKind, ReportSubscription
from apps.dashboards.scope import period_token
from apps.dashboards.selectors import organization_timezone
from apps.tenants.addresses import organization_url
from apps.tenants.models import Organization

logger = logging.getLogger(__name__)

__all__ = [
    "REPORT_ROLES",
    "SEND_HOUR",
    "marketing_spend_delete",
    "marketing_spend_set",
    "report_send_time",
    "report_subscription_set",
    "reports_send_due",
]

# Who may read the review reports (and so subscribe to them): everyone but reps, who see
# their own numbers only.
REPORT_ROLES = frozenset(
    {Role.ADMIN, Role.EXECUTIVE, Role.MARKETING_LEADER, Role.MARKETER, Role.SALES_LEADER}
)
# Reports go out at 09:00 local time on the first day after their period: Monday for the
# huddle, the 1st for the monthly review and the QBR.
SEND_HOUR = 9
MAX_ATTEMPTS = 5


@transaction.atomic
def marketing_spend_set(
    *, month: date, channel: str, amount: Decimal | str, actor=None
) -> MarketingSpend:
    """Record (or correct) what one channel cost in one month; the month is any day in it."""
    if not isinstance(month, date):
        raise DomainError("Choose a month.", field="month")
    channel = (channel or "").strip()
    if not channel:
        raise DomainError("Name the channel (the lead source it paid for).", field="channel")
    if len(channel) > 100:
        raise DomainError("Keep the channel name under 100 characters.", field="channel")
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError) as exc:
        raise DomainError("Enter the amount as a number.", field="amount") from exc
    if not value.is_finite() or value < 0:
        raise DomainError("The amount cannot be negative.", field="amount")
    if value >= Decimal("1e12"):
        raise DomainError("The amount is too large.", field="amount")
    spend, _ = MarketingSpend.objects.update_or_create(
        month=month.replace(day=1),
        channel=channel,
        defaults={
            "amount": value.quantize(Decimal("0.01")),
            "entered_by": actor if getattr(actor, "pk", None) else None,
            "updated_at": _now(),
        },
    )
    audit_record(actor=actor, action="spend.set", target=f"{channel} {month:%Y-%m}", amount=str(spend.amount))  # fmt: skip
    return spend


@transaction.atomic
def marketing_spend_delete(*, spend: MarketingSpend, actor=None) -> None:
    """Remove a spend line entered by mistake."""
    audit_record(actor=actor, action="spend.deleted", target=f"{spend.channel} {spend.month:%Y-%m}", amount=str(spend.amount))  # fmt: skip
    spend.delete()


@transaction.atomic
def report_subscription_set(*, user, report: str, active: bool) -> ReportSubscription:
    """Subscribe a user to a report's email, or pause it (one subscription per user and report)."""
    if report not in ReportKind.values:
        raise DomainError(f"Unknown report “{report}”.", field="report")
    if getattr(user, "role", None) not in REPORT_ROLES:
        raise NotAllowed("Your role does not receive review reports.", field="report")
    subscription, created = ReportSubscription.objects.get_or_create(
        user=user, report=report, defaults={"is_active": active, "created_at": _now()}
    )
    if not created and subscription.is_active != active:
        subscription.is_active = active
        # A subscription switched back on starts afresh: no back-filled reports.
        if active:
            subscription.created_at = _now()
        subscription.save(update_fields=["is_active", "created_at"])
    return subscription


def report_send_time(period: Period) -> datetime:
    """When a report period's email is due: 09:00 local on the day the period ends (Monday for
    a week), computed in the period's own timezone so it stays 09:00 across DST."""
    zone = period.end.tzinfo
    local_day = period.end.astimezone(zone).date()
    naive = datetime.combine(local_day, datetime.min.time()).replace(hour=SEND_HOUR)
    return naive.replace(tzinfo=zone)


def reports_send_due(*, now: datetime, tz: str | None = None) -> int:
    """Email every report whose period closed and whose send time has come, once per period and
    subscriber; returns how many emails went out.

    Called by the per-tenant minute sweep. Idempotent: the ReportDelivery row (unique per
    subscription and period) is claimed before the email is sent, under a row lock that
    concurrent sweeps skip, so a period is never sent twice; a failed send leaves the row
    unsent and a later sweep retries it (MAX_ATTEMPTS times).
    """
    tz = tz or organization_timezone()
    subscriptions = list(
        ReportSubscription.objects.filter(is_active=True, user__is_active=True).select_related(
            "user"
        )
    )
    if not subscriptions:
        return 0
    periods = {
        kind: reports.default_period(kind, now=now, tz=tz)
        for kind in {s.report for s in subscriptions}
    }
    built: dict[str, reports.Report] = {}
    sent = 0
    for subscription in subscriptions:
        period = periods[subscription.report]
        send_at = report_send_time(period)
        # Not yet 09:00, or subscribed after this period's report was due: nothing to send.
        if now < send_at or subscription.created_at > send_at:
            continue
        delivery = _delivery_claim(subscription=subscription, period=period)
        if delivery is None:
            continue
        if subscription.report not in built:
            built[subscription.report] = reports.build_report(
                subscription.report, period=period, now=now, tz=tz
            )
        if _delivery_send(delivery=delivery, report=built[subscription.report], now=now):
            sent += 1
    return sent


def _delivery_claim(*, subscription: ReportSubscription, period: Period) -> ReportDelivery | None:
    """The unsent delivery row for this period, created if needed; None when already sent,
    given up on, or being sent by a concurrent sweep."""
    try:
        with transaction.atomic():
            ReportDelivery.objects.get_or_create(
                subscription=subscription,
                period_start=period.first_day,
                defaults={"period_label": period.label},
            )
    except IntegrityError:
        pass  # a concurrent sweep created it first
    return (
        ReportDelivery.objects.filter(
            subscription=subscription,
            period_start=period.first_day,
            sent_at__isnull=True,
            attempts__lt=MAX_ATTEMPTS,
        )
        .select_related("subscription__user")
        .first()
    )


def _delivery_send(*, delivery: ReportDelivery, report: reports.Report, now: datetime) -> bool:
    with transaction.atomic():
        locked = (
            ReportDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery.pk, sent_at__isnull=True)
            .first()
        )
        if locked is None:
            return False
        locked.attempts += 1
        try:
            _report_email(report=report, user=delivery.subscription.user).send()
        except Exception as exc:  # any mail-backend failure: keep the row, retry next sweep
            logger.warning("report email %s failed: %s", locked.pk, exc)
            locked.last_error = str(exc)[:2000]
            locked.save(update_fields=["attempts", "last_error"])
            return False
        locked.sent_at = now
        locked.last_error = ""
        locked.save(update_fields=["attempts", "sent_at", "last_error"])
        return True


def _report_email(*, report: reports.Report, user) -> EmailMultiAlternatives:
    context = {"report": report, "user": user, "url": _report_url(report)}
    message = EmailMultiAlternatives(
        subject=f"[Handoff] {report.title}",
        body=render_to_string("dashboards/email/report.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach_alternative(
        render_to_string("dashboards/email/report.html", context), "text/html"
    )
    for table in report.tables:
        if table.rows:
            message.attach(
                f"{report.kind}-{report.period.first_day}-{table.key}.csv",
                reports.table_csv(table),
                "text/csv",
            )
    return message


def _report_url(report: reports.Report) -> str:
    """The report's page on the organization's host. In a Celery task the connection knows
    only the schema, so the organization is looked up by it."""
    path = reverse(f"dashboards:{report.kind}") + f"?period={period_token(report.period)}"
    organization = Organization.objects.filter(schema_name=connection.schema_name).first()
    return organization_url(organization, path) if organization else path


def _now() -> datetime:
    return timezone.now()
