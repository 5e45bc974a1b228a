"""The per-MQL-event fact table: kept current by every channel's hand-off, equal to a rebuild
from the raw facts, a fixed number of statements per refresh, each column as DESIGN says."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.exceptions import DomainError
from apps.compliance import metrics
from apps.compliance.facts import facts_rebuild, facts_refresh
from apps.compliance.models import MqlEventFact
from apps.dispositions.models import Disposition, ReasonCode
from apps.handoff import channels
from apps.leads.models import Activity, ActivityFamily, Lead
from apps.mql.models import MqlDefinition, MqlEvent
from apps.sla import business_time
from apps.sla import services as sla_services
from apps.sla.models import SlaClock, SlaVersion, VersionStatus
from apps.sla.selectors import calendar_for_version
from apps.sla.tasks import sla_clocks_backfill_task
from tests.compliance import factories as sla_f
from tests.leads.factories import RoutingRuleFactory
from tests.mql.factories import published_definition
from tests.sla.factories import DISPOSITION_48H, FIRST_CONTACT_4H

BASE = datetime(2025, 5, 5, 9, 0, tzinfo=UTC)  # a Monday morning
PASSWORD = "correct-horse-battery-9"  # tests/accounts/factories.UserFactory's
FOLLOW_UP_2_IN_14 = {
    "owner_team": "sales",
    "metric": "follow_up_cadence",
    "params": {"touches": 2, "days": 14},
    "target": 0.9,
    "yellow_threshold": 0.75,
}
COLUMNS = [
    f.attname
    for f in MqlEventFact._meta.concrete_fields
    if f.attname != "refreshed_at"  # when the row was written, not a fact
]


@pytest.fixture
def organization(acme, make_user):
    """An MQL definition, two signed SLA versions (the second from BASE + 8 days), a round
    robin of two reps and a sales leader who records dispositions and reassigns."""
    MqlDefinition.objects.filter(status="published").update(status="retired")
    published_definition()
    first = sla_f.signed_version(
        effective_at=BASE - timedelta(days=60),
        commitments=(FIRST_CONTACT_4H, FOLLOW_UP_2_IN_14, DISPOSITION_48H),
    )
    second = sla_f.signed_version(
        effective_at=BASE + timedelta(days=8),
        commitments=(FIRST_CONTACT_4H, FOLLOW_UP_2_IN_14, DISPOSITION_48H),
    )
    reps = [make_user("rep"), make_user("rep")]
    RoutingRuleFactory(name="Everyone", is_fallback=True, pool=reps)
    return {"reps": reps, "leader": make_user("sales_leader"), "versions": (first, second)}


def _leads(tag: str, count: int) -> list[Lead]:
    return Lead.objects.bulk_create(
        Lead(
            external_id=f"{tag}-{i}",
            email=f"buyer{i}@{tag}.example",
            company_size=300,
            country="US",
            source=("webinar", "paid_search")[i % 2],
            campaign=f"spring-{i % 3}",
            created_at=BASE - timedelta(days=20),
            stage_changed_at=BASE - timedelta(days=20),
        )
        for i in range(count)
    )


def _activity(external_id: str, lead: Lead, kind: str, at: datetime, url: str = "") -> dict:
    item = {
        "external_id": external_id,
        "lead": lead.external_id,
        "kind": kind,
        "occurred_at": at.isoformat(),
    }
    if url:
        item["properties"] = {"url": url}
    return item


def _ingest(items: list[dict], now: datetime) -> None:
    result = channels.activities_ingest(items=items, channel="api", actor=None, now=now)
    assert result.rejected == 0, result.errors


def _reason(outcome: str) -> ReasonCode | None:
    if outcome not in ("rejected", "nurture"):
        return None
    return ReasonCode.objects.filter(outcome=outcome, retired_at__isnull=True).order_by("id")[0]


def _rows(lead_ids=None) -> dict[int, dict]:
    facts = MqlEventFact.objects.all()
    if lead_ids is not None:
        facts = facts.filter(lead_id__in=lead_ids)
    return {row["event_id"]: row for row in facts.values(*COLUMNS)}


# --- rebuild == incremental ------------------------------------------------------------------


def _story(rng: random.Random, lead: Lead, index: int) -> list[tuple[datetime, str, object]]:
    """One lead's facts as (occurred_at, kind of arrival, payload), in time order."""
    facts: list[tuple[datetime, str, object]] = []
    at = BASE + timedelta(hours=rng.randrange(0, 24 * 10))
    for life in range(rng.choice((1, 1, 2))):
        for visit in range(rng.choice((1, 2))):  # a second visit, often arriving first: re-dating
            facts.append(
                (
                    at,
                    "activity",
                    _activity(f"s-{index}-p{life}{visit}", lead, "page_view", at, "/pricing"),
                )
            )
            at += timedelta(hours=rng.randrange(1, 30))
        for touch in range(rng.randrange(0, 4)):
            at += timedelta(minutes=rng.randrange(5, 60 * 20))
            kind = rng.choice(("call", "email_sent", "meeting"))
            facts.append((at, "activity", _activity(f"s-{index}-t{life}{touch}", lead, kind, at)))
        if rng.random() < 0.7:
            at += timedelta(hours=rng.randrange(1, 72))
            outcome = rng.choice(("working", "rejected", "nurture", "accepted", "nurture"))
            facts.append((at, "disposition", (lead, outcome, f"s-{index}-d{life}")))
            if outcome != "nurture":
                break
        at += timedelta(days=rng.randrange(1, 4))
    if rng.random() < 0.3:
        facts.append((at + timedelta(hours=2), "reassign", lead))
    return facts


