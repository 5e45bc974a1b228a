"""Ingestion services: upserts, idempotent activities, per-item errors, stage moves, the seams."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.accounts.exceptions import DomainError
from apps.handoff import channels
from apps.leads.models import Activity, Assignment, Lead, StageChange
from apps.leads.services import rows_update
from apps.mql.services import Qualified
from tests.leads.factories import LeadFactory

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def seams(monkeypatch):
    """Record what the ingestion channels hand to the MQL engine and the SLA clocks."""
    calls = {"qualify": [], "clocks": []}
    monkeypatch.setattr(
        "apps.mql.services.leads_qualify",
        lambda *, lead_ids, now=None, **_: calls["qualify"].append(sorted(lead_ids)) or Qualified(),
    )

    def clocks_sync(*, lead_ids, now=None):
        if lead_ids:
            calls["clocks"].append(sorted(lead_ids))
        return 0

    monkeypatch.setattr("apps.sla.clocks.clocks_sync", clocks_sync)
    return calls


def upsert(*items, channel="api", actor=None):
    return channels.leads_upsert(items=list(items), channel=channel, actor=actor)


def ingest(*items, channel="api", actor=None):
    return channels.activities_ingest(items=list(items), channel=channel, actor=actor)


def activity(external_id, lead="L1", kind="page_view", at=T0, **extra):
    return {
        "external_id": external_id,
        "lead": lead,
        "kind": kind,
        "occurred_at": at.isoformat(),
        **extra,
    }


def test_upsert_creates_updates_and_reports_unchanged(acme, seams):
    first = upsert(
        {"external_id": "L1", "email": "ana@example.com", "company_size": 40, "country": "FR"},
        {"external_id": "L2", "company": "Globex"},
    )
    assert (first.created, first.updated, first.unchanged, first.rejected) == (2, 0, 0, 0)
    l1 = Lead.objects.get(external_id="L1")
    assert l1.region == "EMEA"  # derived from the country when none is given
    assert l1.fields_changed_at is None  # a creation is not a change of fields

    second = upsert(
        {"external_id": "L1", "company_size": 400},  # partial: the email stays
        {"external_id": "L2", "company": "Globex"},
    )
    assert (second.created, second.updated, second.unchanged) == (0, 1, 1)
    l1.refresh_from_db()
    assert l1.email == "ana@example.com" and l1.company_size == 400
    assert l1.fields_changed_at is not None
    assert seams["qualify"] == [sorted(first.lead_ids), [l1.pk]]
    assert second.lead_ids == [l1.pk]
    assert seams["clocks"] == []


def test_properties_merge_key_by_key(acme, seams):
    upsert({"external_id": "L1", "properties": {"a": 1, "b": 2}})
    upsert({"external_id": "L1", "properties": {"b": 3, "c": 4}})
    assert Lead.objects.get(external_id="L1").properties == {"a": 1, "b": 3, "c": 4}


def test_partial_success_reports_rejected_items_by_index(acme, seams):
    result = upsert(
        {"external_id": "ok-1"},
        {"external_id": "bad", "email": "nope"},
        "not an object",
        {"external_id": "ok-1", "company": "again"},
        {"external_id": "ok-2", "stage": "mql"},
    )
    assert result.created == 1
    assert result.rejected == 4
    assert [e["index"] for e in result.errors] == [1, 2, 3, 4]
    assert "email" in result.errors[0]["errors"]
    assert "non_field_errors" in result.errors[1]["errors"]
    assert "more than once" in result.errors[2]["errors"]["external_id"][0]
    assert "stage" in result.errors[3]["errors"]
    assert list(Lead.objects.values_list("external_id", flat=True)) == ["ok-1"]


def test_owner_by_email_records_an_assignment(acme, seams, make_user):
    rep = make_user("rep", email="rep.one@acme.test")
    gone = make_user("rep", email="gone@acme.test", is_active=False)
    result = upsert(
        {"external_id": "L1", "owner": "Rep.One@acme.test"},
        {"external_id": "L2", "owner": "stranger@acme.test"},
        {"external_id": "L3", "owner": gone.email},
        actor=rep,
    )
    assert result.created == 1 and result.rejected == 2
    assert "not a user" in result.errors[0]["errors"]["owner"][0]
    assert "deactivated" in result.errors[1]["errors"]["owner"][0]
    lead = Lead.objects.get(external_id="L1")
    assert lead.owner == rep and lead.assigned_at is not None
    assignment = Assignment.objects.get(lead=lead)
    assert assignment.owner == rep and assignment.reason == "Owner set through api"


def test_opportunity_stage_moves_are_stamped_and_kept_in_history(acme, seams, make_user):
    leader = make_user("sales_leader")
    upsert({"external_id": "L1", "created_at": "2025-01-01T00:00:00Z"})
    upsert(
        {
            "external_id": "L1",
            "stage": "opportunity",
            "amount": "42000",
            "expected_close": "2025-06-30",
            "stage_changed_at": "2025-02-01T10:00:00+00:00",
        },
        actor=leader,
    )
    upsert({"external_id": "L1", "stage": "won", "stage_changed_at": "2025-04-01T10:00:00Z"})
    lead = Lead.objects.get(external_id="L1")
    assert lead.stage == "won"
    assert lead.amount == Decimal("42000.00")
    assert lead.opportunity_at == datetime(2025, 2, 1, 10, tzinfo=UTC)
    assert lead.closed_at == datetime(2025, 4, 1, 10, tzinfo=UTC)
    history = list(
        StageChange.objects.filter(lead=lead).values_list(
            "from_stage", "to_stage", "channel", "actor"
        )
    )
    assert history == [
        ("lead", "opportunity", "api", leader.pk),
        ("opportunity", "won", "api", None),
    ]


def test_an_older_stage_move_arriving_late_does_not_send_the_lead_back(acme, seams):
    upsert({"external_id": "L1", "created_at": "2025-01-01T00:00:00Z"})
    upsert({"external_id": "L1", "stage": "won", "stage_changed_at": "2025-04-01T00:00:00Z"})
    late = upsert(
        {"external_id": "L1", "stage": "opportunity", "stage_changed_at": "2025-03-01T00:00:00Z"}
    )
    assert late.unchanged == 1
    assert Lead.objects.get(external_id="L1").stage == "won"


def test_stage_move_without_a_time_is_stamped_now(acme, seams):
    before = timezone.now()
    upsert({"external_id": "L1", "stage": "sql"})
    lead = Lead.objects.get(external_id="L1")
    assert lead.stage == "sql" and lead.sql_at >= before


def test_unknown_channel_is_refused(acme):
    with pytest.raises(DomainError) as exc:
        upsert({"external_id": "L1"}, channel="fax")
    assert exc.value.field == "channel"


# --- activities --------------------------------------------------------------------------


def test_same_batch_twice_changes_nothing(acme, seams):
    LeadFactory(external_id="L1")
    batch = [activity("a1"), activity("a2", kind="email_click")]
    first = ingest(*batch)
    stored = list(Activity.objects.order_by("pk").values())
    second = ingest(*batch)
    assert (first.created, first.unchanged) == (2, 0)
    assert (second.created, second.updated, second.unchanged, second.rejected) == (0, 0, 2, 0)
    assert list(Activity.objects.order_by("pk").values()) == stored
    assert second.lead_ids == []
    assert len(seams["qualify"]) == 1  # nothing new: nothing to re-evaluate


def test_same_activity_in_two_batches_and_twice_in_one(acme, seams):
    LeadFactory(external_id="L1")
    ingest(activity("a1"), activity("a1"))
    again = ingest(activity("a1", at=T0 + timedelta(hours=1)), activity("a2"))
    assert again.created == 1 and again.unchanged == 1
    assert Activity.objects.get(external_id="a1").occurred_at == T0  # the stored fact is kept
    assert Activity.objects.count() == 2


def test_out_of_order_arrival_is_stored_by_when_it_happened(acme, seams):
    lead = LeadFactory(external_id="L1")
    ingest(activity("late", at=T0 + timedelta(days=2)))
    ingest(activity("early", at=T0), activity("middle", at=T0 + timedelta(days=1)))
    assert list(Activity.objects.filter(lead=lead).values_list("external_id", flat=True)) == [
        "early",
        "middle",
        "late",
    ]
    assert seams["qualify"] == [[lead.pk], [lead.pk]]  # re-evaluated with the back-filled facts


def test_unknown_lead_and_unknown_actor_are_item_errors(acme, seams, make_user):
    rep = make_user("rep")
    LeadFactory(external_id="L1")
    result = ingest(
        activity("a1", lead="nobody"),
        activity("a2", kind="call", actor="ghost@acme.test"),
        activity("a3", kind="call", actor=rep.email),
        activity("a4", kind="teleport"),
    )
    assert result.created == 1 and result.rejected == 3
    errors = {e["index"]: e["errors"] for e in result.errors}
    assert "Unknown lead" in errors[0]["lead"][0]
    assert "not a user" in errors[1]["actor"][0]
    assert "kind" in errors[3]
    touch = Activity.objects.get(external_id="a3")
    assert touch.actor == rep and touch.family == "sales_touch"
    assert not Lead.objects.filter(external_id="nobody").exists()  # activities never create leads


def test_families_and_the_seams(acme, seams, make_user):
    rep = make_user("rep")
    l1, l2 = LeadFactory(external_id="L1"), LeadFactory(external_id="L2")
    ingest(activity("e1", lead="L1"), activity("t1", lead="L2", kind="meeting", actor=rep.email))
    assert Activity.objects.get(external_id="e1").family == "engagement"
    assert seams["qualify"] == [sorted([l1.pk, l2.pk])]
    assert seams["clocks"] == [[l2.pk]]  # only leads that got a sales touch


def test_touch_log(acme, seams, make_user):
    rep = make_user("rep")
    lead = LeadFactory()
    touch = channels.touch_log(lead=lead, kind="call", actor=rep, note="Left a voicemail")
    assert touch.actor == rep and touch.family == "sales_touch" and touch.note == "Left a voicemail"
    assert touch.external_id.startswith("ui-")
    assert seams["clocks"] == [[lead.pk]]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "page_view"}, "kind"),
        ({"kind": "call", "occurred_at": "future"}, "occurred_at"),
        ({"kind": "call", "actor": None}, "actor"),
    ],
)
def test_touch_log_refusals_name_the_field(acme, seams, make_user, kwargs, field):
    rep = make_user("rep")
    lead = LeadFactory()
    if kwargs.get("occurred_at") == "future":
        kwargs["occurred_at"] = timezone.now() + timedelta(minutes=2)
    kwargs.setdefault("actor", rep)
    with pytest.raises(DomainError) as exc:
        channels.touch_log(lead=lead, **kwargs)
    assert exc.value.field == field
    assert not Activity.objects.exists()


# --- bounded queries -------------------------------------------------------------------------

# leads_qualify and clocks_sync are replaced by recorders (the `seams` fixture): these counts
# measure the ingestion itself, whatever the batch size (the hand-off that follows is counted
# in tests/handoff/test_pipeline.py). django-tenants may first send `SET search_path`.
# Upsert: 2 savepoints (channel, store), advisory lock, select for update, owner lookup,
# insert, update, stage update, stage history, assignments, 2 releases = 12 statements.
# Activities: 2 savepoints, lead lookup, actor lookup, one INSERT … ON CONFLICT, 2 releases = 7.
# Both then refresh the touched leads' MQL-event facts (compliance/facts.py: a DELETE and an
# upsert; 2 more when first touches arrive) = 2.
FACTS_REFRESH_QUERIES = 2
UPSERT_MAX_QUERIES = 12 + FACTS_REFRESH_QUERIES + 1
INGEST_MAX_QUERIES = 7 + FACTS_REFRESH_QUERIES + 1


def test_upsert_of_1000_leads_takes_a_fixed_number_of_queries(
    acme, seams, make_user, django_assert_max_num_queries
):
    rep = make_user("rep")
    upsert(*[{"external_id": f"L{i}"} for i in range(500)])
    items = [
        {
            "external_id": f"L{i}",
            "email": f"p{i}@example.com",
            "company_size": i,
            "country": "DE",
            "owner": rep.email,
            "stage": "sql" if i % 2 else "lead",
        }
        for i in range(1000)
    ]
    with django_assert_max_num_queries(UPSERT_MAX_QUERIES):
        result = upsert(*items)
    assert (result.created, result.updated) == (500, 500)
    assert Lead.objects.filter(owner=rep).count() == 1000
    assert StageChange.objects.count() == 500


def test_ingest_of_1000_activities_takes_a_fixed_number_of_queries(
    acme, seams, make_user, django_assert_max_num_queries
):
    rep = make_user("rep")
    upsert(*[{"external_id": f"L{i}"} for i in range(100)])
    items = [
        activity(
            f"a{i}",
            lead=f"L{i % 100}",
            kind="call" if i % 3 == 0 else "page_view",
            at=T0 + timedelta(minutes=i),
            **({"actor": rep.email} if i % 3 == 0 else {}),
        )
        for i in range(1000)
    ]
    with django_assert_max_num_queries(INGEST_MAX_QUERIES):
        result = ingest(*items)
    assert result.created == 1000
    with django_assert_max_num_queries(INGEST_MAX_QUERIES):
        assert ingest(*items).unchanged == 1000


def test_rows_update_keeps_every_value_exactly(acme):
    """The batch update's JSON document carries microseconds, decimals, JSON and NULLs as
    they are, and leaves the rows it was not given alone."""
    first, second, untouched = LeadFactory(), LeadFactory(), LeadFactory(annual_revenue=5)
    moment = datetime(2025, 3, 3, 9, 0, 0, 123456, tzinfo=UTC)
    first.assigned_at, first.annual_revenue = moment, Decimal("1234567.89")
    first.properties = {"plan": "pro", "seats": 12, "tags": ["a", "b"], "at": moment}
    second.assigned_at, second.annual_revenue, second.properties = None, None, {}
    rows_update(Lead, [first, second], ["assigned_at", "annual_revenue", "properties"])
    first.refresh_from_db()
    second.refresh_from_db()
    untouched.refresh_from_db()
    assert first.assigned_at == moment
    assert first.annual_revenue == Decimal("1234567.89")
    # A JSON field is stored as DjangoJSONEncoder writes it (datetimes in milliseconds).
    assert first.properties == {
        "plan": "pro",
        "seats": 12,
        "tags": ["a", "b"],
        "at": "2025-03-03T09:00:00.123Z",
    }
    assert second.assigned_at is None and second.annual_revenue is None
    assert second.properties == {}
    assert untouched.annual_revenue == Decimal("5.00")
