"""Writes: marketing spend, report subscriptions, and the scheduled report emails (Monday 09:00
in the organization's timezone, once per period and subscriber)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.mail import EmailMultiAlternatives

from apps.accounts.exceptions import DomainError, NotAllowed
from apps.compliance.periods import PeriodKind, period_for
from apps.dashboards import services
from apps.dashboards.models import MarketingSpend, ReportDelivery, ReportSubscription
from tests.dashboards.factories import user

BERLIN = "Europe/Berlin"
# Monday 16 November 2026, 09:00 in Berlin (CET, UTC+1).
MONDAY_9 = datetime(2026, 11, 16, 9, tzinfo=ZoneInfo(BERLIN))


def test_spend_is_one_row_per_month_and_channel(acme):
    first = services.marketing_spend_set(
        month=date(2026, 10, 17), channel=" webinar ", amount="100"
    )
    again = services.marketing_spend_set(month=date(2026, 10, 1), channel="webinar", amount=250)
    assert first.pk == again.pk and again.month == date(2026, 10, 1)
    assert MarketingSpend.objects.get().amount == Decimal("250.00")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"month": "2026-10", "channel": "x", "amount": 1}, "month"),
        ({"month": date(2026, 10, 1), "channel": "  ", "amount": 1}, "channel"),
        ({"month": date(2026, 10, 1), "channel": "x" * 101, "amount": 1}, "channel"),
        ({"month": date(2026, 10, 1), "channel": "x", "amount": "-1"}, "amount"),
        ({"month": date(2026, 10, 1), "channel": "x", "amount": "abc"}, "amount"),
        ({"month": date(2026, 10, 1), "channel": "x", "amount": "NaN"}, "amount"),
    ],
)
def test_spend_validation_names_the_field(acme, values, field):
    with pytest.raises(DomainError) as error:
        services.marketing_spend_set(**values)
    assert error.value.field == field


def test_reps_cannot_subscribe_to_reports(acme):
    with pytest.raises(NotAllowed):
        services.report_subscription_set(user=user("rep"), report="huddle", active=True)


def test_send_time_is_nine_local_on_the_first_day_after_the_period():
    week = period_for(PeriodKind.WEEK, date(2026, 11, 11), BERLIN)
    assert services.report_send_time(week) == MONDAY_9
    # Across the end of summer time the send time stays 09:00 local.
    october = period_for(PeriodKind.MONTH, date(2026, 10, 5), BERLIN)
    sent = services.report_send_time(october)
    assert sent.astimezone(UTC) == datetime(2026, 11, 1, 8, tzinfo=UTC)
    summer = period_for(PeriodKind.WEEK, date(2026, 7, 8), BERLIN)
    assert services.report_send_time(summer).astimezone(UTC).hour == 7


def _subscribe(report="huddle", role="executive", created=None):
    subscriber = user(role)
    subscription = services.report_subscription_set(user=subscriber, report=report, active=True)
    ReportSubscription.objects.filter(pk=subscription.pk).update(
        created_at=created or MONDAY_9 - timedelta(days=30)
    )
    return subscriber


def test_huddle_goes_out_monday_at_nine_once(acme, mailoutbox):
    subscriber = _subscribe()
    assert services.reports_send_due(now=MONDAY_9 - timedelta(minutes=1), tz=BERLIN) == 0
    assert services.reports_send_due(now=MONDAY_9, tz=BERLIN) == 1
    assert services.reports_send_due(now=MONDAY_9 + timedelta(minutes=1), tz=BERLIN) == 0
    assert services.reports_send_due(now=MONDAY_9 + timedelta(days=3), tz=BERLIN) == 0
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [subscriber.email]
    assert mail.subject == "[Handoff] Weekly huddle — Week of 2026-11-09"
    assert (
        "http://acme.localhost" in mail.body
        and "/dashboards/reports/huddle/?period=week" in mail.body
    )
    assert any(a[0].endswith("-flow.csv") for a in mail.attachments)
    html = mail.alternatives[0][0]
    assert "Lead flow" in html and "Leads that breached the SLA" in html
    delivery = ReportDelivery.objects.get()
    assert (delivery.period_start, delivery.attempts) == (date(2026, 11, 9), 1)
    # The next Monday sends the next week.
    assert services.reports_send_due(now=MONDAY_9 + timedelta(days=7), tz=BERLIN) == 1
    assert ReportDelivery.objects.count() == 2


def test_monthly_and_qbr_go_out_on_the_first_at_nine(acme, mailoutbox):
    first_of_january = datetime(2027, 1, 1, 9, tzinfo=ZoneInfo(BERLIN))
    _subscribe("monthly", "marketing_leader", created=first_of_january - timedelta(days=60))
    _subscribe("qbr", "sales_leader", created=first_of_january - timedelta(days=60))
    assert services.reports_send_due(now=first_of_january - timedelta(hours=1), tz=BERLIN) == 0
    assert services.reports_send_due(now=first_of_january, tz=BERLIN) == 2
    subjects = sorted(m.subject for m in mailoutbox)
    assert subjects == [
        "[Handoff] Monthly pipeline review — December 2026",
        "[Handoff] Quarterly business review — Q4 2026",
    ]


def test_no_back_filled_report_for_a_new_or_paused_subscription(acme, mailoutbox):
    _subscribe(created=MONDAY_9 + timedelta(hours=2))  # subscribed after Monday's send time
    paused = _subscribe()
    ReportSubscription.objects.filter(user=paused).update(is_active=False)
    assert services.reports_send_due(now=MONDAY_9 + timedelta(hours=3), tz=BERLIN) == 0
    assert mailoutbox == []


def test_a_failed_send_is_retried_by_the_next_sweep(acme, mailoutbox, monkeypatch):
    _subscribe()
    original = EmailMultiAlternatives.send

    def broken(self, *args, **kwargs):
        raise ConnectionRefusedError("SMTP relay down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", broken)
    assert services.reports_send_due(now=MONDAY_9, tz=BERLIN) == 0
    delivery = ReportDelivery.objects.get()
    assert delivery.sent_at is None and delivery.attempts == 1
    assert "SMTP relay down" in delivery.last_error
    monkeypatch.setattr(EmailMultiAlternatives, "send", original)
    assert services.reports_send_due(now=MONDAY_9 + timedelta(minutes=1), tz=BERLIN) == 1
    delivery.refresh_from_db()
    assert delivery.sent_at is not None and delivery.attempts == 2 and len(mailoutbox) == 1


def test_the_organization_timezone_is_used_by_default(acme, mailoutbox):
    from tests.dashboards.factories import signed_version

    signed_version(effective_at=MONDAY_9 - timedelta(days=90), tz=BERLIN)
    _subscribe()
    # 08:30 UTC is 09:30 in Berlin: due. (In UTC it would be 08:30: not yet.)
    assert services.reports_send_due(now=datetime(2026, 11, 16, 8, 30, tzinfo=UTC)) == 1


def _sweep_sends_reports() -> bool:
    import inspect

    from apps.compliance import services as compliance_services

    return "reports_send_due" in inspect.getsource(compliance_services.tenant_sweep)


@pytest.mark.skipif(
    not _sweep_sends_reports(),
    reason="apps/compliance/services.tenant_sweep does not call "
    "apps.dashboards.services.reports_send_due yet (one-line change for its owner)",
)
def test_the_minute_sweep_sends_due_reports(acme, mailoutbox):
    from apps.compliance.services import tenant_sweep

    _subscribe()
    monday_nine_utc = datetime(2026, 11, 16, 9, tzinfo=UTC)
    tenant_sweep(now=monday_nine_utc)
    tenant_sweep(now=monday_nine_utc + timedelta(minutes=1))
    assert [m.subject for m in mailoutbox] == ["[Handoff] Weekly huddle — Week of 2026-11-09"]