def test_rebuild_equals_incremental_after_shuffled_late_and_duplicate_arrivals(organization):
    rng = random.Random(1313)
    leads = _leads("story", 40)
    # Behaviour history that does not qualify anybody on its own.
    _ingest(
        [
            _activity(f"blog-{i}", lead, "page_view", BASE - timedelta(days=3), "/blog")
            for i, lead in enumerate(leads)
        ],
        now=BASE - timedelta(days=3),
    )
    arrivals = [fact for i, lead in enumerate(leads) for fact in _story(rng, lead, i)]
    # Shuffle within a sliding horizon: facts arrive out of order (older after newer), and
    # some activities arrive twice.
    arrivals.sort(key=lambda fact: fact[0] + timedelta(hours=rng.randrange(0, 96)))
    arrivals += [fact for fact in arrivals if fact[1] == "activity" and rng.random() < 0.15]
    now = BASE
    skipped = 0
    position = 0
    while position < len(arrivals):
        batch = arrivals[position : position + rng.randrange(1, 6)]
        position += len(batch)
        now = max(now, *(fact[0] for fact in batch)) + timedelta(minutes=1)
        activities = [fact[2] for fact in batch if fact[1] == "activity"]
        if activities:
            # One batch per external_id: a duplicate inside one request is a row error.
            unique = {item["external_id"]: item for item in activities}
            _ingest(list(unique.values()), now=now)
        for _at, kind, payload in batch:
            if kind == "disposition":
                lead, outcome, external_id = payload
                lead.refresh_from_db()
                try:
                    channels.disposition_create(
                        lead=lead,
                        outcome=outcome,
                        reason_code=_reason(outcome),
                        actor=organization["leader"],
                        occurred_at=_at,
                        external_id=external_id,
                        now=now,
                    )
                except DomainError:  # e.g. a disposition on a lead not (yet) an MQL
                    skipped += 1
            elif kind == "reassign":
                payload.refresh_from_db()
                other = next(r for r in organization["reps"] if r.pk != payload.owner_id)
                channels.lead_reassign(lead=payload, owner=other, actor=organization["leader"])

    ids = [lead.pk for lead in leads]
    incremental = _rows(ids)
    events = MqlEvent.objects.filter(lead_id__in=ids)
    assert set(incremental) == set(events.values_list("id", flat=True))
    # The story exercised what the table must follow.
    values = list(incremental.values())
    assert len(values) >= 30
    assert any(v["window_end"] for v in values), "no lead qualified twice"
    assert any(v["first_touch_at"] for v in values)
    assert any(v["nth_touch_at"] for v in values)
    assert any(v["first_contact_business_seconds"] is not None for v in values)
    assert any(v["disposition_outcome"] == "rejected" for v in values)
    assert any(v["sql_at"] for v in values)
    assert any(v["owner_id"] != v["owner_at_mql_id"] for v in values), "no reassignment"
    assert len({v["sla_version_id"] for v in values}) == 2
    assert any(
        e.qualified_at != e.recorded_at and e.explanation for e in events
    )  # back-filled MQLs

    _agrees_with_the_reference(incremental, now)

    facts_rebuild(now=now)

    assert _rows(ids) == incremental


