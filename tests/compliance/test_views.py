"""Pages: overview and drill-down, notifications with the bell, preferences, alert settings."""

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.compliance.models import (
    Alert,
    AlertDelivery,
    AlertSettings,
    Notification,
    NotificationMute,
    WebhookAttempt,
)
from tests.compliance import factories as f

_weeks = itertools.count()


@pytest.fixture
def commitment(acme):
    return f.signed_version(effective_at=timezone.now() - timedelta(days=9)).commitments.get()


def _notification(user, title="SLA breached: first contact for Jane", read=False):
    from apps.sla.models import Commitment

    alert = Alert.objects.create(
        kind="commitment_red",
        commitment=Commitment.objects.order_by("-id").first(),
        period_kind="week",
        period_start=timezone.now().date() - timedelta(weeks=next(_weeks)),
    )
    return Notification.objects.create(
        recipient=user,
        alert=alert,
        kind="commitment_red",
        title=title,
        body="Body",
        url="/compliance/",
        read_at=timezone.now() if read else None,
    )


def test_the_bell_shows_the_unread_count_with_one_query(commitment, client_as):
    client = client_as("rep")
    _notification(client.user)
    _notification(client.user)
    _notification(client.user, read=True)
    from django.test import RequestFactory

    from apps.compliance.context_processors import notifications

    request = RequestFactory().get("/")
    request.user = client.user
    with CaptureQueriesContext(connection) as queries:
        assert notifications(request) == {"notifications_unread": 2}
    # (django-tenants may first set the search_path on a new cursor: not a query of ours)
    ours = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SET ")]
    assert len(ours) == 1 and ours[0].startswith("SELECT COUNT(*)")

    page = client.get("/compliance/notifications/bell/")
    assert page.status_code == 200
    assert "Notifications: 2 unread" in page.content.decode()


def test_notifications_page_and_mark_read_with_htmx(commitment, client_as):
    client = client_as("sales_leader")
    first = _notification(client.user, title="First alert")
    _notification(client.user, title="Second alert")
    other = _notification(f_user := client_as("rep").user, title="Not yours")

    page = client.get("/compliance/notifications/")
    html = page.content.decode()
    assert "First alert" in html and "Second alert" in html and "Not yours" not in html

    response = client.post(f"/compliance/notifications/{first.pk}/read/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Read" in response.content.decode()
    assert "notifications-changed" in response["HX-Trigger"]
    first.refresh_from_db()
    assert first.read_at is not None

    assert client.post(f"/compliance/notifications/{other.pk}/read/").status_code == 404
    client.post("/compliance/notifications/read-all/")
    assert not Notification.objects.filter(recipient=client.user, read_at__isnull=True).exists()
    assert Notification.objects.get(pk=other.pk).read_at is None
    assert f_user.pk != client.user.pk


def test_preferences_mute_kinds_and_channels(client_as):
    client = client_as("rep")
    assert client.get("/compliance/notifications/preferences/").status_code == 200

    # Everything checked except due-soon by email and breaches in the app.
    data = {
        f"send__{kind}__{channel}": "on"
        for kind in ("due_soon", "breach", "commitment_red", "escalation")
        for channel in ("in_app", "email")
        if (kind, channel) not in {("due_soon", "email"), ("breach", "in_app")}
    }
    response = client.post("/compliance/notifications/preferences/", data)

    assert response.status_code == 302
    assert set(
        NotificationMute.objects.filter(user=client.user).values_list("kind", "channel")
    ) == {
        ("due_soon", "email"),
        ("breach", "in_app"),
    }
    page = client.get("/compliance/notifications/preferences/").content.decode()
    assert 'name="send__due_soon__email"' in page


def test_admin_sets_the_webhook_and_due_soon_share(client_as, fake_dns):
    fake_dns["hooks.example.test"] = ["93.184.216.34"]
    client = client_as("admin")
    response = client.post(
        "/compliance/settings/",
        {
            "due_soon_percent": "30",
            "webhook_url": "https://hooks.example.test/x",
            "generate_secret": "on",
            "webhook_enabled": "on",
            "webhook_kinds": ["breach", "escalation"],
        },
    )
    assert response.status_code == 302
    settings = AlertSettings.objects.get(pk=1)
    assert (settings.due_soon_share, settings.webhook_enabled) == (0.3, True)
    assert len(settings.webhook_secret) == 64
    assert settings.webhook_kinds == ["breach", "escalation"]

    # Turning it on without a URL names the field.
    response = client.post("/compliance/settings/", {"webhook_enabled": "on", "webhook_url": ""})
    assert response.status_code == 200
    assert "needs a URL" in response.content.decode()


def test_webhook_log_lists_attempts(commitment, client_as):
    client = client_as("admin")
    alert = _notification(client.user).alert
    delivery = AlertDelivery.objects.create(alert=alert, channel="webhook")
    WebhookAttempt.objects.create(
        delivery=delivery, url="https://x.test", status_code=500, error="HTTP 500"
    )

    html = client.get("/compliance/settings/webhook-log/").content.decode()
    assert "HTTP 500" in html


def test_overview_and_drilldown_pages(client_as):
    now = timezone.now()
    version = f.signed_version(effective_at=now - timedelta(days=30))
    lead = f.lead(first_name="Zed")
    event = f.mql_event(lead=lead, at=now - timedelta(days=1))
    f.clock(event=event, commitment=version.commitments.get(), due_at=now - timedelta(hours=20))
    client = client_as("sales_leader")

    page = client.get("/compliance/", {"period": "month"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "First contact within 4 business hours" in html
    assert "Off target" in html  # 0 of 1

    commitment = version.commitments.get()
    drill = client.get(
        f"/compliance/{commitment.pk}/leads/", {"period": "month", "outcome": "missed"}
    )
    assert drill.status_code == 200
    assert "Zed" in drill.content.decode()


@pytest.mark.parametrize("role", ["rep", "marketer"])
def test_overview_scope_by_role(client_as, role):
    now = timezone.now()
    f.signed_version(
        effective_at=now - timedelta(days=30), commitments=(f.FIRST_CONTACT_4H, f.MQL_VOLUME)
    )
    html = client_as(role).get("/compliance/").content.decode()
    if role == "rep":
        assert "Your own compliance" in html
        assert "MQLs per week" not in html
    else:
        assert "MQLs per week" in html
        assert "First contact within" not in html
