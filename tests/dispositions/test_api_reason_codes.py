"""The reason-code picklist by API: list with filters, add, rename, reorder, retire and restore,
for sales leaders and admins, through the same services (and rules) as the settings page."""

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import AuditEvent
from apps.dispositions.models import Disposition, Outcome, ReasonCode
from apps.dispositions.provisioning import DEFAULT_REASON_CODES
from tests.dispositions import factories as f

pytestmark = pytest.mark.django_db

LIST = reverse("api:dispositions:reason_code_list")
REORDER = reverse("api:dispositions:reason_code_reorder")
EDITORS = ["sales_leader", "admin"]
NOT_EDITORS = ["rep", "marketer", "marketing_leader", "executive", "integration"]


def detail(code) -> str:
    return reverse("api:dispositions:reason_code_detail", kwargs={"pk": code.pk})


def action(code, verb: str) -> str:
    return reverse(f"api:dispositions:reason_code_{verb}", kwargs={"pk": code.pk})


def post(client, url, payload=None):
    return client.post(url, payload or {}, content_type="application/json")


def patch(client, url, payload):
    return client.patch(url, payload, content_type="application/json")


def _live_ids(outcome: str) -> list[int]:
    return list(
        ReasonCode.objects.filter(outcome=outcome, retired_at__isnull=True)
        .order_by("position", "id")
        .values_list("pk", flat=True)
    )


# --- the seeded picklist -----------------------------------------------------------


def test_the_seed_offers_timeline_and_unresponsive_for_rejections_too(api_as):
    body = api_as("integration").get(LIST, {"active": "true"}).json()
    seeded = {(row["label"], row["outcome"]) for row in body["results"]}
    assert {(label, outcome.value) for label, outcome in DEFAULT_REASON_CODES} <= seeded
    for label in ("Timeline too long", "Unresponsive after multiple touches"):
        assert {(label, "rejected"), (label, "nurture")} <= seeded


def test_a_rejection_with_the_seeded_timeline_reason_is_accepted(api_as):
    rep_api = api_as("rep")
    f.mql_lead(owner=rep_api.user, external_id="seed-1", mql_at=timezone.now())
    response = post(
        rep_api,
        reverse("api:dispositions:disposition_create"),
        {"lead": "seed-1", "outcome": "rejected", "reason_code": "Timeline too long"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["reason_code"]["outcome"] == "rejected"


# --- list ---------------------------------------------------------------------------


def test_list_filters_by_outcome_and_state_and_counts_uses(api_as):
    kept = f.reason_code("Kept (api)", Outcome.NURTURE)
    retired = f.reason_code("Gone (api)", Outcome.NURTURE, retired_at=timezone.now())
    lead = f.mql_lead(owner=None, mql_at=timezone.now())
    Disposition.objects.create(
        lead=lead, outcome="nurture", reason_code=kept, occurred_at=timezone.now()
    )
    api = api_as("marketer")

    nurture = api.get(LIST, {"outcome": "nurture"}).json()
    assert {row["outcome"] for row in nurture["results"]} == {"nurture"}
    by_label = {row["label"]: row for row in nurture["results"]}
    assert by_label["Kept (api)"]["uses"] == 1 and by_label["Kept (api)"]["is_active"]
    assert by_label["Gone (api)"]["is_active"] is False

    live = api.get(LIST, {"active": "true"}).json()["results"]
    assert retired.pk not in {row["id"] for row in live}
    gone = api.get(LIST, {"active": "false"}).json()["results"]
    assert [row["id"] for row in gone] == [retired.pk]


def test_list_refuses_an_unknown_outcome_naming_the_parameter(api_as):
    response = api_as("rep").get(LIST, {"outcome": "accepted"})
    assert response.status_code == 400 and "outcome" in response.json()


# --- add --------------------------------------------------------------------------


@pytest.mark.parametrize("role", EDITORS)
def test_editors_add_a_code_at_the_end_of_its_outcome(api_as, role):
    api = api_as(role)
    response = post(api, LIST, {"label": "  Wrong   region ", "outcome": "rejected"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["label"] == "Wrong region" and body["outcome"] == "rejected"
    assert body["is_active"] and body["uses"] == 0
    assert _live_ids("rejected")[-1] == body["id"]
    event = AuditEvent.objects.get(action="reason_code.created", target="Wrong region")
    assert event.actor == api.user


@pytest.mark.parametrize("role", NOT_EDITORS)
def test_other_roles_cannot_add_codes(api_as, role):
    response = post(api_as(role), LIST, {"label": "Mine", "outcome": "rejected"})
    assert response.status_code == 403
    assert not ReasonCode.objects.filter(label="Mine").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"outcome": "rejected"}, "label"),
        ({"label": "   ", "outcome": "rejected"}, "label"),
        ({"label": "x" * 121, "outcome": "rejected"}, "label"),
        ({"label": "Fine"}, "outcome"),
        ({"label": "Fine", "outcome": "accepted"}, "outcome"),
        ({"label": "Not a decision-maker", "outcome": "rejected"}, "label"),  # exists
        ({"label": "not a DECISION-maker", "outcome": "rejected"}, "label"),  # any case
    ],
)
def test_add_refuses_bad_input_naming_the_field(api_as, payload, field):
    before = ReasonCode.objects.count()
    response = post(api_as("sales_leader"), LIST, payload)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert ReasonCode.objects.count() == before