def _clock(happened_at, due, as_of) -> metrics.Outcome | None:
    """A clock outcome read from the fact columns alone (what a fact-table read computes)."""
    if due is None:
        return None
    if happened_at is not None and happened_at <= as_of:
        return metrics.Outcome.MET if happened_at <= due else metrics.Outcome.MISSED
    return metrics.Outcome.MISSED if as_of > due else metrics.Outcome.PENDING


def _agrees_with_the_reference(rows: dict[int, dict], now: datetime) -> None:
    """At several as_of moments, each event's outcomes read from its row equal the pure
    reference's on the event's raw facts (its window's touches and dispositions)."""
    checked = 0
    for row in rows.values():
        start, end = row["mql_at"], row["window_end"]

        def inside(moment, start=start, end=end):
            return moment >= start and (end is None or moment < end)

        touches = tuple(
            t
            for t in Activity.objects.filter(
                lead_id=row["lead_id"], family=ActivityFamily.SALES_TOUCH
            ).values_list("occurred_at", flat=True)
            if inside(t)
        )
        dispositions = tuple(
            (d.occurred_at, d.outcome, d.reason_code_id is not None)
            for d in Disposition.objects.filter(lead_id=row["lead_id"]).order_by("id")
            if inside(d.occurred_at)
        )
        reference = metrics.MqlFacts(
            lead_id=row["lead_id"],
            mql_at=start,
            touches=touches,
            dispositions=dispositions,
            first_contact_due=row["first_contact_due"],
            disposition_due=row["disposition_due"],
        )
        for as_of in (start + timedelta(hours=2), start + timedelta(days=3), now):
            known_touch = (
                row["first_touch_at"]
                if row["first_touch_at"] and row["first_touch_at"] <= as_of
                else None
            )
            assert metrics.first_contact_at(reference, as_of) == known_touch
            assert metrics.first_contact_outcome(reference, as_of) == _clock(
                row["first_touch_at"], row["first_contact_due"], as_of
            )
            assert metrics.disposition_outcome(reference, as_of) == _clock(
                row["disposition_at"], row["disposition_due"], as_of
            )
            if row["cadence_touches"]:
                window_end = start + timedelta(days=row["cadence_days"])
                until = min(as_of, window_end)
                met = any(
                    moment is not None and moment <= until
                    for moment in (row["nth_touch_at"], row["disposition_at"])
                )
                expected = (
                    metrics.Outcome.MET
                    if met
                    else metrics.Outcome.MISSED
                    if as_of > window_end
                    else metrics.Outcome.PENDING
                )
                assert (
                    metrics.follow_up_outcome(
                        reference,
                        touches=row["cadence_touches"],
                        days=row["cadence_days"],
                        as_of=as_of,
                    )
                    == expected
                )
            checked += 1
    assert checked >= 90


def test_the_command_rebuilds_every_row_from_the_raw_facts(organization):
    leads = _leads("cmd", 3)
    _ingest(
        [
            _activity(f"cmd-{i}", lead, "page_view", BASE + timedelta(hours=i), "/pricing")
            for i, lead in enumerate(leads)
        ],
        now=BASE + timedelta(hours=4),
    )
    before = _rows()
    MqlEventFact.objects.filter(lead_id=leads[0].pk).update(source="tampered")
    MqlEventFact.objects.filter(lead_id=leads[1].pk).delete()

    call_command("facts_rebuild", "--schema", connection.schema_name, "--chunk", "2")

    assert _rows() == before


# --- a fixed number of statements -----------------------------------------------------------


def _refresh_statements(tag: str, count: int) -> int:
    leads = _leads(tag, count)
    _ingest(
        [
            _activity(f"{tag}-p-{i}", lead, "page_view", BASE, "/pricing")
            for i, lead in enumerate(leads)
        ]
        + [
            _activity(f"{tag}-t-{i}", lead, "call", BASE + timedelta(hours=1))
            for i, lead in enumerate(leads)
        ],
        now=BASE + timedelta(hours=2),
    )
    ids = [lead.pk for lead in leads]
    MqlEventFact.objects.filter(lead_id__in=ids).delete()  # every row new: the longest path
    with CaptureQueriesContext(connection) as queries:
        facts_refresh(lead_ids=ids, now=BASE + timedelta(hours=2))
    assert (
        MqlEventFact.objects.filter(lead_id__in=ids, first_contact_business_seconds=3600).count()
        == count
    )
    return len([q for q in queries.captured_queries if not q["sql"].startswith("SET search_path")])


