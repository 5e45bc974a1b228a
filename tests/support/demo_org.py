"""A copy of the demo organization for browser tests: every role, a signed SLA and an
amendment waiting for a signature, definitions, routing rules, reason codes, weeks of leads,
touches, dispositions, alerts — made by the demo seed itself (`apps/*/demo.py`), on a
smaller set of leads so it takes seconds, not minutes.

The live server only sees committed rows, so the organization is made and dropped by a
separate process: ``python -m tests.support.demo_org create|drop SUBDOMAIN``. The pytest
fixture ``demo_org`` (session-wide) does both.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from tests.support.processes import ROOT, child_env, live_server, python_argv

PASSWORD = (
    "handoff-demo-2026"  # the demo seed's own (apps/tenants/management/commands/seed_demo.py)
)
SUBDOMAIN = "demobrowser"
# Enough leads for every rep to have a queue and every tile a number.
LEADS = 260
# The demo people a browser test signs in as (one of every role).
ROLES = ["admin", "cro", "marketing", "marketer", "sales", "rep1"]


@dataclass(frozen=True)
class DemoOrg:
    subdomain: str
    password: str = PASSWORD

    def email(self, who: str) -> str:
        """ "rep1" -> "rep1@acme.test" (the demo's logins)."""
        return f"{who}@acme.test"


def create(subdomain: str) -> None:
    import random

    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.accounts.services import user_create
    from apps.leads import demo as leads_demo
    from apps.tenants.management.commands.seed_demo import DEMO_USERS, demo_seeders
    from apps.tenants.services import organization_create

    email, name, _ = DEMO_USERS[0]
    organization = organization_create(
        name="Acme Analytics",
        subdomain=subdomain,
        admin_name=name,
        admin_email=email,
        admin_password=PASSWORD,
    )
    leads_demo.LEADS = LEADS
    with schema_context(organization.schema_name):
        for email, name, role in DEMO_USERS[1:]:
            user_create(email=email, name=name, role=role, password=PASSWORD)
        rng = random.Random(7)
        now = timezone.now()
        for _app, seed in demo_seeders():
            seed(now=now, rng=rng)
        _ring_rep1(now)


def _ring_rep1(now) -> None:
    """The seed's sweep rings rep1's bell only when one of their clocks is due soon or
    breached at the hour the copy is made; browser tests need an unread notification
    whatever the hour, so their nearest open clock is warned about early if none rang."""
    from apps.accounts.models import User
    from apps.compliance.models import Alert, AlertDelivery, AlertKind, Channel
    from apps.compliance.outbox import in_app_deliver
    from apps.compliance.selectors import organization_timezone
    from apps.sla.models import SlaClock

    rep = User.objects.get(email="rep1@acme.test")
    if rep.notifications.filter(read_at__isnull=True).exists():
        return
    clock = (
        SlaClock.objects.pending()
        .filter(lead__owner=rep)
        .exclude(alerts__kind=AlertKind.DUE_SOON)
        .select_related("lead", "commitment")
        .order_by("due_at")
        .first()
    )
    lead = clock.lead
    alert = Alert.objects.create(
        kind=AlertKind.DUE_SOON,
        clock=clock,
        lead=lead,
        commitment=clock.commitment,
        payload={
            # What the sweep's own payload holds (apps/compliance/services.py).
            "clock_kind": clock.kind,
            "started_at": clock.started_at.isoformat(),
            "due_at": clock.due_at.isoformat(),
            "lead_id": lead.pk,
            "lead_name": f"{lead.first_name} {lead.last_name}".strip(),
            "lead_email": lead.email,
            "company": lead.company,
            "owner_id": rep.pk,
            "owner_name": rep.name or rep.email,
            "commitment_id": clock.commitment_id,
            "commitment": clock.commitment.label or clock.commitment.metric,
            "metric": clock.commitment.metric,
            "tz": organization_timezone(now=now),
        },
        created_at=now,
    )
    AlertDelivery.objects.create(
        alert=alert, channel=Channel.IN_APP, recipient=rep, next_attempt_at=now, created_at=now
    )
    in_app_deliver(now=now)


def drop(subdomain: str) -> None:
    from apps.tenants.models import Organization

    organization = Organization.objects.filter(subdomain=subdomain).first()
    if organization is not None:
        organization.delete(force_drop=True)


def _run(action: str, subdomain: str) -> None:
    done = subprocess.run(
        python_argv("-m", "tests.support.demo_org", action, subdomain),
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]


@pytest.fixture(scope="session")
def demo_org(django_db_setup, django_db_blocker):
    """The demo organization on the test database, committed, for the whole session."""
    with django_db_blocker.unblock():  # child_env() reads the test database's settings
        _run("drop", SUBDOMAIN)  # left over by an interrupted run
        _run("create", SUBDOMAIN)
    yield DemoOrg(SUBDOMAIN)
    with django_db_blocker.unblock():
        _run("drop", SUBDOMAIN)


@pytest.fixture(scope="module")
def demo_site(demo_org, tmp_path_factory):
    """A live server (one per test module) and the demo organization's address on it."""
    with live_server(tmp_path_factory.mktemp("server")) as port:
        yield f"http://{demo_org.subdomain}.localhost:{port}"


def demo_schema(subdomain: str) -> str:
    """The organization's schema (read from the public schema)."""
    from django.db import connection

    from apps.tenants.models import Organization

    connection.set_schema_to_public()
    return Organization.objects.get(subdomain=subdomain).schema_name


def main_pages(subdomain: str) -> dict[str, list[str]]:
    """Per demo person, the pages behind the navigation (a lead, a version, a definition …)
    with the demo's ids; the navigation's own links are read from the page."""
    from django_tenants.utils import schema_context

    from apps.leads.models import Lead, RoutingRule
    from apps.mql.models import MqlDefinition
    from apps.sla.models import BusinessCalendar, SlaVersion

    with schema_context(demo_schema(subdomain)):
        lead = Lead.objects.filter(owner__email="rep1@acme.test", mql_at__isnull=False).first()
        version = SlaVersion.objects.order_by("-number").first()
        definition = MqlDefinition.objects.order_by("-version").first()
        draft = MqlDefinition.objects.filter(status="draft").order_by("-version").first()
        calendar = BusinessCalendar.objects.order_by("id").first()
        rule = RoutingRule.objects.order_by("id").first()
        everyone = [
            f"/leads/{lead.pk}/",
            f"/sla/versions/{version.pk}/",
            "/sla/document/",
            "/sla/history/",
            f"/mql/{definition.pk}/",
            f"/sla/versions/{version.pk}/document/",
            "/icp/insights/",
            "/accounts/profile/",
            "/compliance/notifications/",
            "/dashboards/?period=this_month",
        ]
        readers = [
            "/queue/feedback/",
            "/queue/feedback/?period=month",
            "/queue/feedback/?period=quarter",
            "/dashboards/reports/huddle/",
            "/dashboards/reports/monthly/",
            "/dashboards/reports/qbr/",
        ]
        return {
            "admin": [*everyone, f"/sla/calendars/{calendar.pk}/", f"/leads/routing/{rule.pk}/"],
            "cro": [*everyone, *readers],
            "marketing": [*everyone, *readers, f"/mql/{draft.pk}/edit/", "/icp/revisions/new/"],
            "marketer": [*everyone, "/queue/feedback/"],
            "sales": [*everyone, *readers, "/queue/team/"],
            "rep1": [*everyone],
        }


def sign_in(browser, base: str, who: str, **context):
    """A new browser context signed in as a demo person ("rep1", "sales", "cro"…): its page."""
    page = browser.new_context(**context).new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", f"{who}@acme.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def main() -> None:
    import django

    django.setup()
    action, subdomain = sys.argv[1], sys.argv[2]
    {"create": create, "drop": drop}[action](subdomain)


if __name__ == "__main__":
    main()
