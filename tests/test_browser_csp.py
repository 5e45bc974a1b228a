"""Every page works under a Content-Security-Policy of ``script-src 'self'``: no template
carries an inline script, an ``on*=`` attribute or an htmx eval (``hx-on``, ``js:``), and
the behaviours that used to be inline (confirm before a destructive form, a filter that
submits on change, print, the import's property box, the leads export following the
filters, the next persona card's number) come from static files wired by data attributes.

The browser test adds the policy to every page it loads (the production server sends its
own, checked by tests/test_csp_browser.py) and fails on any violation the page reports. Runs
on a copy of the demo organization (tests/support/demo_org.py). The templates themselves are
scanned in tests/test_templates_csp.py.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import pytest
from playwright.sync_api import expect

from tests.support.browser import chromium, screenshot
from tests.support.demo_org import ROLES, main_pages, sign_in

pytestmark = [pytest.mark.browser]

POLICY = "script-src 'self'; object-src 'none'; base-uri 'self'"
DESKTOP = {"viewport": {"width": 1440, "height": 900}}

# Collects what the page reports (Playwright's init scripts are not subject to the policy).
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + (event.blockedURI || "inline")
    + " at " + (event.sourceFile || location.pathname) + ":" + event.lineNumber);
});
window.__printed = 0;
window.print = () => { window.__printed += 1; };
"""


def _with_policy(route) -> None:
    # Pages only, and only GETs: Chromium does not hand a file upload's body to the route, so
    # a POST goes through untouched (its redirect target is a GET and gets the policy).
    if route.request.resource_type != "document" or route.request.method != "GET":
        route.continue_()
        return
    # Playwright's own fetch does not resolve *.localhost as Chromium does: ask 127.0.0.1
    # with the organization's host name.
    url = urlsplit(route.request.url)
    response = route.fetch(
        url=urlunsplit(url._replace(netloc=f"127.0.0.1:{url.port}")),
        headers={**route.request.headers, "host": url.netloc},
        max_redirects=0,
    )
    route.fulfill(
        response=response, headers={**response.headers, "content-security-policy": POLICY}
    )


def _page(browser, base: str, who: str, **context):
    page = sign_in(browser, base, who, **{**DESKTOP, **context})
    page.context.add_init_script(WATCH)
    page.context.route("**/*", _with_policy)
    return page


def _violations(page) -> list[str]:
    return page.evaluate("window.__violations")


def test_every_main_page_runs_under_the_policy(db, demo_org, demo_site):
    details = main_pages(demo_org.subdomain)
    problems, visited = [], 0
    with chromium() as browser:
        for who in ROLES:
            page = _page(browser, demo_site, who)
            errors: list[str] = []
            page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
            page.goto(demo_site + "/")
            nav = page.eval_on_selector_all(
                "#topnav a[href]", "links => links.map(a => a.getAttribute('href'))"
            )
            for path in sorted({h for h in nav if h.startswith("/")} | set(details[who])):
                page.goto(demo_site + path, wait_until="load")
                page.wait_for_load_state("networkidle")
                visited += 1
                assert page.evaluate("typeof htmx") == "object", f"{who} {path}: htmx did not load"
                problems += [f"{who} {path}: {v}" for v in _violations(page)]
            problems += [f"{who}: JavaScript error {e}" for e in errors]
            page.context.close()
    assert visited > 60
    assert problems == []


def test_behaviours_wired_by_data_attributes_work_under_the_policy(
    db, demo_org, demo_site, tmp_path
):
    with chromium() as browser:
        # Confirm before a destructive form: declining keeps the rule.
        page = _page(browser, demo_site, "admin")
        page.goto(f"{demo_site}/leads/routing/")
        rules = page.locator("form[data-confirm] button:has-text('Delete')").count()
        asked: list[str] = []

        def decline(dialog) -> None:
            asked.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", decline)
        page.locator("form[data-confirm] button:has-text('Delete')").first.click()
        page.wait_for_timeout(300)
        # Asked once: one handler (static/js/app.js) serves data-confirm.
        assert len(asked) == 1 and asked[0].startswith("Delete the rule ")
        assert page.url.endswith("/leads/routing/")
        assert page.locator("form[data-confirm] button:has-text('Delete')").count() == rules
        assert _violations(page) == []
        page.context.close()

        # A filter that submits when its select changes; print from a button.
        page = _page(browser, demo_site, "sales")
        page.goto(f"{demo_site}/queue/team/")
        with page.expect_navigation():
            page.select_option("#rep-filter", "none")
        assert "rep=none" in page.url
        page.goto(f"{demo_site}/dashboards/")
        page.click("button[data-print]")
        assert page.evaluate("window.__printed") == 1
        assert _violations(page) == []
        page.context.close()

        # The leads export follows the filters htmx applied.
        page = _page(browser, demo_site, "marketing")
        page.goto(f"{demo_site}/leads/")
        page.fill("#id_q", "a")
        page.locator("form:has(#id_q)").evaluate("form => form.requestSubmit()")
        # (Playwright's expect, not wait_for_function: its predicate is eval'd in the page.)
        expect(page.locator("#export-link")).to_have_attribute("href", re.compile(r"[?&]q=a\b"))

        # The next persona card gets the next number (it was an htmx `js:` expression).
        page.goto(f"{demo_site}/icp/revisions/new/")
        before = page.locator("#personas fieldset").count()
        for _ in range(2):
            page.click("button:has-text('+ persona')")
        expect(page.locator("#personas fieldset")).to_have_count(before + 2)
        names = page.eval_on_selector_all(
            "#personas input[name$='.role']", "inputs => inputs.map(i => i.name)"
        )
        assert names[-2:] == [f"personas[{before}].role", f"personas[{before + 1}].role"]
        assert len(set(names)) == len(names)

        # The import's property box shows only for "Extra field".
        csv_file = tmp_path / "few.csv"
        csv_file.write_text("Email,Shoe size\nana@example.com,38\n")
        page.goto(f"{demo_site}/leads/import/")
        page.set_input_files("#id_file", str(csv_file))
        page.click("text=Upload and preview")
        page.wait_for_url(re.compile(r".*/leads/import/\d+/$"))
        box = page.locator("#prop-1")
        page.select_option("#map-1", "__property__")
        assert box.is_visible()
        field = page.eval_on_selector("#map-1 option", "option => option.value")
        page.select_option("#map-1", field)
        assert not box.is_visible()
        # Another encoding reloads the preview with it.
        choices = page.eval_on_selector_all("#encoding option", "o => o.map(x => x.value)")
        other = next(c for c in choices if c != page.input_value("#encoding"))
        with page.expect_navigation():
            page.select_option("#encoding", other)
        assert f"encoding={other}" in page.url
        screenshot(page, "csp-import")
        assert _violations(page) == []
        page.context.close()
