"""Reading the organization in a browser: each role's landing page, a new organization's
checklist, the drill-down behind a tile (sorted, exported) and the audit log (in words,
filtered, exported). Runs on a copy of the demo organization (tests/support/demo_org.py),
plus an empty organization for the checklist.
"""

import csv
import io
import re
import subprocess

import pytest

from tests.support.browser import chromium, screenshot
from tests.support.demo_org import sign_in
from tests.support.processes import ROOT, child_env, live_server, python_argv

pytestmark = [pytest.mark.browser]

DESKTOP = {"viewport": {"width": 1440, "height": 900}, "accept_downloads": True}
NEW_ORG = "freshstart"
NEW_PASSWORD = "fresh-start-2026-ok"


def _shell(code: str) -> None:
    subprocess.run(
        python_argv("manage.py", "shell", "-c", code),
        cwd=ROOT,
        env=child_env(),
        check=True,
        capture_output=True,
        timeout=180,
    )


DROP = f"""
from apps.tenants.models import Organization
org = Organization.objects.filter(subdomain="{NEW_ORG}").first()
if org is not None:
    org.delete(force_drop=True)
"""
CREATE = f"""
from apps.tenants.services import organization_create
organization_create(name="Fresh Start", subdomain="{NEW_ORG}", admin_name="Fay First",
                    admin_email="fay@fresh.test", admin_password="{NEW_PASSWORD}")
"""


@pytest.fixture
def new_organization(db):
    _shell(DROP)
    _shell(CREATE)
    yield NEW_ORG
    _shell(DROP)


def _download(page, link) -> list[list[str]]:
    with page.expect_download() as download:
        link.click()
    return list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))


def test_each_role_lands_on_its_numbers(db, demo_org, demo_site):
    with chromium() as browser:
        rep = sign_in(browser, demo_site, "rep1", **DESKTOP)
        numbers = " ".join(rep.inner_text(".headline-numbers").split())
        assert re.fullmatch(r"\d+ open · \d+ due today · \d+ overdue", numbers), numbers
        assert "Getting started" not in rep.inner_text("main")
        screenshot(rep, "landing-rep")

        sales = sign_in(browser, demo_site, "sales", **DESKTOP)
        main = sales.inner_text("main")
        # The demo's v3 waits for sales' signature but is outdated (v4 was signed since its
        # base), so it is not offered for signing; tests/dashboards/test_landing.py covers the
        # list with a version that can be signed.
        assert "Waiting for your signature" not in main
        assert "Your team's queues" in main and "Your team's commitments" in main

        cro = sign_in(browser, demo_site, "cro", **DESKTOP)
        assert "The scorecard" in cro.inner_text("main")
        assert cro.locator(".tile[data-status]").count() >= 4
        screenshot(cro, "landing-executive")


def test_a_new_organization_follows_its_checklist(new_organization, live_checklist_server):
    base = live_checklist_server
    with chromium() as browser:
        page = browser.new_page(**DESKTOP)
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "fay@fresh.test")
        page.fill("#id_password", NEW_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        checklist = page.locator(".checklist")
        assert "Getting started · 0 of 5 done" in checklist.inner_text()
        assert checklist.locator("[data-done=no]").count() == 5
        screenshot(page, "landing-new-organization")
        # Step one, from its own link: the business calendar.
        checklist.locator("[data-step=calendar] a:has-text('Open')").click()
        page.wait_for_url(f"{base}/sla/calendars/")
        page.fill("#id_name", "Head office")
        page.select_option("#id_timezone", "Europe/Berlin")
        page.click("button:has-text('Create calendar')")
        page.wait_for_url(re.compile(r"/sla/calendars/\d+/$"))
        page.goto(f"{base}/")
        assert "Getting started · 1 of 5 done" in page.inner_text(".checklist")
        assert page.locator("[data-step=calendar]").get_attribute("data-done") == "yes"
        assert page.locator("[data-step=mql]").get_attribute("data-done") == "no"


@pytest.fixture
def live_checklist_server(tmp_path):
    with live_server(tmp_path) as port:
        yield f"http://{NEW_ORG}.localhost:{port}"


def test_the_leads_behind_a_tile_sort_and_export(db, demo_org, demo_site):
    with chromium() as browser:
        page = sign_in(browser, demo_site, "cro", **DESKTOP)
        page.goto(f"{demo_site}/dashboards/?period=last_month")
        tile = page.locator(".tile", has_text="Sales acts on leads promptly")
        tile.locator("a.tile-link").click()
        page.wait_for_url(re.compile(r"/dashboards/leads/\?commitment="))
        headers = page.locator("table.drilldown th").all_inner_texts()
        assert [h.strip(" ▲▼").upper() for h in headers] == [
            "LEAD",
            "OWNER",
            "SOURCE",
            "MQL AT",
            "DUE",
            "FIRST CONTACT",
            "TIME TO FIRST CONTACT",
            "OUTCOME",
        ]
        total = int(page.inner_text("h1").split()[0])
        assert total > 0
        page.click("th a[data-sort-key=outcome]")
        page.wait_for_url(re.compile(r"sort=outcome"))
        assert page.locator("th[aria-sort=ascending]").inner_text().upper().startswith("OUTCOME")
        outcomes = page.eval_on_selector_all(
            "td[data-outcome]", "cells => cells.map(c => c.dataset.outcome)"
        )
        rank = {"missed": 0, "pending": 1, "met": 2}
        assert outcomes == sorted(outcomes, key=rank.__getitem__)
        page.click("th a[data-sort-key=outcome]")  # again: descending
        page.wait_for_url(re.compile(r"sort=-outcome"))
        assert page.locator("th[aria-sort=descending]").count() == 1
        screenshot(page, "drilldown-sorted")
        rows = _download(page, page.locator("a:has-text('Export CSV')"))
        assert rows[0][-1] == "outcome" and len(rows) - 1 == total
        assert {row[-1] for row in rows[1:]} <= {"met", "missed", "pending"}


def test_the_audit_log_reads_in_words_filters_and_exports(db, demo_org, demo_site):
    with chromium() as browser:
        page = sign_in(browser, demo_site, "admin", **DESKTOP)
        page.goto(f"{demo_site}/accounts/audit/")
        text = page.inner_text("table.audit")
        assert "SLA v" in text  # sign-offs and versions put in force are in the log
        assert "Created the routing rule “EMEA”" in text or page.locator("text=Older →").count()
        assert "routing_rule.created" not in text and "{'" not in text
        assert re.search(r"\d{1,2} \w{3} \d{4} \d\d:\d\d E[SD]T", text)

        page.select_option("#id_kind", "sla")
        page.select_option("#id_person", label="Sam Okafor")
        with page.expect_navigation():
            page.click("form.filters button[type=submit]")
        rows = page.locator("table.audit tbody tr")
        assert rows.count() >= 1
        assert re.search(r"Signed SLA v\d", page.inner_text("table.audit"))  # Sam's sign-offs
        assert set(rows.locator("td:nth-child(2)").all_inner_texts()) <= {
            "Sam Okafor\nSales leader"
        }
        assert all(
            action.startswith("sla.")
            for action in page.eval_on_selector_all(
                "tr[data-action]", "rows => rows.map(r => r.dataset.action)"
            )
        )
        screenshot(page, "audit-log-filtered")
        exported = _download(page, page.locator("a:has-text('Export CSV')"))
        assert exported[0] == ["when", "time zone", "who", "kind", "what", "details", "code"]
        assert len(exported) - 1 == rows.count()
        assert {row[1] for row in exported[1:]} == {"America/New_York"}
        assert all(row[2] == "Sam Okafor" for row in exported[1:])