def test_the_same_label_may_exist_for_the_other_outcome(api_as):
    response = post(api_as("sales_leader"), LIST, {"label": "Went dark", "outcome": "nurture"})
    assert response.status_code == 201
    response = post(api_as("sales_leader"), LIST, {"label": "Went dark", "outcome": "rejected"})
    assert response.status_code == 201


# --- read and rename ----------------------------------------------------------------


def test_rename_keeps_the_code_on_old_dispositions(api_as):
    code = f.reason_code("Old name (api)", Outcome.REJECTED)
    lead = f.mql_lead(owner=None, mql_at=timezone.now())
    old = Disposition.objects.create(
        lead=lead, outcome="rejected", reason_code=code, occurred_at=timezone.now()
    )
    api = api_as("sales_leader")
    response = patch(api, detail(code), {"label": "New name (api)"})
    assert response.status_code == 200, response.content
    assert response.json()["label"] == "New name (api)" and response.json()["uses"] == 1
    old.refresh_from_db()
    assert old.reason_code.label == "New name (api)"
    assert api_as("rep").get(detail(code)).json()["label"] == "New name (api)"
    event = AuditEvent.objects.get(action="reason_code.renamed")
    assert event.detail["before"] == "Old name (api)"


def test_rename_refuses_a_clash_and_a_blank_name(api_as):
    code = f.reason_code("Mine (api)", Outcome.REJECTED)
    api = api_as("admin")
    clash = patch(api, detail(code), {"label": "Chose a competitor"})
    assert clash.status_code == 400 and "label" in clash.json()
    blank = patch(api, detail(code), {"label": ""})
    assert blank.status_code == 400 and "label" in blank.json()
    code.refresh_from_db()
    assert code.label == "Mine (api)"


@pytest.mark.parametrize("role", NOT_EDITORS)
def test_other_roles_read_but_do_not_rename(api_as, role):
    code = f.reason_code("Read only (api)", Outcome.REJECTED)
    api = api_as(role)
    assert api.get(detail(code)).status_code == 200
    assert patch(api, detail(code), {"label": "Hijacked"}).status_code == 403
    code.refresh_from_db()
    assert code.label == "Read only (api)"


def test_an_unknown_code_is_404(api_as):
    missing = reverse("api:dispositions:reason_code_detail", kwargs={"pk": 987654})
    api = api_as("sales_leader")
    assert api.get(missing).status_code == 404
    assert patch(api, missing, {"label": "x"}).status_code == 404
    retire = reverse("api:dispositions:reason_code_retire", kwargs={"pk": 987654})
    assert post(api, retire).status_code == 404


# --- reorder ------------------------------------------------------------------------


def test_reorder_sets_the_order_the_forms_offer(api_as):
    ids = _live_ids("nurture")
    api = api_as("sales_leader")
    response = post(api, REORDER, {"outcome": "nurture", "ordered_ids": ids[::-1]})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["outcome"] == "nurture"
    assert [row["id"] for row in body["reason_codes"]] == ids[::-1]
    assert [row["position"] for row in body["reason_codes"]] == list(range(len(ids)))
    assert _live_ids("nurture") == ids[::-1]
    assert AuditEvent.objects.filter(action="reason_code.reordered", target="nurture").exists()


