import json
import re
import subprocess

import pytest
from django_tenants.utils import schema_context

from apps.dispositions.models import Disposition, ReasonCode
from apps.leads.models import Activity, Lead
from tests.dispositions.journey_data import PASSWORD, SCHEMA
from tests.support.browser import chromium, screenshot
from tests.support.processes import ROOT, child_env, live_server, python_argv

pytestmark = [pytest.mark.browser]


def _journey_data(*args: str) -> str:
    """Run tests/dispositions/journey_data.py in its own process: its writes are committed."""
    done = subprocess.run(
        python_argv("-m", "tests.dispositions.journey_data", *args),
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def journey(db):
    """Users, an SLA and two MQLs that the live server sees (committed by another process);
    this test's own transaction reads them under READ COMMITTED. Removed afterwards."""
    ids = json.loads(_journey_data("create").strip().splitlines()[-1])
    with schema_context(SCHEMA):
        data = {
            "rep_id": ids["rep"],
            "call_me": Lead.objects.get(pk=ids["call_me"]),
            "reject_me": Lead.objects.get(pk=ids["reject_me"]),
        }
    try:
        yield data
    finally:
        _journey_data("remove", json.dumps(ids))


def _login(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/$"))


def test_rep_works_the_queue_and_marketing_reads_the_feedback(journey, tmp_path):
    call_me, reject_me = journey["call_me"], journey["reject_me"]
    with live_server(tmp_path) as port, chromium() as browser:
        base = f"http://acme.localhost:{port}"
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        _login(page, base, "journey-rep@acme.test")
        page.click("header >> text=My queue")
        page.wait_for_url(f"{base}/queue/")
        rows = page.locator("tr.queue-row")
        assert rows.count() == 2
        # Nearest deadline first: the older MQL is due first.
        assert "Robin Rejected" in rows.nth(0).inner_text()
        assert "First contact" in page.inner_text(f"#lead-{call_me.pk}")
        assert "0 of 6" in page.inner_text(f"#lead-{call_me.pk} .touches")
        screenshot(page, "queue-rep")

        # Log a call with the keyboard: focus the row, press "c".
        page.focus(f"#lead-{call_me.pk}")
        page.keyboard.press("c")
        page.wait_for_selector("#queue-status >> text=Call logged. (Casey Caller)")
        # (A locator, not wait_for_function: the page's Content-Security-Policy forbids eval.)
        page.locator(f"#lead-{call_me.pk} .touches", has_text="1 of 6").wait_for()
        page.wait_for_load_state("networkidle")  # the list refresh that follows the call

        # Reject the other lead inline, with a reason and a note for marketing.
        row = page.locator(f"#lead-{reject_me.pk}")
        form = row.locator("form[data-disposition-form]")
        # Without a reason the row says so in place (a 422 that htmx swaps in).
        form.locator("select[name=outcome]").select_option("rejected")
        form.locator("button:has-text('Save')").click()
        page.wait_for_selector(f"#lead-{reject_me.pk} >> text=Pick a reason code when rejecting.")
        row = page.locator(f"#lead-{reject_me.pk}")
        form = row.locator("form[data-disposition-form]")
        form.locator("select[name=reason_code]").select_option(label="Chose a competitor")
        assert (
            form.locator("select[name=outcome]").input_value() == "rejected"
        )  # picked by the reason
        form.locator("input[name=note]").fill("Signed with a rival in October")
        form.locator("button:has-text('Save')").click()
        # The list refreshes itself: the rejected lead leaves the queue, without a reload.
        page.wait_for_selector(f"#lead-{reject_me.pk}", state="detached")
        assert page.url == f"{base}/queue/"
        assert page.locator("tr.queue-row").count() == 1
        screenshot(page, "queue-after-reject")

        # The minute refresh skips a tick while the rep is in the list (queue.js decides: an
        # hx-trigger filter would need eval, which the Content-Security-Policy forbids).
        polls: list[str] = []
        page.on(
            "request",
            lambda request: (
                polls.append(request.url)
                if request.method == "GET"
                and request.headers.get("hx-request")
                and request.url.endswith("/queue/")
                else None
            ),
        )
        tick = "htmx.ajax('GET', '/queue/', {source: '#queue-list', target: '#queue-list', swap: 'outerHTML'})"
        page.focus(f"#lead-{call_me.pk}")  # a row, not a text box: focus-within is enough
        page.evaluate(tick)
        page.wait_for_timeout(500)
        assert polls == []
        page.evaluate("document.activeElement.blur()")
        page.evaluate(tick)
        page.wait_for_load_state("networkidle")
        assert len(polls) == 1
        assert page.locator("tr.queue-row").count() == 1

        marketing = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        _login(marketing, base, "journey-marketing@acme.test")
        marketing.click("header >> text=Feedback")
        marketing.wait_for_url(f"{base}/queue/feedback/")
        reasons = marketing.locator("section[aria-labelledby=by-reason]")
        assert "Chose a competitor" in reasons.inner_text()
        reasons.locator("tr", has_text="Chose a competitor").locator("a").first.click()
        marketing.wait_for_selector("#behind >> text=Robin Rejected")
        behind = marketing.inner_text("#behind")
        assert "Signed with a rival in October" in behind
        assert "Riley Journey" in behind and "content_syndication" in behind
        screenshot(marketing, "feedback-marketing")

    # Checked after the browser closes: inside Playwright's block the ORM would open a
    # second connection (another context), which would outlive the test.
    with schema_context(SCHEMA):
        touch = Activity.objects.get(lead=call_me)
        assert (touch.kind, touch.actor_id) == ("call", journey["rep_id"])
        disposition = Disposition.objects.get(lead=reject_me)
        assert disposition.reason_code == ReasonCode.objects.get(label="Chose a competitor")
        assert disposition.note == "Signed with a rival in October"
        assert Lead.objects.get(pk=reject_me.pk).stage == "disqualified"