def test_refreshing_200_leads_costs_the_statements_of_10(organization):
    few = _refresh_statements("few", 10)
    many = _refresh_statements("many", 200)

    assert many == few <= 4


# --- each column on a hand-made case --------------------------------------------------------


def test_each_column_on_a_lead_that_qualified_twice(organization):
    rep_a, rep_b = organization["reps"]
    first_version, second_version = organization["versions"]
    (lead,) = _leads("hand", 1)
    t0 = BASE + timedelta(hours=1)  # Monday 10:00 UTC, inside the 9-to-5 calendar
    _ingest([_activity("h-p1", lead, "page_view", t0, "/pricing")], now=t0)
    _ingest(
        [
            _activity("h-t1", lead, "call", t0 + timedelta(hours=1)),
            _activity("h-t2", lead, "email_sent", t0 + timedelta(hours=2)),
            _activity("h-t3", lead, "meeting", t0 + timedelta(hours=3)),
        ],
        now=t0 + timedelta(hours=3, minutes=1),
    )
    lead.refresh_from_db()
    routed_to = lead.owner_id
    nurture_at = t0 + timedelta(hours=5)
    channels.disposition_create(
        lead=lead,
        outcome="nurture",
        reason_code=_reason("nurture"),
        actor=organization["leader"],
        occurred_at=nurture_at,
        now=nurture_at,
    )
    # Back from nurture, the lead qualifies again under the second SLA version.
    t1 = BASE + timedelta(days=8, hours=2)  # the next Tuesday 11:00
    _ingest([_activity("h-p2", lead, "page_view", t1, "/pricing")], now=t1)
    _ingest([_activity("h-t4", lead, "call", t1 + timedelta(hours=7))], now=t1 + timedelta(hours=8))
    lead.refresh_from_db()
    other = rep_b if lead.owner_id == rep_a.pk else rep_a
    channels.lead_reassign(lead=lead, owner=other, actor=organization["leader"])
    accepted_at = t1 + timedelta(days=1)
    lead.refresh_from_db()
    channels.disposition_create(
        lead=lead,
        outcome="accepted",
        actor=organization["leader"],
        occurred_at=accepted_at,
        now=accepted_at,
    )

    first, second = MqlEvent.objects.filter(lead=lead).order_by("qualified_at")
    one, two = MqlEventFact.objects.get(event=first), MqlEventFact.objects.get(event=second)
    definition = first.definition

    assert (one.lead_id, one.kind, one.mql_at, one.window_end) == (lead.pk, "mql", t0, t1)
    assert (two.mql_at, two.window_end) == (t1, None)
    assert (one.definition_id, one.definition_version) == (definition.pk, definition.version)
    assert (one.source, one.campaign) == ("webinar", "spring-0")
    # Owner at mql_at: the routing; owner: the lead's owner now (reassigned in the 2nd life).
    assert one.owner_at_mql_id == routed_to and two.owner_at_mql_id == routed_to
    assert one.owner_id == two.owner_id == other.pk != routed_to
    # Each event under the version in force at its mql_at, with its clocks' due instants.
    assert (one.sla_version_id, two.sla_version_id) == (first_version.pk, second_version.pk)
    for fact, event in ((one, first), (two, second)):
        dues = dict(SlaClock.objects.filter(mql_event=event).values_list("kind", "due_at"))
        assert fact.first_contact_due == dues["first_contact"] == fact.mql_at + timedelta(hours=4)
        assert fact.follow_up_due == dues["follow_up"] == fact.mql_at + timedelta(days=14)
        assert fact.disposition_due == dues["disposition"] == fact.mql_at + timedelta(hours=48)
        assert (fact.cadence_touches, fact.cadence_days) == (2, 14)
    # Touches of each window only.
    assert (one.first_touch_at, one.nth_touch_at, one.touch_count) == (
        t0 + timedelta(hours=1),
        t0 + timedelta(hours=2),
        3,
    )
    assert (two.first_touch_at, two.nth_touch_at, two.touch_count) == (
        t1 + timedelta(hours=7),
        None,
        1,
    )
    # Business hours: 1 h inside the day; 11:00 -> 18:00 is 6 working hours (9-to-5).
    assert one.first_contact_business_seconds == 3600
    calendar = calendar_for_version(second_version)
    assert (
        two.first_contact_business_seconds
        == 6 * 3600
        == business_time.between(calendar, t1, t1 + timedelta(hours=7)).total_seconds()
    )
    # First final disposition of each window; conversion inside the second window only.
    assert (one.disposition_at, one.disposition_outcome) == (nurture_at, "nurture")
    assert one.disposition_reason_code_id == _reason("nurture").pk
    assert (two.disposition_at, two.disposition_outcome) == (accepted_at, "accepted")
    assert two.disposition_reason_code_id is None
    assert (one.sql_at, two.sql_at) == (None, accepted_at)


