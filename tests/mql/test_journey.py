"""End to end, in real processes: a marketing leader builds a definition in the rule builder,
back-tests it and publishes it; a lead then arriving through the API becomes an MQL. A real
Celery worker replays a back-test too large for the request.

Both run in a dedicated organization created and dropped through `manage.py shell` (a
committed path), so the published definition never leaks into the shared test tenants.
"""

import json
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from django_tenants.utils import schema_context

from tests.support.browser import chromium, screenshot
from tests.support.processes import (
    ROOT,
    celery_worker,
    child_env,
    live_server,
    python_argv,
    wait_until,
)

SUBDOMAIN = "mqljourney"
PASSWORD = "amber-harbour-72"

SETUP = f"""
import json
from datetime import timedelta
from django.utils import timezone
from django_tenants.utils import schema_context
from apps.tenants.models import Organization
from apps.tenants.services import organization_create
from apps.accounts.services import api_key_create, user_create
from apps.leads.models import Activity, Lead

old = Organization.objects.filter(subdomain="{SUBDOMAIN}").first()
if old:
    old.delete(force_drop=True)
org = organization_create(name="MQL Journey", subdomain="{SUBDOMAIN}", admin_name="Ada",
                          admin_email="ada@journey.test", admin_password="{PASSWORD}")
now = timezone.now()
with schema_context(org.schema_name):
    user_create(email="maya@journey.test", name="Maya Patel", role="marketing_leader",
                password="{PASSWORD}")
    _, token = api_key_create(name="CRM", created_by=None)
    # History for the back-test: two fitting leads visited pricing in the last 30 days,
    # a small company did too, and one lead only read the blog.
    for n, (size, url, days) in enumerate(
        [(400, "/pricing", 3), (900, "/pricing/enterprise", 12), (10, "/pricing", 5), (600, "/blog", 2)]
    ):
        lead = Lead.objects.create(external_id=f"hist-{{n}}", email=f"h{{n}}@corp.test",
                                   company_size=size, stage="lead")
        Activity.objects.create(lead=lead, kind="page_view", family="engagement",
                                external_id=f"hist-act-{{n}}", occurred_at=now - timedelta(days=days),
                                properties={{"url": url}})
print(json.dumps({{"token": token, "schema": org.schema_name}}))
"""

TEARDOWN = f"""
from apps.tenants.models import Organization
for org in Organization.objects.filter(subdomain="{SUBDOMAIN}"):
    org.delete(force_drop=True)
"""


def manage_shell(code: str) -> str:
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
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@pytest.fixture(scope="module")
def journey_org(django_db_setup, django_db_blocker):
    setup = json.loads(manage_shell(SETUP))
    yield setup
    manage_shell(TEARDOWN)


