"""Landing pages: each role lands on its numbers; a new organization on its checklist."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.compliance.models import Alert
from apps.dashboards import landing
from apps.dispositions.selectors import queue_summary
from apps.sla import services as sla_services
from apps.sla.models import SlaClock
from apps.sla.selectors import version_outdated_by
from tests.dispositions import factories as df
from tests.sla import factories as sf

pytestmark = pytest.mark.django_db


def _steps(done: bool | None = None) -> dict[str, bool]:
    return {step.key: step.done for step in landing.getting_started()}


def test_a_new_organization_starts_with_nothing_ticked(acme):
    assert _steps() == {
        "calendar": False,
        "mql": False,
        "sla": False,
        "leads": False,
        "alert": False,
    }


def test_each_step_ticks_from_what_is_stored(acme, make_user):
    from apps.sla import services as sla

    admin = make_user("admin")
    sla.calendar_create(actor=admin, name="London office", timezone_name="Europe/London")
    sf.definition(status="published", version=1)
    df.mql_lead(owner=None, mql_at=timezone.now() - timedelta(hours=1))
    assert _steps() == {
        "calendar": True,
        "mql": True,
        "sla": False,
        "leads": True,
        "alert": False,
    }
    df.sla_version(effective_at=timezone.now() - timedelta(days=1))
    assert _steps()["sla"] is True


def test_the_admin_sees_the_checklist_until_it_is_done(client_as):
    html = client_as("admin").get(reverse("home")).content.decode()
    assert "Getting started · 0 of 5 done" in html
    assert "Publish the MQL definition" in html and "Sign the SLA, both leaders" in html
    # No link tiles: the page is numbers and steps.
    assert "people" in html and "in the last 7 days" in html


def test_a_rep_lands_on_open_due_today_and_overdue(acme, make_user):
    rep = make_user("rep")
    version = df.sla_version(effective_at=datetime(2026, 1, 1, tzinfo=UTC), calendar=None)
    noon = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday, passed in as "now"
    leads = [
        df.mql_lead(owner=rep, mql_at=noon - timedelta(hours=2), version=version) for _ in range(4)
    ]
    due = [
        noon - timedelta(hours=1),  # overdue
        noon + timedelta(hours=3),  # due later today
        noon + timedelta(days=2),  # due on Friday
        noon + timedelta(hours=2),  # due today but already met
    ]
    for lead, at in zip(leads, due, strict=True):
        SlaClock.objects.filter(lead=lead).update(due_at=at)
    SlaClock.objects.filter(lead=leads[3]).update(met_at=noon - timedelta(minutes=5))
    df.mql_lead(owner=make_user("rep"), mql_at=noon, version=version)  # someone else's
    summary = queue_summary(owner=rep, now=noon, zone="UTC")
    assert (summary.open, summary.due_today, summary.overdue) == (4, 1, 1)


def test_the_rep_page_shows_the_numbers_and_the_next_leads(client_as):
    client = client_as("rep")
    version = df.sla_version(effective_at=timezone.now() - timedelta(days=30))
    df.mql_lead(
        owner=client.user,
        mql_at=timezone.now() - timedelta(minutes=30),
        version=version,
        last_name="Nextup",
    )
    html = client.get(reverse("home")).content.decode()
    assert 'data-count="open"><strong>1</strong> open' in html
    assert "Lee Nextup" in html and "Open my queue" in html
    assert "Getting started" not in html  # reps do not set the organization up


def test_a_leader_lands_on_what_waits_for_their_signature(client_as):
    sales = client_as("sales_leader")
    marketing = client_as("marketing_leader")
    from apps.sla import services as sla

    sf.definition(status="published", version=1)
    waiting = sla.version_create(actor=marketing.user, template_key="sample_sla")
    sla.version_submit(version=waiting, actor=marketing.user)
    for client in (sales, marketing):
        html = client.get(reverse("home")).content.decode()
        assert "Waiting for your signature" in html
        assert f"v{waiting.number}" in html


def test_an_outdated_version_is_not_offered_for_signing(client_as):
    # Submitted, then another version was signed after it was started: signing it would
    # silently replace what the leaders agreed since, so the landing page does not offer it.
    sales = client_as("sales_leader")
    marketing = client_as("marketing_leader")
    sf.definition(status="published", version=1)
    waiting = sla_services.version_create(actor=marketing.user, template_key="sample_sla")
    sla_services.version_submit(version=waiting, actor=marketing.user)
    assert landing.awaiting_signature(role="sales_leader") == [waiting]
    newer = df.sla_version(effective_at=timezone.now() + timedelta(days=1))
    assert version_outdated_by(waiting) == newer
    assert landing.awaiting_signature(role="sales_leader") == []
    assert "Waiting for your signature" not in sales.get(reverse("home")).content.decode()


def test_the_executive_lands_on_the_scorecard(client_as):
    df.sla_version(effective_at=timezone.now() - timedelta(days=30))
    html = client_as("executive").get(reverse("home")).content.decode()
    assert "The scorecard" in html and 'class="tile tile-' in html
    assert Alert.objects.count() == 0
