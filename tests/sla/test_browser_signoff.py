"""Browser journey: the marketing leader drafts the SLA from the articles' template and submits
it, the sales leader reviews and signs, the marketing leader signs, the SLA shows as active and
prints as one clean page without the navigation.

The live server only sees committed data, so the journey runs in an organization of its own,
created and dropped by a separate process (signed SLA versions cannot be deleted, so sharing
`acme` would leave an active SLA behind for the other tests).
"""

import re
import subprocess

import pytest

from tests.support.browser import chromium, screenshot
from tests.support.processes import ROOT, child_env, live_server, python_argv

pytestmark = [pytest.mark.browser]

SUBDOMAIN = "slajourney"
PASSWORD = "amber-falcon-2026"

SETUP = f"""
from django_tenants.utils import schema_context
from apps.tenants.models import Organization
from apps.tenants.services import organization_create
from apps.accounts.services import user_create
from apps.mql.models import MqlDefinition
from tests.sla.factories import MQL_RULES

old = Organization.objects.filter(subdomain="{SUBDOMAIN}").first()
if old is not None:
    old.delete(force_drop=True)
org = organization_create(name="Journey Co", subdomain="{SUBDOMAIN}", admin_name="Ann Admin",
                          admin_email="admin@journey.test", admin_password="{PASSWORD}")
with schema_context(org.schema_name):
    user_create(email="mona@journey.test", name="Mona Marketing", role="marketing_leader", password="{PASSWORD}")
    user_create(email="sid@journey.test", name="Sid Sales", role="sales_leader", password="{PASSWORD}")
    MqlDefinition.objects.create(version=1, name="Agreed MQL", status="published", rules=MQL_RULES)
"""

TEARDOWN = f"""
from apps.tenants.models import Organization
org = Organization.objects.filter(subdomain="{SUBDOMAIN}").first()
if org is not None:
    org.delete(force_drop=True)
"""


def _manage_shell(code: str) -> None:
    subprocess.run(
        python_argv("manage.py", "shell", "-c", code),
        cwd=ROOT,
        env=child_env(),
        check=True,
        capture_output=True,
        timeout=120,
    )


def _login(browser, base: str, email: str):
    page = browser.new_context().new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/$"))
    return page


def test_two_leaders_sign_the_sla_and_it_prints(db, tmp_path):
    _manage_shell(SETUP)
    try:
        with live_server(tmp_path) as port, chromium() as browser:
            base = f"http://{SUBDOMAIN}.localhost:{port}"
            mona = _login(browser, base, "mona@journey.test")
            mona.goto(f"{base}/sla/")
            assert "No SLA is in force yet" in mona.inner_text("main")
            mona.click("button[data-template=sample_sla]")
            mona.wait_for_url(re.compile(r"/sla/versions/\d+/$"))
            version_url = mona.url
            body = mona.inner_text("main")
            assert "Draft v1 created" in body
            assert "within 4 business hours" in body
            assert "at least 6 contact attempts" in body
            mona.click("text=Submit for signatures")
            assert "Awaiting signatures" in mona.inner_text("main")

            sid = _login(browser, base, "sid@journey.test")
            sid.goto(f"{base}/sla/")
            sid.click("text=Marketing–Sales SLA v1")
            review = sid.inner_text("main")
            assert "Sales acts on leads promptly" in review
            assert "Sign for sales" in review
            sid.fill("input[name=password]", "not-my-password")
            sid.click("button:has-text('Sign for sales')")
            assert "That is not your password." in sid.inner_text("main")
            sid.fill("input[name=password]", PASSWORD)
            sid.click("button:has-text('Sign for sales')")
            assert "Waiting for the other leader" in sid.inner_text("main")

            mona.goto(version_url)
            assert "Sign for marketing" in mona.inner_text("main")
            mona.fill("input[name=password]", PASSWORD)
            mona.click("button:has-text('Sign for marketing')")
            signed = mona.inner_text("main")
            assert "now signed by both leaders" in signed
            assert "● In force" in signed
            assert "Sign for" not in signed

            sid.goto(f"{base}/sla/")
            assert "In force now: v1" in sid.inner_text("main")
            sid.click("text=One-page SLA")
            sid.wait_for_url(f"{base}/sla/document/")
            document = sid.inner_text("article.sla-document")
            assert "Mona Marketing" in document and "Sid Sales" in document
            assert "Company size is at least 50" in document

            sid.emulate_media(media="print")
            assert not sid.locator("header.topbar").is_visible()
            assert not sid.locator("button:has-text('Print')").is_visible()
            assert sid.locator("article.sla-document").is_visible()
            screenshot(sid, "sla-one-page-print")
            sid.pdf(path=str(tmp_path / "sla.pdf"), format="A4")
            assert (tmp_path / "sla.pdf").stat().st_size > 1000
    finally:
        _manage_shell(TEARDOWN)
