"""The rep's keyboard flow: after a disposition the keyboard moves to the next row (not the
first), a one-key disposition can be undone for a few seconds ("u" or the button) and the
undo is in the audit log; a refused disposition keeps what the rep typed.

Runs on a copy of the demo organization (tests/support/demo_org.py).
"""

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from apps.accounts.models import AuditEvent
from apps.dispositions.models import Disposition
from tests.support.browser import chromium, screenshot
from tests.support.demo_org import demo_schema, sign_in

pytestmark = [pytest.mark.browser]


def _focused_lead(page) -> str | None:
    return page.evaluate(
        "(() => { const row = document.activeElement && document.activeElement.closest"
        " && document.activeElement.closest('tr.queue-row'); return row ? row.dataset.lead : null })()"
    )


def test_keys_move_on_to_the_next_row_and_undo_takes_it_back(db, demo_org, demo_site):
    schema = demo_schema(demo_org.subdomain)
    with chromium() as browser:
        # The sales leader's team queue: the same rows and keys as a rep's, with every rep's
        # open MQLs (enough of them for a "next row").
        page = sign_in(browser, demo_site, "sales", viewport={"width": 1440, "height": 900})
        page.goto(f"{demo_site}/queue/team/")
        rows = page.locator("tr.queue-row")
        assert rows.count() >= 3
        leads = [rows.nth(i).get_attribute("data-lead") for i in range(rows.count())]
        # Work the second row, so "the first row" and "the next row" differ.
        second, third = leads[1], leads[2]
        page.focus(f"#lead-{second}")
        page.keyboard.press("a")  # accept: the lead leaves the queue
        page.wait_for_selector(f"#lead-{second}", state="detached")
        expect(page.locator(f"#lead-{third}")).to_be_focused()
        assert _focused_lead(page) == third
        assert "Accepted (→ SQL)." in page.inner_text("#queue-status")
        screenshot(page, "queue-undo-offer")

        # "u" takes it back while the offer shows: the lead returns and gets the keyboard.
        page.keyboard.press("u")
        page.wait_for_selector("#queue-status >> text=Disposition undone")
        page.wait_for_selector(f"#lead-{second}")
        expect(page.locator(f"#lead-{second}")).to_be_focused()

        # The offer ends after a few seconds.
        page.focus(f"#lead-{third}")
        page.keyboard.press("w")
        undo = page.locator("#queue-status [data-undo]")
        undo.wait_for()
        undo.wait_for(state="detached", timeout=15000)

    with schema_context(schema):
        assert not Disposition.objects.filter(lead_id=second).exists()
        undone = AuditEvent.objects.filter(action="disposition.undone").latest("occurred_at")
        assert undone.actor.email == "sales@acme.test" and undone.detail["outcome"] == "accepted"
        assert Disposition.objects.filter(lead_id=third, outcome="working").exists()


def test_a_refused_disposition_keeps_what_was_typed_and_a_lost_connection_says_so(
    db, demo_org, demo_site
):
    with chromium() as browser:
        page = sign_in(browser, demo_site, "rep3", viewport={"width": 1440, "height": 900})
        page.goto(f"{demo_site}/queue/")
        row_id = page.locator("tr.queue-row").first.get_attribute("id")
        form = page.locator(f"#{row_id} [data-disposition-form]")
        form.locator("select[name=outcome]").select_option("nurture")
        form.locator("input[name=note]").fill("Budget opens in April")
        form.locator("button:has-text('Save')").click()
        page.locator(f"#{row_id}").get_by_text(
            "Pick a reason code when returning it to nurture"
        ).wait_for()
        form = page.locator(f"#{row_id} [data-disposition-form]")
        assert form.locator("select[name=outcome]").input_value() == "nurture"
        assert form.locator("input[name=note]").input_value() == "Budget opens in April"
        # Pick the reason, lose the connection: still all there, and the row says why.
        form.locator("select[name=reason_code]").select_option(label="Timeline too long")
        page.context.set_offline(True)
        form.locator("button:has-text('Save')").click()
        page.locator(f"#{row_id}").get_by_text("Could not reach Handoff").wait_for()
        assert form.locator("input[name=note]").input_value() == "Budget opens in April"
        assert (
            form.locator("select[name=reason_code] option:checked").inner_text()
            == "Timeline too long"
        )
        page.context.set_offline(False)
        form.locator("button:has-text('Save')").click()
        page.wait_for_selector(f"#{row_id}", state="detached")
