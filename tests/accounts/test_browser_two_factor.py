"""Browser journey: an organization requires two-factor for leaders and admins; the admin
enrols at sign-in (QR code rendered by the app itself, recovery codes shown once), then signs
in again with a code from the app; a wrong code is refused. Runs in its own organization."""

import re
import subprocess
import time

import pyotp
import pytest

from tests.support.browser import chromium, screenshot
from tests.support.processes import ROOT, child_env, live_server, python_argv

pytestmark = [pytest.mark.browser]

SUBDOMAIN = "twofaco"
PASSWORD = "amber-falcon-2026"

SETUP = f"""
from apps.tenants.models import Organization
from apps.tenants.services import organization_create
old = Organization.objects.filter(subdomain="{SUBDOMAIN}").first()
if old is not None:
    old.delete(force_drop=True)
org = organization_create(name="TwoFA Co", subdomain="{SUBDOMAIN}", admin_name="Ann Admin",
                          admin_email="admin@twofa.test", admin_password="{PASSWORD}")
Organization.objects.filter(pk=org.pk).update(two_factor_required=True)
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


def _password_step(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "admin@twofa.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/login/code/$"))


def test_required_two_factor_enrol_then_sign_in_with_a_code(db, tmp_path):
    _manage_shell(SETUP)
    try:
        with live_server(tmp_path) as port, chromium() as browser:
            base = f"http://{SUBDOMAIN}.localhost:{port}"
            page = browser.new_context().new_page()
            _password_step(page, base)
            assert "Set up two-factor to sign in" in page.inner_text("main")
            assert page.locator("[data-testid=qr] svg").count() == 1  # drawn by the app, no CDN
            secret = page.inner_text("[data-testid=secret]").strip()
            screenshot(page, "two-factor-enrol")
            page.fill("#id_code", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
            page.click("button[type=submit]")
            assert "does not match" in page.inner_text("main")

            page.fill("#id_code", pyotp.TOTP(secret).now())
            page.click("button[type=submit]")
            codes = page.locator("[data-testid=recovery-codes] li")
            assert codes.count() == 10
            recovery = codes.first.inner_text().strip()
            page.click("text=I have saved them")
            page.wait_for_url(re.compile(rf"{re.escape(base)}/$"))

            page.goto(f"{base}/accounts/profile/")
            assert "✓ On" in page.inner_text("[data-testid=two-factor]")
            page.context.clear_cookies()

            # Next sign-in: the code step (the enrolment code cannot be replayed).
            _password_step(page, base)
            assert "Enter your one-time code" in page.inner_text("main")
            page.fill("#id_code", recovery)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(rf"{re.escape(base)}/$"))
            page.context.clear_cookies()

            _password_step(page, base)
            page.fill("#id_code", recovery)  # a recovery code works once
            page.click("button[type=submit]")
            assert "does not match" in page.inner_text("main")
            time.sleep(0.1)
            later = pyotp.TOTP(secret).at(time.time() + 30)
            page.fill("#id_code", later)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(rf"{re.escape(base)}/$"))
            page.goto(f"{base}/accounts/users/")
            assert "Require two-factor" in page.inner_text("[data-testid=two-factor-policy]")
    finally:
        _manage_shell(TEARDOWN)
