"""Every htmx form of the app refuses out loud, in place.

The forms are found in the templates (every ``hx-post``/``hx-put``/``hx-patch``/
``hx-delete``), and each one has a scenario below that sends it something the server
refuses — an invalid value, a change that went stale in another tab — or that meets a
server error or a dropped connection. Each scenario checks that the message appears next to
the control that was used and that controls showing stored state show it again. A new htmx
form without a scenario fails ``test_every_htmx_form_has_a_refusal_scenario``.

Runs on a copy of the demo organization (tests/support/demo_org.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from tests.support.browser import chromium, screenshot
from tests.support.demo_org import demo_schema, sign_in

pytestmark = [pytest.mark.browser]

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
_HX_WRITE = re.compile(r'hx-(?:post|put|patch|delete)="([^"]*)"')
_URL_NAME = re.compile(r"""{%\s*(?:url|pk_url)\s+['"]([\w:]+)['"]""")
_VARIABLE = re.compile(r"{{\s*(\w+)\s*}}")
# Template variables that hold an htmx form's address.
VARIABLE_URLS = {"builder_url": "mql:definition_builder"}

NETWORK_DOWN = "Could not reach Handoff"
SERVER_ERROR = "Something went wrong on our side (error 500)"
STALE = "Not found: it was probably changed or removed meanwhile"


def discovered_forms() -> set[str]:
    """ "<template>:<url name>" of every htmx write in the templates."""
    found = set()
    for path in TEMPLATES.rglob("*.html"):
        for target in _HX_WRITE.findall(path.read_text()):
            name = _URL_NAME.search(target)
            variable = _VARIABLE.search(target)
            key = (
                name.group(1) if name else VARIABLE_URLS.get(variable.group(1) if variable else "")
            )
            found.add(f"{path.relative_to(TEMPLATES)}:{key or target}")
    return found


@dataclass
class World:
    browser: object
    base: str
    ids: dict

    def page(self, who: str, path: str, **context):
        page = sign_in(
            self.browser, self.base, who, viewport={"width": 1440, "height": 900}, **context
        )
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(self.base + path)
        return page


def _said_in(container, text: str) -> None:
    """The refusal is said inside ``container`` (the row, form or block of the control)."""
    container.locator(".request-problem, .errorlist, [role=alert]").filter(
        has_text=text
    ).first.wait_for(state="visible", timeout=15000)


def _csrf(page) -> str:
    return page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")


# --- the scenarios, one per htmx form --------------------------------------------------------


def user_row(world: World) -> None:
    """Demoting the last admin is refused; the row shows the stored role again."""
    page = world.page("admin", "/accounts/users/")
    row = page.locator(f"#user-{world.ids['admin']}")
    row.locator("select[name=role]").select_option("rep")
    row.locator("button:has-text('Save')").click()
    _said_in(page.locator(f"#user-{world.ids['admin']}"), "at least one active admin")
    assert page.locator(f"#user-{world.ids['admin']} select[name=role]").input_value() == "admin"


def notification_read(world: World) -> None:
    page = world.page("rep1", "/compliance/notifications/")
    page.route("**/read/", lambda route: route.abort())
    row = page.locator(
        "tr[id^=notification-]", has=page.locator("button:has-text('Mark read')")
    ).first
    row.locator("button:has-text('Mark read')").click()
    _said_in(row, NETWORK_DOWN)


def report_subscription(world: World) -> None:
    page = world.page("cro", "/dashboards/reports/")
    page.route("**/subscription/**", lambda route: route.fulfill(status=500, body="boom"))
    form = page.locator("form.subscription").first
    form.locator("button").click()
    _said_in(form, SERVER_ERROR)


def bulk(world: World) -> None:
    page = world.page("rep1", "/queue/")
    page.click("button:has-text('Apply to selected')")
    _said_in(page.locator("#bulk-form"), "Select at least one lead.")


def reassign(world: World) -> None:
    """A lead given to someone outside the team (a tampered choice) is refused in its row."""
    page = world.page("sales", "/queue/team/")
    row = page.locator("tr.queue-row").first
    select = row.locator("select[name=owner]")
    select.evaluate(
        "(select, id) => { const o = new Option('Carla', id); select.add(o); select.value = id; }",
        str(world.ids["cro"]),
    )
    row.locator("button:has-text('Reassign')").click()
    _said_in(page.locator(f"#{row.get_attribute('id')}"), "Choose someone of the team.")


def touch(world: World) -> None:
    page = world.page("rep1", "/queue/")
    row = page.locator("tr.queue-row").first
    note = row.locator("input[name=note]").first
    note.evaluate("input => input.removeAttribute('maxlength')")
    note.fill("x" * 5001)
    row.locator("button[data-touch=call]").click()
    _said_in(page.locator(f"#{row.get_attribute('id')}"), "at most 5000 characters")
    # What the rep typed is still there.
    assert (
        len(page.locator(f"#{row.get_attribute('id')} input[name=note]").first.input_value())
        == 5001
    )


def disposition_in_queue(world: World) -> None:
    """Rejecting without a reason is refused; outcome and note stay as the rep left them."""
    page = world.page("rep1", "/queue/")
    row_id = page.locator("tr.queue-row").first.get_attribute("id")
    form = page.locator(f"#{row_id} [data-disposition-form]")
    form.locator("select[name=outcome]").select_option("rejected")
    form.locator("input[name=note]").fill("Only a student, sadly")
    form.locator("button:has-text('Save')").click()
    _said_in(page.locator(f"#{row_id}"), "Pick a reason code when rejecting.")
    form = page.locator(f"#{row_id} [data-disposition-form]")
    assert form.locator("select[name=outcome]").input_value() == "rejected"
    assert form.locator("input[name=note]").input_value() == "Only a student, sadly"
    # A dropped connection keeps them too, and says so.
    page.route("**/disposition/", lambda route: route.abort())
    form.locator("button:has-text('Save')").click()
    _said_in(page.locator(f"#{row_id}"), NETWORK_DOWN)
    assert form.locator("input[name=note]").input_value() == "Only a student, sadly"


def touch_in_panel(world: World) -> None:
    page = world.page("rep1", f"/leads/{world.ids['rep1_lead']}/")
    panel = page.locator(".disposition-panel")
    note = panel.locator("input[name=note]").first
    note.evaluate("input => input.removeAttribute('maxlength')")
    note.fill("y" * 5001)
    panel.locator("button[name=kind][value=call]").click()
    _said_in(page.locator(".disposition-panel"), "at most 5000 characters")


def disposition_in_panel(world: World) -> None:
    page = world.page("rep1", f"/leads/{world.ids['rep1_lead']}/")
    panel = page.locator(".disposition-panel")
    panel.locator("select[name=outcome]").select_option("nurture")
    panel.locator("input[name=note]").last.fill("Call again in spring")
    panel.locator("button:has-text('Save')").click()
    _said_in(page.locator(".disposition-panel"), "Pick a reason code when returning it to nurture")
    assert (
        page.locator(".disposition-panel input[name=note]").last.input_value()
        == "Call again in spring"
    )


def undo(world: World) -> None:
    """Undone in another tab first: this tab's Undo says there is nothing left to undo."""
    page = world.page("rep1", "/queue/")
    row = page.locator("tr.queue-row").first
    lead = row.get_attribute("data-lead")
    row.focus()
    page.keyboard.press("w")  # one key: "working"
    undo_button = page.locator("#queue-status [data-undo]")
    undo_button.wait_for()
    url = undo_button.get_attribute("hx-post")
    # "Another tab": the same person's request from the same browser, before this Undo.
    status = page.evaluate(
        """async ([url, token]) => (await fetch(url, {method: "POST",
             headers: {"X-CSRFToken": token, "HX-Request": "true"}})).status""",
        [url, _csrf(page)],
    )
    assert status == 200
    undo_button.click()
    _said_in(page.locator("#queue-status"), "nothing to undo")
    assert page.locator(f"#lead-{lead}").count() == 1


def reason_rename(world: World) -> None:
    page = world.page("sales", "/queue/reason-codes/")
    rows = page.locator("tr[id^=code-]", has=page.locator("input[name=label]"))
    first, second = rows.nth(0), rows.nth(1)
    stored = first.locator("input[name=label]").input_value()
    taken = second.locator("input[name=label]").input_value()
    if first.locator("td").nth(2).inner_text() != second.locator("td").nth(2).inner_text():
        pytest.fail("the first two codes should share an outcome")
    first.locator("input[name=label]").fill(taken)
    first.locator("button:has-text('Rename')").click()
    row = page.locator(f"#{first.get_attribute('id')}")
    _said_in(row, "already exists")
    assert row.locator("input[name=label]").input_value() == stored


def reason_move(world: World) -> None:
    page = world.page("sales", "/queue/reason-codes/")
    page.route("**/move/", lambda route: route.abort())
    row = page.locator("tr[id^=code-]").first
    row.locator("button[value=down]").click()
    _said_in(row, NETWORK_DOWN)


def reason_retire(world: World) -> None:
    page = world.page("sales", "/queue/reason-codes/")
    page.route("**/retire/", lambda route: route.fulfill(status=500, body="boom"))
    row = page.locator("tr[id^=code-]", has=page.locator("button:has-text('Retire')")).first
    row.locator("button:has-text('Retire')").click()
    _said_in(row, SERVER_ERROR)


def reason_restore(world: World) -> None:
    """A retired reason cannot be offered again while a live one has its name."""
    page = world.page("sales", "/queue/reason-codes/")
    page.fill("#id_label", "Wrong time zone")
    page.select_option("#id_outcome", "rejected")
    page.click("button:has-text('Add')")
    page.locator("tr[id^=code-]", has_text="Wrong time zone").locator(
        "button:has-text('Retire')"
    ).click()
    page.locator("tr[id^=code-]", has_text="Wrong time zone").locator(
        "button:has-text('Offer again')"
    ).wait_for()
    page.fill("#id_label", "Wrong time zone")
    page.select_option("#id_outcome", "rejected")
    page.click("button:has-text('Add')")
    retired = page.locator(
        "tr[id^=code-]", has=page.locator("button:has-text('Offer again')")
    ).filter(has_text="Wrong time zone")
    row_id = retired.get_attribute("id")
    retired.locator("button:has-text('Offer again')").click()
    _said_in(page.locator(f"#{row_id}"), "already exists")


def rule_builder_save(world: World) -> None:
    page = world.page("marketing", f"/mql/{world.ids['draft']}/edit/")
    page.fill("#rb-threshold", "lots")
    page.click("#rb-save")
    _said_in(page.locator("#rb-score").locator(".."), "must be a number")


def rule_builder_edit(world: World) -> None:
    page = world.page("marketing", f"/mql/{world.ids['draft']}/edit/")
    page.route("**/builder/", lambda route: route.abort())
    button = page.locator("#rb-add-rule")
    button.click()
    _said_in(button.locator(".."), NETWORK_DOWN)


def definition_comment(world: World) -> None:
    page = world.page("sales", f"/mql/{world.ids['draft']}/")
    page.locator("#comments textarea").fill("   ")  # passes the browser's "required", not ours
    page.locator("#comments button:has-text('Add comment')").click()
    _said_in(page.locator("#comments"), "This field is required.")


def _draft_page(world: World, who: str = "marketing"):
    page = world.page(who, f"/sla/versions/{world.ids['sla_draft']}/")
    return page


def version_edit(world: World) -> None:
    page = _draft_page(world)
    page.click("summary:has-text('Edit details')")
    effective = page.input_value("#id_effective_at")
    page.fill("#id_review_date", "2001-01-01")
    page.click("button:has-text('Save details')")
    field = page.locator("#id_review_date").locator("..")
    _said_in(field, "The review date comes before the effective date")
    assert page.input_value("#id_effective_at") == effective


def commitment_edit(world: World) -> None:
    page = _draft_page(world)
    item = page.locator(".commitment-item").filter(has_text="first contact").first
    sentence = item.locator(".commitment-summary p").inner_text()
    item.locator("summary:has-text('Edit')").click()
    form = item.locator("form.sla-commitment-form")
    form.locator("input[name$='-target']").fill("85")
    form.locator("input[name$='-yellow_threshold']").fill("95")
    form.locator("button:has-text('Save')").click()
    item_id = item.get_attribute("id")
    field = page.locator(f"#{item_id} input[name$='-yellow_threshold']").locator("..")
    _said_in(field, "yellow threshold must not be above the target")
    assert page.locator(f"#{item_id} .commitment-summary p").inner_text() == sentence


def commitment_add(world: World) -> None:
    page = _draft_page(world)
    page.click("summary:has-text('Add a commitment')")
    form = page.locator("form[action$='/commitments/']")
    form.locator("button:has-text('Add commitment')").click()
    target = page.locator("input[name=new-target]").locator("..")
    _said_in(target, "This field is required.")


def _stale(world: World, kind: str) -> None:
    """Removed in another tab first: this tab's Remove says it is gone."""
    first = _draft_page(world)
    second = _draft_page(world)
    if kind == "commitment":
        pick = lambda page: page.locator(".commitment-item").last  # noqa: E731 - a local selector
    else:
        pick = lambda page: page.locator("#escalation-title").locator("..").locator("li").first  # noqa: E731
    pick(second).locator("button:has-text('Remove')").click()
    second.wait_for_load_state("networkidle")
    button = pick(first).locator("button:has-text('Remove')")
    button.click()
    _said_in(button.locator(".."), STALE)


def commitment_remove(world: World) -> None:
    _stale(world, "commitment")


def escalation_remove(world: World) -> None:
    _stale(world, "escalation")


def escalation_add(world: World) -> None:
    page = _draft_page(world)
    page.click("summary:has-text('Add an escalation rule')")
    page.fill("input[name=esc-threshold]", "")
    page.click("button:has-text('Add rule')")
    _said_in(page.locator("input[name=esc-threshold]").locator(".."), "This field is required.")


SCENARIOS = {
    "accounts/user_list.html:accounts:user_edit": user_row,
    "compliance/notification_list.html:compliance:notification_read": notification_read,
    "dashboards/_subscription.html:dashboards:report_subscription": report_subscription,
    "dispositions/queue.html:dispositions:disposition_bulk": bulk,
    "dispositions/queue.html:dispositions:lead_reassign": reassign,
    "dispositions/queue.html:dispositions:touch_create": touch,
    "dispositions/queue.html:dispositions:disposition_create": disposition_in_queue,
    "dispositions/queue.html:dispositions:disposition_undo": undo,
    "dispositions/_lead_panel.html:dispositions:touch_create": touch_in_panel,
    "dispositions/_lead_panel.html:dispositions:disposition_create": disposition_in_panel,
    "dispositions/reason_codes.html:dispositions:reason_code_rename": reason_rename,
    "dispositions/reason_codes.html:dispositions:reason_code_move": reason_move,
    "dispositions/reason_codes.html:dispositions:reason_code_retire": reason_retire,
    "dispositions/reason_codes.html:dispositions:reason_code_restore": reason_restore,
    "mql/definition_edit.html:mql:definition_edit": rule_builder_save,
    "mql/definition_edit.html:mql:definition_builder": rule_builder_edit,
    "mql/_builder_group.html:mql:definition_builder": rule_builder_edit,
    "mql/definition_detail.html:mql:definition_comment": definition_comment,
    "sla/version_detail.html:sla:version_edit": version_edit,
    "sla/version_detail.html:sla:commitment_edit": commitment_edit,
    "sla/version_detail.html:sla:commitment_add": commitment_add,
    "sla/version_detail.html:sla:commitment_remove": commitment_remove,
    "sla/version_detail.html:sla:escalation_add": escalation_add,
    "sla/version_detail.html:sla:escalation_remove": escalation_remove,
}


def test_every_htmx_form_has_a_refusal_scenario():
    assert discovered_forms() == set(SCENARIOS), (
        "a new htmx form needs a scenario here (and the pattern: a 4xx fragment with its "
        "message next to the control, see static/js/requests.js)"
    )
    base = (TEMPLATES / "base.html").read_text()
    assert "js/requests.js" in base
    # One pattern for the whole app: no page configures htmx's error handling on its own.
    assert not [p for p in TEMPLATES.rglob("*.html") if "htmx-config" in p.read_text()]


def _ids(subdomain: str) -> dict:
    from apps.accounts.models import User
    from apps.leads.models import Lead
    from apps.mql.models import MqlDefinition
    from apps.sla.models import SlaVersion, VersionStatus

    with schema_context(demo_schema(subdomain)):
        people = {u.email.split("@")[0]: u for u in User.objects.all()}
        signed = SlaVersion.objects.filter(status=VersionStatus.ACTIVE).order_by("-number").first()
        return {
            "admin": people["admin"].pk,
            "cro": people["cro"].pk,
            "rep1_lead": Lead.objects.open_mqls().filter(owner=people["rep1"]).first().pk,
            "draft": MqlDefinition.objects.filter(status="draft").order_by("-version").first().pk,
            "signed": signed.pk,
        }


def test_every_htmx_form_refuses_in_place(db, demo_org, demo_site):
    ids = _ids(demo_org.subdomain)
    with chromium() as browser:
        world = World(browser=browser, base=demo_site, ids=ids)
        # A fresh SLA draft to refuse edits on (an amendment of the version in force).
        page = world.page("marketing", f"/sla/versions/{ids['signed']}/")
        page.click("button:has-text('Draft an amendment')")
        page.wait_for_url(re.compile(r"/sla/versions/\d+/$"))
        ids["sla_draft"] = int(page.url.rstrip("/").rsplit("/", 1)[1])
        page.context.close()
        failed = []
        for key, scenario in SCENARIOS.items():
            if key.startswith("mql/_builder_group.html"):
                continue  # the same builder edits as definition_edit.html's, checked there
            try:
                scenario(world)
            except Exception as error:  # collect them all: one run says every broken form
                failed.append(f"{key}: {error}")
            finally:
                for context in list(browser.contexts):
                    if context.pages:
                        screenshot(context.pages[-1], f"htmx-{scenario.__name__}")
                    context.close()
    assert failed == []