def api_post(port: int, path: str, token: str, payload) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={
            "Host": f"{SUBDOMAIN}.localhost:{port}",
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local test server
        return json.loads(response.read())


@pytest.mark.browser
def test_build_backtest_publish_then_an_api_lead_becomes_an_mql(db, tmp_path, journey_org):
    from apps.leads.models import Lead

    with live_server(tmp_path) as port, chromium() as browser:
        base = f"http://{SUBDOMAIN}.localhost:{port}"
        page = browser.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "maya@journey.test")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")

        page.goto(f"{base}/mql/")
        page.click("text=New MQL draft")
        page.wait_for_url(f"{base}/mql/*/edit/")
        assert "fit alone floods sales" in page.inner_text("#builder")
        page.evaluate("window.stillTheSamePage = true")

        # Fit: company size at least 100.
        page.click('[data-add="fit"]')
        page.fill('[name="fit.conditions[0].value"]', "100")
        # Behaviour: a pricing-page visit in the last 7 days (the defaults: page_view, url, contains, 7).
        page.click('[data-add="behaviour"]')
        page.fill('[name="behaviour.conditions[0].value"]', "/pricing")
        page.fill('[name="behaviour.conditions[0].label"]', "Visited pricing")
        # Score: 50 points per pricing visit, halving every 14 days; threshold 40.
        page.click("#rb-add-rule")
        page.fill('[name="scoring.rules[0].signal.value"]', "/pricing")
        page.fill('[name="scoring.rules[0].points"]', "50")
        page.fill("#rb-threshold", "forty")
        page.click("#rb-save")
        page.wait_for_selector("text=Not saved")
        assert "must be a number" in page.inner_text("section[aria-labelledby=rb-score]")
        page.fill("#rb-threshold", "40")
        page.click("#rb-save")
        page.wait_for_selector("#rb-saved")
        assert "fit alone floods sales" not in page.inner_text("#builder")
        assert page.evaluate("window.stillTheSamePage") is True  # no page reloads
        screenshot(page, "mql-rule-builder")

        page.click("text=Back-test or publish it")
        page.fill("#id_days", "30")
        page.click("#run-backtest")
        page.wait_for_url(f"{base}/mql/backtests/*/")
        # Two fitting leads visited pricing in the window; the 10-person company does not fit.
        assert page.inner_text('[data-metric="draft-mqls"]') == "2"
        screenshot(page, "mql-backtest")

        page.click("text=← MQL v1")
        page.click("#publish")
        page.wait_for_selector("text=is published")

        occurred = datetime.now(UTC) - timedelta(hours=2)
        token = journey_org["token"]
        leads = api_post(
            port,
            "/api/v1/leads/upsert/",
            token,
            [{"external_id": "crm-42", "email": "dana@bigco.test", "company_size": 750}],
        )
        assert leads["rejected"] == 0, leads
        activities = api_post(
            port,
            "/api/v1/activities/ingest/",
            token,
            [
                {
                    "external_id": "web-42-1",
                    "lead": "crm-42",
                    "kind": "page_view",
                    "occurred_at": occurred.isoformat(),
                    "properties": {"url": "https://bigco.test/pricing"},
                }
            ],
        )
        assert activities["rejected"] == 0, activities

        with schema_context(journey_org["schema"]):
            lead = wait_until(
                lambda: Lead.objects.filter(external_id="crm-42", stage="mql").first(),
                timeout=20,
                message="the API lead to become an MQL",
            )
            assert lead.mql_at == occurred.replace(microsecond=lead.mql_at.microsecond)
            assert abs((lead.mql_at - occurred).total_seconds()) < 0.001

        page.goto(f"{base}/leads/{lead.pk}/")
        panel = page.inner_text("main")
        assert "Why is this an MQL?" in panel and "Visited pricing" in panel
        screenshot(page, "mql-why-panel")


WORKER_RUN = f"""
import json
from django.utils import timezone
from django_tenants.utils import schema_context
from apps.accounts.models import User
from apps.mql.models import BacktestRun
from apps.mql.selectors import backtest_lead_scope
from apps.mql.services import definition_draft_create

with schema_context("{SUBDOMAIN}"):
    maya = User.objects.get(email="maya@journey.test")
    draft = definition_draft_create(kind="mql", name="Worker draft", actor=maya, rules={{
        "behaviour": {{"conditions": [{{"kind": "page_view", "property": "url",
                                        "match": "contains", "value": "/pricing"}}]}}}})
    run = BacktestRun.objects.create(definition=draft, days=30, window_end=timezone.now())
    run.total = backtest_lead_scope(run=run).count()
    run.save()
    print(json.dumps({{"run": run.pk}}))
"""


@pytest.mark.worker
def test_a_worker_replays_a_large_backtest_with_progress(db, tmp_path, journey_org):
    from apps.leads.models import Lead
    from apps.mql.models import BacktestRun
    from apps.mql.tasks import backtest_run_task

    run_id = json.loads(manage_shell(WORKER_RUN))["run"]
    with (
        celery_worker(tmp_path, name="backtest") as (_proc, log),
        schema_context(journey_org["schema"]),
    ):
        # Sent from inside the schema: tenant-schemas-celery runs it there on the worker.
        backtest_run_task.delay(run_id)
        run = wait_until(
            lambda: BacktestRun.objects.filter(pk=run_id, status="done").first(),
            timeout=45,
            message=f"the back-test to finish\n{log.read_text()[-2000:]}",
        )
        # Any pricing visit, any company size: three history leads (+ the journey's API lead).
        visitors = Lead.objects.filter(activities__properties__url__icontains="/pricing")
        expected = visitors.distinct().count()
    assert run.total >= expected >= 3
    assert run.processed == run.total and run.progress_percent == 100
    assert run.result["draft"]["mqls"] == expected
