"""Browser journey for issue #14 item 1: a pending version that another signature made
outdated is refused with a clear message, the page shows what signing it would change
against the version in force, and the overview names the version in force and the one
scheduled. Runs in an organization of its own (signed versions cannot be deleted)."""

import re
import subprocess

import pytest

from tests.support.browser import chromium, screenshot
from tests.support.processes import ROOT, child_env, live_server, python_argv

pytestmark = [pytest.mark.browser]

SUBDOMAIN = "staleco"
PASSWORD = "amber-falcon-2026"

SETUP = f"""
from datetime import timedelta
from django.utils import timezone
from django_tenants.utils import schema_context
from apps.tenants.models import Organization
from apps.tenants.services import organization_create
from apps.accounts.services import user_create
from apps.mql.models import MqlDefinition
from apps.sla import services
from tests.sla.factories import MQL_RULES

old = Organization.objects.filter(subdomain="{SUBDOMAIN}").first()
if old is not None:
    old.delete(force_drop=True)
org = organization_create(name="Stale Co", subdomain="{SUBDOMAIN}", admin_name="Ann Admin",
                          admin_email="admin@stale.test", admin_password="{PASSWORD}")
with schema_context(org.schema_name):
    mona = user_create(email="mona@stale.test", name="Mona Marketing", role="marketing_leader", password="{PASSWORD}")
    sid = user_create(email="sid@stale.test", name="Sid Sales", role="sales_leader", password="{PASSWORD}")
    MqlDefinition.objects.create(version=1, name="Agreed MQL", status="published", rules=MQL_RULES)
    def sign(version, *leaders):
        for leader in leaders:
            services.version_sign(version=version, actor=leader, password="{PASSWORD}",
                                  content_hash=version.content_hash)
    v1 = services.version_create(actor=mona, template_key="sample_sla",
                                 effective_at=timezone.now() - timedelta(days=60))
    services.version_submit(version=v1, actor=mona)
    sign(v1, mona, sid)
    v2 = services.version_create(actor=mona, from_version=v1)
    services.version_update(version=v2, actor=mona,
                            effective_at=(timezone.now() + timedelta(days=7)).replace(microsecond=0))
    services.version_submit(version=v2, actor=mona)
    sign(v2, mona)
"""

SIGN_V3 = f"""
from django_tenants.utils import schema_context
from apps.accounts.models import User
from apps.sla import services
from apps.sla.models import SlaVersion
with schema_context("{SUBDOMAIN}"):
    mona, sid = User.objects.get(email="mona@stale.test"), User.objects.get(email="sid@stale.test")
    v1 = SlaVersion.objects.get(number=1)
    v3 = services.version_create(actor=sid, from_version=v1)
    volume = v3.commitments.get(metric="mql_volume")
    services.commitment_update(commitment=volume, actor=sid, target=180)
    services.version_submit(version=v3, actor=sid)
    for leader in (mona, sid):
        services.version_sign(version=v3, actor=leader, password="{PASSWORD}",
                              content_hash=v3.content_hash)
"""

TEARDOWN = f"""
from apps.tenants.models import Organization
org = Organization.objects.filter(subdomain="{SUBDOMAIN}").first()
if org is not None:
    org.delete(force_drop=True)
"""


def _manage_shell(code: str) -> None:
    done = subprocess.run(
        python_argv("manage.py", "shell", "-c", code),
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _login(browser, base: str, email: str):
    page = browser.new_context().new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/$"))
    return page


def test_an_outdated_version_is_refused_and_the_overview_tells_the_truth(db, tmp_path):
    _manage_shell(SETUP)
    try:
        with live_server(tmp_path) as port, chromium() as browser:
            base = f"http://{SUBDOMAIN}.localhost:{port}"
            sid = _login(browser, base, "sid@stale.test")
            sid.goto(f"{base}/sla/versions/2/")
            review = sid.inner_text("main")
            assert "Sign for sales" in review
            # Before signing, the page shows what v2 changes against the version in force.
            diff = sid.inner_text("[data-testid=diff-in-force]")
            assert "against v1 (in force now)" in diff
            assert "Effective from" in diff

            # Meanwhile both leaders sign v3, also drafted from v1.
            _manage_shell(SIGN_V3)

            sid.fill("input[name=password]", PASSWORD)
            sid.click("button:has-text('Sign for sales')")
            refused = sid.inner_text("main")
            assert "Version 2 is outdated and cannot be signed" in refused
            assert "v3 was signed by both leaders after that" in refused
            assert "This version is outdated and can no longer be signed" in refused
            assert "Sign for sales" not in refused
            diff = sid.inner_text("[data-testid=diff-in-force]")
            assert "against v3 (in force now)" in diff
            assert "at least 180 MQLs" in diff
            screenshot(sid, "sla-outdated-version")

            sid.goto(f"{base}/sla/")
            overview = sid.inner_text("main")
            assert "In force now: v3" in overview
            assert "Outdated by v3" in overview
            assert "↷ Superseded" in overview  # v1, ended when v3 took over

            sid.goto(f"{base}/sla/versions/2/")
            sid.click("button:has-text('Draft an amendment of v3')")
            sid.wait_for_url(re.compile(r"/sla/versions/4/$"))
            assert "Draft v4 created" in sid.inner_text("main")
    finally:
        _manage_shell(TEARDOWN)
