"""Every form with a date or a time shows and reads it in the organization's zone, names the
zone, and survives a round trip: open it, save it unchanged, and nothing changes.

The forms are found in the code (date and time fields of ``apps/*/forms.py``, date and time
inputs of the templates); each one has a round trip below, so a new one without fails
``test_every_form_with_a_date_or_time_has_a_round_trip``. Runs on a copy of the demo
organization (New York time, tests/support/demo_org.py).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from tests.support.browser import chromium, screenshot
from tests.support.demo_org import demo_schema, sign_in

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
DATE_FIELDS = {"DateField", "DateTimeField", "TimeField", "LocalDateTimeField", "MonthField"}
DATE_INPUT = re.compile(r'type="(date|datetime-local|month|time)"')
ZONE = "America/New York"


def discovered() -> set[str]:
    found = set()
    for path in sorted((ROOT / "apps").glob("*/forms.py")):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.ClassDef):
                continue
            for statement in node.body:
                call = getattr(statement, "value", None)
                if isinstance(call, ast.Call):
                    name = getattr(call.func, "attr", None) or getattr(call.func, "id", None)
                    if name in DATE_FIELDS:
                        found.add(f"form:{path.parent.name}.{node.name}")
    for path in (ROOT / "templates").rglob("*.html"):
        if DATE_INPUT.search(path.read_text()):
            found.add(f"template:{path.relative_to(ROOT / 'templates')}")
    return found


def _page(browser, base, who, path):
    page = sign_in(browser, base, who, viewport={"width": 1440, "height": 900})
    page.goto(base + path)
    return page


def _submit_unchanged(page, form: str) -> None:
    with page.expect_navigation():
        page.locator(form).locator("button[type=submit]").first.click()


# --- the round trips ---------------------------------------------------------------------------


def sla_version(browser, base, ids) -> None:
    """The reported bug: each unchanged save moved the effective time back five hours."""
    from apps.sla.models import SlaVersion

    page = _page(browser, base, "marketing", f"/sla/versions/{ids['signed']}/")
    page.click("button:has-text('Draft an amendment')")
    page.wait_for_url(re.compile(r"/sla/versions/\d+/$"))
    pk = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.click("summary:has-text('Edit details')")
    page.fill("#id_review_date", "2031-03-31")
    page.click("button:has-text('Save details')")
    page.wait_for_selector("text=Saved.")
    with schema_context(ids["schema"]):
        stored = SlaVersion.objects.values_list("effective_at", "review_date").get(pk=pk)

    def open_details() -> None:
        page.locator("details:has(#id_effective_at)").evaluate("details => details.open = true")

    for _ in range(3):
        open_details()
        shown = page.input_value("#id_effective_at")
        assert ZONE in page.locator("#id_effective_at >> xpath=..").text_content()
        with page.expect_response(lambda response: response.url.endswith("/edit/")):
            page.click("button:has-text('Save details')")
        page.wait_for_load_state("networkidle")
        open_details()
        assert page.input_value("#id_effective_at") == shown
        assert page.input_value("#id_review_date") == "2031-03-31"
    with schema_context(ids["schema"]):
        assert SlaVersion.objects.values_list("effective_at", "review_date").get(pk=pk) == stored
    # The header shows the same wall time as the field, in the same zone.
    local = stored[0].astimezone(ZoneInfo("America/New_York"))
    assert local.strftime("%H:%M") in page.inner_text(".page-head")
    assert shown == local.strftime("%Y-%m-%dT%H:%M")


def compliance_period(browser, base, ids) -> None:
    page = _page(browser, base, "cro", "/compliance/")
    page.select_option("#id_period", "week")
    page.fill("#id_start", "2026-11-03")
    page.fill("#id_as_of", "2026-11-04T09:30")
    assert ZONE in page.locator("#id_as_of >> xpath=..").text_content()
    _submit_unchanged(page, "form[aria-label='Choose a period']")
    first = page.inner_text(".page-head")
    assert "As of Wed 4 Nov 2026 09:30 EST" in first
    _submit_unchanged(page, "form[aria-label='Choose a period']")
    assert page.inner_text(".page-head") == first
    assert page.input_value("#id_as_of") == "2026-11-04T09:30"


def scorecard_custom_period(browser, base, ids) -> None:
    page = _page(browser, base, "cro", "/dashboards/")
    page.select_option("#f-period", "custom")
    page.select_option("#f-kind", "week")
    page.fill("#f-date", "2026-11-04")
    _submit_unchanged(page, "form.filters")
    label = page.inner_text(".asof")
    assert "Week of 2026-11-02" in label
    _submit_unchanged(page, "form.filters")
    assert page.inner_text(".asof").split(" · as of")[0] == label.split(" · as of")[0]
    assert page.input_value("#f-date") == "2026-11-02"


def feedback_period(browser, base, ids) -> None:
    page = _page(browser, base, "marketing", "/queue/feedback/?period=month&on=2026-11-15")
    heading = page.inner_text("h1")
    assert "November 2026" in heading
    _submit_unchanged(page, "form:has(#period-on)")
    assert page.inner_text("h1") == heading and page.input_value("#period-on") == "2026-11-01"


def lead_filters(browser, base, ids) -> None:
    page = _page(browser, base, "sales", "/leads/?created_from=2026-10-01&mql_to=2026-11-30")
    count = page.inner_text("#results")
    page.locator("form:has(#id_created_from)").evaluate("form => form.requestSubmit()")
    page.wait_for_load_state("networkidle")
    assert page.input_value("#id_created_from") == "2026-10-01"
    assert page.input_value("#id_mql_to") == "2026-11-30"
    assert page.inner_text("#results") == count


def calendar(browser, base, ids) -> None:
    from apps.sla.models import BusinessCalendar

    page = _page(browser, base, "admin", f"/sla/calendars/{ids['calendar']}/")
    with schema_context(ids["schema"]):
        before = BusinessCalendar.objects.values().get(pk=ids["calendar"])
    with page.expect_navigation():
        page.click("button:has-text('Save calendar')")
    assert "saved" in page.inner_text(".messages")
    with schema_context(ids["schema"]):
        after = BusinessCalendar.objects.values().get(pk=ids["calendar"])
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }
    # The preview reads its arrival in the calendar's own zone and says which.
    page.fill("#preview-arrival", "2026-11-07T10:00")  # a Saturday
    page.locator("#preview-arrival").dispatch_event("change")
    # (The preview the page loaded with may still be answering: wait for this arrival's.)
    expect(page.locator(".sla-preview-sentence")).to_contain_text("Saturday 7 Nov 2026, 10:00")
    assert "America/New_York" in page.inner_text(".sla-preview-sentence")


def spend(browser, base, ids) -> None:
    # Entering spend is marketing's (the executive reads it).
    page = _page(browser, base, "marketing", "/dashboards/spend/")
    for _ in range(2):
        page.fill("#id_month", "2026-10")
        page.fill("#id_channel", "trade_show")
        page.fill("#id_amount", "1234.50")
        _submit_unchanged(page, "form.inline-form")
    rows = page.locator("tr", has_text="trade_show")
    assert rows.count() == 1 and "October 2026" in rows.inner_text()


def audit_days(browser, base, ids) -> None:
    page = _page(browser, base, "admin", "/accounts/audit/?since=2026-01-01&until=2030-12-31")
    count = page.inner_text("p[role=status]")
    _submit_unchanged(page, "form.filters")
    assert page.input_value("#id_since") == "2026-01-01"
    assert page.input_value("#id_until") == "2030-12-31"
    assert page.inner_text("p[role=status]") == count


ROUND_TRIPS = {
    "form:sla.VersionForm": sla_version,
    "form:compliance.PeriodForm": compliance_period,
    "template:compliance/overview.html": compliance_period,
    "template:dashboards/_filters.html": scorecard_custom_period,
    "template:dispositions/feedback.html": feedback_period,
    "form:leads.LeadFilterForm": lead_filters,
    "form:sla.CalendarPreviewForm": calendar,
    "template:sla/_calendar_form.html": calendar,
    "form:dashboards.SpendForm": spend,
    "form:accounts.AuditFilterForm": audit_days,
}


def test_every_form_with_a_date_or_time_has_a_round_trip():
    assert discovered() == set(ROUND_TRIPS)


def _ids(subdomain: str) -> dict:
    from apps.sla.models import BusinessCalendar, SlaVersion, VersionStatus

    schema = demo_schema(subdomain)
    with schema_context(schema):
        return {
            "schema": schema,
            "signed": SlaVersion.objects.filter(status=VersionStatus.ACTIVE).first().pk,
            "calendar": BusinessCalendar.objects.get(is_default=True).pk,
        }


def test_dates_and_times_survive_a_round_trip(db, demo_org, demo_site):
    ids = _ids(demo_org.subdomain)
    failed = []
    with chromium() as browser:
        for check in dict.fromkeys(ROUND_TRIPS.values()):  # each round trip once
            try:
                check(browser, demo_site, ids)
            except Exception as error:  # every broken form in one run
                failed.append(f"{check.__name__}: {error}")
            finally:
                for context in list(browser.contexts):
                    if context.pages:
                        screenshot(context.pages[-1], f"times-{check.__name__}")
                    context.close()
    assert failed == []


def test_a_review_date_before_the_effective_date_is_refused(db, demo_org, demo_site):
    ids = _ids(demo_org.subdomain)
    with chromium() as browser:
        page = _page(browser, demo_site, "sales", f"/sla/versions/{ids['signed']}/")
        page.click("button:has-text('Draft an amendment')")
        page.wait_for_url(re.compile(r"/sla/versions/\d+/$"))
        page.click("summary:has-text('Edit details')")
        page.fill("#id_effective_at", "2027-03-10T09:00")
        page.fill("#id_review_date", "2027-03-09")
        page.click("button:has-text('Save details')")
        page.locator("#id_review_date >> xpath=..").get_by_text(
            "The review date comes before the effective date (10 Mar 2027)"
        ).wait_for()
        page.fill("#id_review_date", "2027-03-10")
        page.click("button:has-text('Save details')")
        page.wait_for_selector("text=Saved.")
        assert "review on 10 Mar 2027" in page.inner_text(".page-head")