@pytest.mark.parametrize(
    "change",
    [
        lambda ids: ids[:-1],  # one missing
        lambda ids: [*ids, ids[0]],  # one twice
        lambda ids: [*ids, 999999],  # one unknown
    ],
)
def test_reorder_with_a_stale_list_is_a_conflict_naming_the_field(api_as, change):
    ids = _live_ids("rejected")
    response = post(api_as("admin"), REORDER, {"outcome": "rejected", "ordered_ids": change(ids)})
    assert response.status_code == 409
    assert "ordered_ids" in response.json()
    assert _live_ids("rejected") == ids


def test_reorder_validates_its_input(api_as):
    api = api_as("admin")
    no_outcome = post(api, REORDER, {"ordered_ids": [1]})
    assert no_outcome.status_code == 400 and "outcome" in no_outcome.json()
    not_ids = post(api, REORDER, {"outcome": "nurture", "ordered_ids": ["a"]})
    assert not_ids.status_code == 400 and "ordered_ids" in not_ids.json()
    assert (
        post(api_as("rep"), REORDER, {"outcome": "nurture", "ordered_ids": []}).status_code == 403
    )


# --- retire and restore -------------------------------------------------------------


def test_retire_and_restore(api_as):
    code = f.reason_code("Seasonal (api)", Outcome.REJECTED, position=0)
    api = api_as("sales_leader")

    retired = post(api, action(code, "retire"))
    assert retired.status_code == 200 and retired.json()["is_active"] is False
    assert retired.json()["retired_at"] is not None
    assert code.pk not in _live_ids("rejected")
    again = post(api, action(code, "retire"))  # idempotent
    assert again.status_code == 200 and again.json()["retired_at"] == retired.json()["retired_at"]

    restored = post(api, action(code, "restore"))
    assert restored.status_code == 200 and restored.json()["is_active"] is True
    assert _live_ids("rejected")[-1] == code.pk  # back at the end of its list
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"reason_code.retired", "reason_code.restored"} <= actions


def test_a_retired_code_is_refused_for_new_dispositions(api_as):
    code = f.reason_code("Retire me (api)", Outcome.REJECTED)
    post(api_as("admin"), action(code, "retire"))
    rep_api = api_as("rep")
    f.mql_lead(owner=rep_api.user, external_id="retired-1", mql_at=timezone.now())
    response = post(
        rep_api,
        reverse("api:dispositions:disposition_create"),
        {"lead": "retired-1", "outcome": "rejected", "reason_code": code.pk},
    )
    assert response.status_code == 400 and "reason_code" in response.json()


def test_restore_refuses_when_a_live_code_took_the_name(api_as):
    code = f.reason_code("Taken (api)", Outcome.NURTURE, retired_at=timezone.now())
    f.reason_code("Taken (api)", Outcome.NURTURE)
    response = post(api_as("admin"), action(code, "restore"))
    assert response.status_code == 400 and "label" in response.json()


@pytest.mark.parametrize("role", NOT_EDITORS)
def test_other_roles_cannot_retire_restore_or_reorder(api_as, role):
    code = f.reason_code("Protected (api)", Outcome.REJECTED)
    api = api_as(role)
    assert post(api, action(code, "retire")).status_code == 403
    assert post(api, action(code, "restore")).status_code == 403
    assert (
        post(
            api, REORDER, {"outcome": "rejected", "ordered_ids": _live_ids("rejected")}
        ).status_code
        == 403
    )
    code.refresh_from_db()
    assert code.retired_at is None


# --- tenant isolation ---------------------------------------------------------------


def test_another_organizations_codes_are_invisible_and_untouchable(api_as, globex):
    with schema_context(globex.schema_name):
        theirs = ReasonCode.objects.create(label="Globex only (api)", outcome="rejected")
    api = api_as("sales_leader")
    labels = {row["label"] for row in api.get(LIST).json()["results"]}
    assert "Globex only (api)" not in labels

    seen = api.get(detail(theirs))
    assert seen.status_code == 404 or seen.json()["label"] != "Globex only (api)"
    patch(api, detail(theirs), {"label": "Renamed from acme"})
    post(api, action(theirs, "retire"))
    with schema_context(globex.schema_name):
        theirs.refresh_from_db()
        assert theirs.label == "Globex only (api)" and theirs.retired_at is None
