"""The minute sweep in-process: breaches, due-soon warnings, deliveries, idempotence, mutes."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from apps.compliance import outbox, services
from apps.compliance.models import (
    Alert,
    AlertDelivery,
    AlertSettings,
    Notification,
    NotificationMute,
    SweepRun,
)
from apps.sla.models import SlaClock
from tests.compliance import factories as f

# Monday 2 March 2026, 09:00 UTC (no DST anywhere near); the calendar is 9-to-5 UTC.
MONDAY = datetime(2026, 3, 2, 9, tzinfo=UTC)
CALENDAR_2H = {
    "owner_team": "sales",
    "metric": "first_contact_time",
    "params": {"hours": 2, "clock": "calendar"},
    "target": 0.8,
    "yellow_threshold": 0.6,
    "label": "First contact within 2 hours",
}
DISPOSITION_48H = {
    "owner_team": "sales",
    "metric": "disposition_time",
    "params": {"hours": 48, "clock": "calendar"},
    "target": 0.9,
    "yellow_threshold": 0.8,
}


@pytest.fixture
def people(make_user):
    return {
        "rep": make_user("rep", name="Riley Rep"),
        "leader": make_user("sales_leader", name="Sam Leader"),
        "exec": make_user("executive"),
        "marketing": make_user("marketing_leader"),
    }


@pytest.fixture
def version(acme):
    return f.signed_version(
        effective_at=MONDAY - timedelta(days=60),
        commitments=(f.FIRST_CONTACT_4H, CALENDAR_2H, DISPOSITION_48H),
    )


def _clock(version, people, *, mql_at, metric="first_contact_time", label=None, **lead):
    commitment = version.commitments.get(
        metric=metric, **({"label": label} if label is not None else {})
    )
    lead_row = f.lead(owner=people["rep"], **lead)
    event = f.mql_event(lead=lead_row, at=mql_at)
    return f.clock(event=event, commitment=commitment)


def _four_hour(version, people, **kw):
    return _clock(version, people, label=f.FIRST_CONTACT_4H["label"], **kw)


def test_a_clock_past_due_is_breached_and_alerted_to_the_owner_and_sales_leaders(version, people):
    clock = _four_hour(version, people, mql_at=MONDAY)  # due 13:00
    now = MONDAY + timedelta(hours=4, minutes=1)

    report = services.clocks_breach(now=now)

    clock.refresh_from_db()
    assert (clock.state, clock.breached_at) == ("breached", clock.due_at)
    assert report == {"breached": 1, "alerts": 1, "deliveries": 4}
    alert = Alert.objects.get(clock=clock)
    assert alert.kind == "breach"
    assert alert.payload["owner_name"] == "Riley Rep"
    assert set(alert.deliveries.values_list("recipient_id", "channel")) == {
        (people["rep"].pk, "in_app"),
        (people["rep"].pk, "email"),
        (people["leader"].pk, "in_app"),
        (people["leader"].pk, "email"),
    }


def test_a_clock_due_exactly_now_is_still_pending(version, people):
    clock = _four_hour(version, people, mql_at=MONDAY)

    services.clocks_breach(now=clock.due_at)

    clock.refresh_from_db()
    assert clock.state == "pending"


def test_a_touch_in_time_means_no_breach_but_a_late_touch_still_breaches(version, people):
    on_time = _four_hour(version, people, mql_at=MONDAY)
    f.touch(lead=on_time.lead, at=on_time.due_at)  # exactly at the due time is on time
    late = _four_hour(version, people, mql_at=MONDAY)
    f.touch(lead=late.lead, at=late.due_at + timedelta(seconds=1))
    early = _four_hour(version, people, mql_at=MONDAY)
    f.touch(lead=early.lead, at=MONDAY - timedelta(hours=1))  # before mql_at: not a contact

    services.clocks_breach(now=MONDAY + timedelta(hours=6))

    states = dict(
        SlaClock.objects.filter(pk__in=[on_time.pk, late.pk, early.pk]).values_list("pk", "state")
    )
    assert states == {on_time.pk: "pending", late.pk: "breached", early.pk: "breached"}
    assert set(Alert.objects.values_list("clock_id", flat=True)) == {late.pk, early.pk}


def test_disposition_clocks_breach_likewise(version, people):
    clock = _clock(version, people, mql_at=MONDAY, metric="disposition_time")
    f.disposition(lead=clock.lead, at=MONDAY + timedelta(hours=1), outcome="working")

    services.clocks_breach(now=clock.due_at + timedelta(minutes=1))

    assert Alert.objects.get(clock=clock).payload["clock_kind"] == "disposition"


def test_history_found_breached_late_is_marked_but_not_alerted(version, people):
    old = _four_hour(version, people, mql_at=MONDAY - timedelta(days=7))

    report = services.clocks_breach(now=MONDAY)

    old.refresh_from_db()
    assert old.state == "breached"
    assert report["alerts"] == 0


def test_running_the_sweep_twice_changes_nothing_the_second_time(version, people):
    _four_hour(version, people, mql_at=MONDAY)
    now = MONDAY + timedelta(hours=5)

    first = services.tenant_sweep(now=now)
    alerts = set(Alert.objects.values_list("id", "kind"))
    second = services.tenant_sweep(now=now)
    outbox.deliveries_deliver(now=now)
    outbox.deliveries_deliver(now=now)

    assert first.stats["breaches"]["alerts"] == 1
    assert "errors" not in first.stats
    assert second.stats["breaches"] == {"breached": 0, "alerts": 0, "deliveries": 0}
    # The first sweep also found the commitment red (0 of 1 on time) and told the leader.
    assert sorted(kind for _, kind in alerts) == ["breach", "commitment_red"]
    assert set(Alert.objects.values_list("id", "kind")) == alerts
    assert not AlertDelivery.objects.exclude(status="delivered").exists()
    in_app = AlertDelivery.objects.filter(channel="in_app")
    assert Notification.objects.count() == in_app.count() == 3
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [people["rep"].email, people["leader"].email]
    )  # the leader's two alerts in one digest
    assert (
        SweepRun.objects.filter(pk__in=[first.pk, second.pk], finished_at__isnull=False).count()
        == 2
    )


# --- due soon -------------------------------------------------------------------------------


def test_due_soon_in_business_time_on_a_business_clock(version, people):
    clock = _four_hour(version, people, mql_at=MONDAY)  # 09:00 -> 13:00, warn with 1 h left

    assert services.due_soon_warn(now=MONDAY + timedelta(hours=2, minutes=59))["alerts"] == 0
    report = services.due_soon_warn(now=MONDAY + timedelta(hours=3))

    assert report["alerts"] == 1
    alert = Alert.objects.get(clock=clock, kind="due_soon")
    assert set(alert.deliveries.values_list("recipient_id", flat=True)) == {people["rep"].pk}


def test_due_soon_over_a_weekend_waits_for_the_business_hours_left(version, people):
    friday_4pm = MONDAY + timedelta(days=4, hours=7)
    clock = _four_hour(version, people, mql_at=friday_4pm)  # 1 h Friday + 3 h Monday: 12:00
    assert clock.due_at == MONDAY + timedelta(days=7, hours=3)

    sunday_evening = MONDAY + timedelta(days=6, hours=11)
    assert services.due_soon_warn(now=sunday_evening)["alerts"] == 0
    assert services.due_soon_warn(now=clock.due_at - timedelta(hours=1))["alerts"] == 1


def test_due_soon_on_a_calendar_clock_and_the_organization_share(version, people):
    clock = _clock(version, people, mql_at=MONDAY, label=CALENDAR_2H["label"])  # due 11:00
    AlertSettings.objects.update_or_create(pk=1, defaults={"due_soon_share": 0.5})

    assert services.due_soon_warn(now=MONDAY + timedelta(minutes=59))["alerts"] == 0
    assert services.due_soon_warn(now=MONDAY + timedelta(minutes=60))["alerts"] == 1
    assert services.due_soon_warn(now=MONDAY + timedelta(minutes=90))["alerts"] == 0  # once
    assert Alert.objects.filter(clock=clock, kind="due_soon").count() == 1


def test_no_warning_once_the_lead_was_contacted_or_for_leads_without_owner(version, people):
    contacted = _four_hour(version, people, mql_at=MONDAY)
    f.touch(lead=contacted.lead, at=MONDAY + timedelta(hours=1))
    orphan = _four_hour(version, people, mql_at=MONDAY)
    orphan.lead.owner = None
    orphan.lead.save()

    assert services.due_soon_warn(now=MONDAY + timedelta(hours=3, minutes=30))["alerts"] == 0


# --- channels and mutes ------------------------------------------------------------------------


def test_muted_kinds_and_channels_get_no_delivery(version, people):
    NotificationMute.objects.create(user=people["rep"], kind="breach", channel="email")
    NotificationMute.objects.create(user=people["leader"], kind="breach", channel="in_app")
    _four_hour(version, people, mql_at=MONDAY)

    services.clocks_breach(now=MONDAY + timedelta(hours=5))

    assert set(AlertDelivery.objects.values_list("recipient_id", "channel")) == {
        (people["rep"].pk, "in_app"),
        (people["leader"].pk, "email"),
    }


def test_the_webhook_gets_one_delivery_per_alert_of_the_kinds_it_takes(version, people):
    AlertSettings.objects.update_or_create(
        pk=1,
        defaults={
            "webhook_url": "https://hooks.example.test/handoff",
            "webhook_secret": "s3cret",
            "webhook_enabled": True,
            "webhook_kinds": ["breach"],
        },
    )
    _four_hour(version, people, mql_at=MONDAY)
    _clock(version, people, mql_at=MONDAY + timedelta(hours=3), label=CALENDAR_2H["label"])

    services.clocks_breach(now=MONDAY + timedelta(hours=4, minutes=1))
    services.due_soon_warn(now=MONDAY + timedelta(hours=4, minutes=40))

    webhook = AlertDelivery.objects.filter(channel="webhook")
    assert list(webhook.values_list("alert__kind", "recipient_id")) == [("breach", None)]


def test_email_digest_groups_alerts_and_sends_at_most_one_a_minute(version, people, settings):
    settings.COMPLIANCE_EMAIL_DIGEST_SECONDS = 60
    for _ in range(3):
        _four_hour(version, people, mql_at=MONDAY)
    now = MONDAY + timedelta(hours=5)
    services.clocks_breach(now=now)

    outbox.email_deliver(now=now)
    assert len(mail.outbox) == 2  # rep and leader, three alerts each
    assert all("3 alerts" in m.subject for m in mail.outbox)
    assert all(m.body.count("SLA breached") == 3 for m in mail.outbox)

    _four_hour(version, people, mql_at=MONDAY + timedelta(hours=1))
    later = now + timedelta(seconds=30)
    services.clocks_breach(now=later)
    outbox.email_deliver(now=later)
    assert len(mail.outbox) == 2  # rate-limited: waits for the minute
    outbox.email_deliver(now=now + timedelta(seconds=60))
    assert len(mail.outbox) == 4
    assert len({m.extra_headers["Message-ID"] for m in mail.outbox}) == 4