def test_a_late_older_fact_moves_the_row_with_its_event(organization):
    (lead,) = _leads("late", 1)
    newer = BASE + timedelta(days=2)
    _ingest([_activity("late-p2", lead, "page_view", newer, "/pricing")], now=newer)
    _ingest([_activity("late-t", lead, "call", BASE + timedelta(hours=1))], now=newer)
    fact = MqlEventFact.objects.get(lead=lead)
    assert (fact.mql_at, fact.first_touch_at, fact.touch_count) == (newer, None, 0)

    # The older pricing visit arrives last: the MQL is re-dated and the touch now counts.
    _ingest([_activity("late-p1", lead, "page_view", BASE, "/pricing")], now=newer)

    fact = MqlEventFact.objects.get(lead=lead)
    assert (fact.mql_at, fact.first_touch_at, fact.touch_count) == (
        BASE,
        BASE + timedelta(hours=1),
        1,
    )
    assert fact.first_contact_due == BASE + timedelta(hours=4)
    assert fact.first_contact_business_seconds == 3600


def test_a_lead_field_change_reaches_its_rows(organization):
    (lead,) = _leads("field", 1)
    _ingest([_activity("field-p", lead, "page_view", BASE, "/pricing")], now=BASE)

    channels.leads_upsert(
        items=[{"external_id": lead.external_id, "campaign": "autumn"}],
        channel="api",
        actor=None,
        now=BASE + timedelta(hours=1),
    )

    assert MqlEventFact.objects.get(lead=lead).campaign == "autumn"


# --- an SLA version signed after the fact ---------------------------------------------------


def test_a_version_signed_after_the_fact_reaches_the_rows_of_the_mqls_it_now_governs(
    acme, make_user
):
    MqlDefinition.objects.filter(status="published").update(status="retired")
    published_definition()
    # The SLA in force gives clocks to enterprise leads only: these MQLs have none.
    old = sla_f.signed_version(
        effective_at=BASE - timedelta(days=60),
        commitments=(
            {
                **FIRST_CONTACT_4H,
                "segment": [{"field": "company_size", "op": "gte", "value": 5000}],
            },
        ),
    )
    RoutingRuleFactory(name="Everyone", is_fallback=True, pool=[make_user("rep")])
    marketing, sales = make_user("marketing_leader"), make_user("sales_leader")
    leads = _leads("signed-late", 4)
    effective = BASE + timedelta(days=1)
    # The first lead qualifies before the new version's effective date, the others after.
    qualified = [BASE, BASE + timedelta(days=2), BASE + timedelta(days=2, hours=3)]
    qualified.append(BASE + timedelta(days=3, hours=1))
    now = qualified[-1] + timedelta(hours=6)
    _ingest(
        [
            _activity(f"sl-p{i}", lead, "page_view", at, "/pricing")
            for i, (lead, at) in enumerate(zip(leads, qualified, strict=True))
        ]
        + [
            _activity("sl-t1", leads[1], "call", qualified[1] + timedelta(hours=2)),
            _activity("sl-t2", leads[2], "email_sent", qualified[2] + timedelta(hours=7)),
        ],
        now=now,
    )
    ids = [lead.pk for lead in leads]
    events = {e.lead_id: e for e in MqlEvent.objects.filter(lead_id__in=ids)}
    assert {events[lead.pk].qualified_at for lead in leads} == set(qualified)
    assert not SlaClock.objects.filter(lead_id__in=ids).exists()
    before = _rows(ids)
    assert {row["sla_version_id"] for row in before.values()} == {old.pk}
    assert all(row["first_contact_due"] is None for row in before.values())

    # Signed now through the sign-off, in force from a day after the first MQL.
    draft = sla_services.version_create(
        actor=marketing, template_key="sample_sla", effective_at=effective
    )
    sla_services.version_submit(version=draft, actor=marketing)
    for leader in (sales, marketing):
        sla_services.version_sign(
            version=draft, actor=leader, password=PASSWORD, content_hash=draft.content_hash
        )
    new = SlaVersion.objects.get(pk=draft.pk)
    assert new.status == VersionStatus.ACTIVE
    # The sign-off queues the back-fill once it commits; the task, called directly here:
    assert sla_clocks_backfill_task(new.pk) == 3 * 3  # three clock commitments, three MQLs

    after = _rows(ids)
    first = after[events[leads[0].pk].pk]
    assert first == before[events[leads[0].pk].pk]  # before the effective date: unchanged
    calendar = calendar_for_version(new)
    for lead in leads[1:]:
        row = after[events[lead.pk].pk]
        mql_at = row["mql_at"]
        dues = dict(
            SlaClock.objects.filter(mql_event_id=row["event_id"]).values_list("kind", "due_at")
        )
        assert row["sla_version_id"] == new.pk
        assert (
            row["first_contact_due"]
            == dues["first_contact"]
            == business_time.add(calendar, mql_at, timedelta(hours=4))
        )
        assert row["follow_up_due"] == dues["follow_up"] == mql_at + timedelta(days=14)
        assert row["disposition_due"] == dues["disposition"] == mql_at + timedelta(hours=48)
        assert (row["cadence_touches"], row["cadence_days"]) == (6, 14)
    touched = after[events[leads[2].pk].pk]
    assert touched["first_touch_at"] == qualified[2] + timedelta(hours=7)
    assert touched["first_contact_business_seconds"] == (
        business_time.between(calendar, qualified[2], touched["first_touch_at"]).total_seconds()
    )
    # Exactly what a rebuild from the raw facts computes; a second run changes nothing.
    facts_rebuild(now=now)
    assert _rows(ids) == after
    assert sla_clocks_backfill_task(new.pk) == 0
    assert _rows(ids) == after


