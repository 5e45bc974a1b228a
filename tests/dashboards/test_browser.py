"""Browser journey: the executive logs in, sees a red tile, drills into it, clicks a chart bar,
and opens the weekly huddle; the scorecard is saved as test-artifacts/scorecard.png."""

import re
import subprocess

import pytest

from tests.dashboards.browser_setup import PASSWORD
from tests.support.browser import chromium, screenshot
from tests.support.processes import ROOT, child_env, live_server, python_argv

pytestmark = [pytest.mark.browser]

SUBDOMAIN = "dashjourney"


def _setup(action: str) -> None:
    subprocess.run(
        python_argv("-m", "tests.dashboards.browser_setup", action, SUBDOMAIN),
        cwd=ROOT,
        env=child_env(),
        check=True,
        timeout=300,
    )


@pytest.fixture
def organization(db):
    _setup("drop")  # a previous run that was interrupted
    _setup("create")
    yield SUBDOMAIN
    _setup("drop")


def test_executive_drills_from_a_red_tile_and_opens_the_huddle(organization, tmp_path):
    with live_server(tmp_path) as port, chromium() as browser:
        base = f"http://{organization}.localhost:{port}"
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", f"cro@{organization}.test")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"{re.escape(base)}/$"))

        page.click("header >> text=Scorecard")
        page.wait_for_url(re.compile(r"/dashboards/"))
        page.select_option("#f-period", "last_week")
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r"period=last_week"))
        red = page.locator('.tile[data-status="red"]').first
        assert "Off target" in red.inner_text()
        assert "6 of 10 contacted within 4 business hours" in red.inner_text()
        # plotly.js (served from static) drew the sparklines.
        page.wait_for_selector(".spark.figure-ready", timeout=15000)
        screenshot(page, "scorecard")
        # Printable: the print stylesheet drops the filters and the navigation.
        page.emulate_media(media="print")
        assert page.locator("form.filters").is_hidden() and page.locator("header").is_hidden()
        assert red.is_visible()
        page.emulate_media(media="screen")

        red.locator("a.tile-link").click()
        page.wait_for_url(re.compile(r"/dashboards/leads/\?commitment="))
        assert page.inner_text("h1") == "10 leads"
        assert page.locator("tr[data-lead]").count() == 10

        # Every chart element drills down: click the last week's bar of the MQL volume chart.
        page.goto(f"{base}/dashboards/charts/?period=last_week")
        page.wait_for_selector("#chart-mql-volume .figure-ready", timeout=15000)
        # plotly listens on its drag layer above the bars: click where the bar is drawn.
        bar = page.locator("#chart-mql-volume .bars .point path").last
        bar.scroll_into_view_if_needed()
        box = bar.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_url(re.compile(r"/dashboards/leads/\?basis=mql"))
        assert page.inner_text("h1") == "10 leads"

        page.click("header >> text=Reports")
        page.click("text=Weekly huddle")
        page.wait_for_url(re.compile(r"/dashboards/reports/huddle/"))
        main = page.inner_text("main")
        assert "Weekly huddle" in main and "Leads that breached the SLA" in main
        assert "Not the buyer" in main
        screenshot(page, "weekly-huddle")
        page.goto(f"{base}/dashboards/charts/?period=last_week")
        page.wait_for_selector("#chart-speed-to-lead .figure-ready", timeout=15000)
        screenshot(page, "charts")
