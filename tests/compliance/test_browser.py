"""Browser journey: a rep sees the bell, reads a breach alert (htmx), mutes emails, checks compliance."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.utils import timezone

from apps.compliance.models import NotificationMute
from apps.compliance.outbox import in_app_deliver
from apps.compliance.services import tenant_sweep
from tests.compliance.committed import CommittedWorld
from tests.compliance.test_worker import CALENDAR_CLOCK
from tests.support.browser import chromium, screenshot
from tests.support.processes import live_server
from tests.support.tenants import SESSION_PASSWORD

pytestmark = [pytest.mark.browser]


@pytest.fixture
def world(db):
    world = CommittedWorld()
    yield world
    world.cleanup()


def test_rep_reads_alerts_from_the_bell_and_mutes_emails(world, tmp_path):
    now = timezone.now()
    with world.writes():
        rep = world.user("rep", name="Riley Rep", email="riley.browser@acme.test")
        # The live server checks passwords with the default hashers, not the tests' MD5.
        hasher = PBKDF2PasswordHasher()
        rep.password = hasher.encode(SESSION_PASSWORD, hasher.salt())
        rep.save()
        world.user("sales_leader")
        commitment = world.version(commitments=(CALENDAR_CLOCK,)).commitments.get()
        for name in ("Ada", "Bo"):
            world.mql_with_clock(
                commitment=commitment,
                owner=rep,
                mql_at=now - timedelta(hours=2),
                due_at=now - timedelta(minutes=10),
                first_name=name,
                last_name="Lovelace",
            )
        tenant_sweep(worker="browser test", now=now)
        in_app_deliver(now=now)

    with live_server(tmp_path) as port, chromium() as browser:
        base = f"http://acme.localhost:{port}"
        page = browser.new_page()
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", rep.email)
        page.fill("#id_password", SESSION_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"{re.escape(base)}/$"))
        bell = page.locator("#notification-bell")
        assert bell.get_attribute("aria-label") == "Notifications: 2 unread"

        bell.click()
        page.wait_for_url(f"{base}/compliance/notifications/")
        assert "SLA breached: first contact for Ada Lovelace" in page.inner_text("main")
        first_row = page.locator("tr", has_text="Ada Lovelace")
        first_row.get_by_role("button", name="Mark read").click()
        page.locator("tr", has_text="Ada Lovelace").get_by_text("Read", exact=True).wait_for()
        # The bell listens for the change and refreshes itself.
        # (A locator, not wait_for_function: the page's Content-Security-Policy forbids eval.)
        page.locator('#notification-bell[aria-label="Notifications: 1 unread"]').wait_for()
        screenshot(page, "compliance-notifications")

        page.goto(f"{base}/compliance/notifications/preferences/")
        page.uncheck("input[name=send__breach__email]")
        page.click("text=Save preferences")
        assert "preferences are saved" in page.inner_text("main")

        page.goto(f"{base}/compliance/")
        assert "Your own compliance" in page.inner_text("main")
        assert "First contact within the hour" in page.inner_text("table")
        screenshot(page, "compliance-overview")

    with world.writes():
        assert list(NotificationMute.objects.filter(user=rep).values_list("kind", "channel")) == [
            ("breach", "email")
        ]