def test_the_back_fill_runs_chunk_by_chunk_in_a_fixed_number_of_statements(acme, make_user):
    """A large organization: each chunk is one transaction of the same few statements."""
    MqlDefinition.objects.filter(status="published").update(status="retired")
    published_definition()
    RoutingRuleFactory(name="Everyone", is_fallback=True, pool=[make_user("rep")])
    leads = _leads("chunks", 12)
    _ingest(
        [
            _activity(f"ch-p{i}", lead, "page_view", BASE + timedelta(minutes=10 * i), "/pricing")
            for i, lead in enumerate(leads)
        ]
        + [
            _activity(f"ch-t{i}", lead, "call", BASE + timedelta(minutes=10 * i + 30))
            for i, lead in enumerate(leads)
        ],
        now=BASE + timedelta(days=1),
    )
    ids = [lead.pk for lead in leads]
    assert set(_rows(ids)) == set(
        MqlEvent.objects.filter(lead_id__in=ids).values_list("pk", flat=True)
    )
    version = sla_f.signed_version(
        effective_at=BASE - timedelta(days=1),
        commitments=(FIRST_CONTACT_4H, FOLLOW_UP_2_IN_14, DISPOSITION_48H),
    )

    def statements(batch: int) -> int:
        SlaClock.objects.filter(lead_id__in=ids).delete()
        MqlEventFact.objects.filter(lead_id__in=ids).delete()  # every row new: the longest path
        with CaptureQueriesContext(connection) as queries:
            opened = channels.sla_version_backfill(
                version=version, now=BASE + timedelta(days=1), batch=batch
            )
        assert opened == 3 * len(leads)
        return len(
            [q for q in queries.captured_queries if not q["sql"].startswith("SET search_path")]
        )

    in_4, in_2, in_1 = statements(3), statements(6), statements(12)
    per_chunk = in_2 - in_1
    # Per chunk, with the savepoints of a test's transaction: the events, the lead locks, the
    # versions with their commitments, the clocks' insert and sync, the rows' refresh.
    assert in_4 - in_2 == 2 * per_chunk <= 2 * 18
    rows = _rows(ids)
    assert len(rows) == len(leads)
    assert {row["sla_version_id"] for row in rows.values()} == {version.pk}
    assert all(row["first_contact_business_seconds"] == 1800 for row in rows.values())
    facts_rebuild(now=BASE + timedelta(days=1))
    assert _rows(ids) == rows
