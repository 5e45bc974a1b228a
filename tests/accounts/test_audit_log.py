"""The audit log: leaders' and admins' changes appear in words, filterable, paged, exportable."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import AuditEvent
from apps.accounts.services import audit_record, user_update
from apps.dispositions import services as dispositions
from apps.handoff import channels
from apps.mql import services as mql
from apps.sla import services as sla
from tests.dispositions import factories as df
from tests.sla import factories as f

PASSWORD = "correct-horse-battery-9"  # tests/accounts/factories.UserFactory's


@pytest.fixture
def signed_off(make_user):
    """The marketing and sales leaders draft, submit and sign an SLA; the sales leader manages
    reason codes; the marketing leader drafts, comments on and publishes a definition."""
    f.definition(status="published", version=1)
    marketing, sales = make_user("marketing_leader"), make_user("sales_leader")
    version = sla.version_create(actor=marketing, template_key="sample_sla")
    sla.version_submit(version=version, actor=marketing)
    sla.version_sign(
        version=version, actor=sales, password=PASSWORD, content_hash=version.content_hash
    )
    sla.version_sign(
        version=version, actor=marketing, password=PASSWORD, content_hash=version.content_hash
    )
    code = dispositions.reason_code_create(label="Wrong country", outcome="rejected", actor=sales)
    dispositions.reason_code_rename(reason_code=code, label="Outside our regions", actor=sales)
    dispositions.reason_code_retire(reason_code=code, actor=sales)
    draft = mql.definition_draft_create(kind="mql", name="Tighter", based_on=None, actor=marketing)
    mql.definition_comment_add(definition=draft, author=sales, body="=HYPERLINK(evil)")
    return marketing, sales, version


def _codes(**filters):
    return list(AuditEvent.objects.filter(**filters).values_list("action", flat=True))


def test_sign_offs_reason_codes_and_definitions_are_in_the_log(acme, signed_off):
    marketing, sales, _version = signed_off
    assert {"sla.created", "sla.submitted", "sla.signed", "sla.activated"} <= set(
        _codes(action__startswith="sla.")
    )
    assert _codes(actor=sales, action="sla.signed") == ["sla.signed"]
    assert _codes(actor=marketing, action="sla.signed") == ["sla.signed"]
    assert set(_codes(actor=sales, action__startswith="reason_code.")) == {
        "reason_code.created",
        "reason_code.renamed",
        "reason_code.retired",
    }
    assert set(_codes(action__startswith="mql.")) >= {"mql.draft_created", "mql.commented"}


def test_the_page_reads_in_words_with_the_zone(client_as, signed_off):
    _marketing, _sales, version = signed_off
    html = client_as("admin").get(reverse("accounts:audit_log")).content.decode()
    assert f"Signed SLA v{version.number}" in html
    assert "Renamed the reason “Wrong country” to “Outside our regions”" in html
    assert "Retired the reason “Outside our regions”" in html
    # Codes and Python dicts never reach the page; times carry their zone.
    assert "reason_code.renamed" not in html.replace('data-action="reason_code.renamed"', "")
    assert "{'" not in html and "UTC" in html


def test_filters_by_person_kind_days_and_words(client_as, signed_off):
    _marketing, sales, _version = signed_off
    admin = client_as("admin")
    url = reverse("accounts:audit_log")
    by_sales = admin.get(url, {"person": sales.pk}).context["rows"]
    assert by_sales and {row["event"].actor_id for row in by_sales} == {sales.pk}
    codes = admin.get(url, {"kind": "feedback"}).context["rows"]
    assert {row["event"].action.split(".")[0] for row in codes} == {"reason_code"}
    found = admin.get(url, {"q": "regions"}).context["rows"]
    assert found and all("regions" in row["sentence"].lower() for row in found)
    today = timezone.localdate()
    assert admin.get(url, {"since": today, "until": today}).context["page"].paginator.count > 5
    earlier = today - timedelta(days=3)
    assert admin.get(url, {"until": earlier}).context["page"].paginator.count == 0
    refused = admin.get(url, {"since": today, "until": earlier})
    assert "The last day comes before the first." in refused.content.decode()


def test_pages_of_fifty_newest_first(client_as, acme):
    admin = client_as("admin")
    for n in range(120):
        audit_record(
            actor=admin.user, action="spend.set", target=f"channel-{n:03} 2026-01", amount="1"
        )
    first = admin.get(reverse("accounts:audit_log"), {"kind": "spend"})
    assert first.context["page"].paginator.count == 120
    assert len(first.context["rows"]) == 50
    assert "channel-119" in first.content.decode() and "Older →" in first.content.decode()
    last = admin.get(reverse("accounts:audit_log"), {"kind": "spend", "page": 3})
    assert len(last.context["rows"]) == 20 and "channel-000" in last.content.decode()


def test_csv_export_is_filtered_zoned_and_formula_safe(client_as, signed_off):
    response = client_as("admin").get(
        reverse("accounts:audit_log"), {"kind": "mql", "format": "csv"}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["when", "time zone", "who", "kind", "what", "details", "code"]
    assert {row[6].split(".")[0] for row in rows[1:]} == {"mql"}
    comment = next(row for row in rows[1:] if row[6] == "mql.commented")
    # The comment's text starts with "=": a spreadsheet must read it as text.
    assert "Comment: =HYPERLINK" in comment[5] and not comment[5].startswith("=")
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_a_refused_role_change_is_not_logged_and_a_done_one_is(acme, make_user):
    admin = make_user("admin")
    rep = make_user("rep")
    user_update(user=rep, actor=admin, role="sales_leader")
    event = AuditEvent.objects.get(action="user.role_changed")
    assert (event.actor, event.target, event.detail) == (
        admin,
        rep.email,
        {"old": "rep", "new": "sales_leader"},
    )


def test_a_leaders_disposition_and_an_undo_are_logged(acme, make_user):
    sales = make_user("sales_leader")
    rep = make_user("rep")
    code = df.reason_code("Budget (audit)")
    lead = df.mql_lead(owner=rep, mql_at=timezone.now() - timedelta(minutes=5))
    given = channels.disposition_create(
        lead=lead, outcome="rejected", reason_code=code, actor=sales
    )
    channels.disposition_undo(disposition=given, actor=sales)
    assert _codes(actor=sales) == ["disposition.undone", "disposition.given"]


def test_only_admins_read_the_log(client_as):
    for role in ("executive", "marketing_leader", "sales_leader", "marketer", "rep"):
        assert client_as(role).get(reverse("accounts:audit_log")).status_code == 403
