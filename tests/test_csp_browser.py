"""Under the Content-Security-Policy, pages run with no violation in a real Chromium: htmx and
plotly from static files, no inline script, the charts drawn, the API docs page working."""

import re

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password

from apps.accounts.models import User
from apps.accounts.services import user_create
from tests.leads.committed import committed
from tests.support.browser import chromium
from tests.support.processes import live_server

pytestmark = [pytest.mark.browser]
PASSWORD = "csp-browser-2026"
PAGES = [
    "/",
    "/dashboards/",
    "/dashboards/charts/",
    "/leads/",
    "/leads/import/",
    "/sla/calendars/",
    "/queue/feedback/",
    "/accounts/api-keys/",
    "/api/docs/",
]


@pytest.fixture
def executive(acme):
    def make():
        user = user_create(email="csp@acme.test", name="Csp Check", role="admin")
        user.password = make_password(PASSWORD, hasher=PBKDF2PasswordHasher())
        user.save(update_fields=["password"])

    committed(acme.schema_name, make)
    yield "csp@acme.test"
    committed(acme.schema_name, lambda: User.objects.filter(email="csp@acme.test").delete())


def test_pages_run_without_a_policy_violation(executive, tmp_path):
    with live_server(tmp_path) as port, chromium() as browser:
        base = f"http://acme.localhost:{port}"
        page = browser.new_page()
        violations: list[str] = []
        page.on(
            "console",
            lambda msg: (
                violations.append(msg.text)
                if "Content Security Policy" in msg.text or "Refused to" in msg.text
                else None
            ),
        )
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", executive)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"{re.escape(base)}/$"))
        for path in PAGES:
            response = page.goto(base + path)
            assert response.status == 200, (path, response.status)
            policy = response.headers.get("content-security-policy", "")
            assert "script-src 'self'" in policy, (path, response.status, response.url)
            page.wait_for_load_state("networkidle")
            if path == "/dashboards/charts/":
                # Without data a chart is the page's empty state, not a figure; figures drawn
                # by plotly under this policy are checked with data in
                # tests/dashboards/test_browser_charts.py.
                page.wait_for_selector(".figure-ready, .chart-empty", timeout=20000)
            if path == "/api/docs/":
                page.wait_for_selector(".swagger-ui .info", timeout=20000)
        assert violations == []
