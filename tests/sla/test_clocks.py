"""SLA clocks: opened for live and back-filled MQLs, due times frozen, closed by stored facts."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.sla import clocks as sla_clocks
from apps.sla import selectors
from apps.sla.models import ClockKind, ClockState, SlaClock
from apps.sla.tasks import sla_clocks_backfill_task
from tests.sla import factories as f

# Monday 2026-03-02 is a working day; 9-to-5 UTC calendar unless said otherwise.
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SATURDAY_10 = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)


def _by_kind(clocks):
    return {clock.kind: clock for clock in clocks}


def test_live_mql_opens_one_clock_per_time_based_commitment(acme):
    version = f.signed_version(effective_at=MONDAY_10 - timedelta(days=30))
    lead = f.lead()
    event = f.mql_event(lead=lead, at=SATURDAY_10)

    clocks = _by_kind(sla_clocks.clocks_open(mql_events=[event]))

    assert set(clocks) == {ClockKind.FIRST_CONTACT, ClockKind.FOLLOW_UP, ClockKind.DISPOSITION}
    first = clocks[ClockKind.FIRST_CONTACT]
    assert first.sla_version == version
    assert first.started_at == SATURDAY_10
    # Saturday 10:00 + 4 business hours on Mon-Fri 9-17 is Monday 13:00, not 14:00.
    assert first.due_at == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    # Calendar clock: 48 real hours.
    assert clocks[ClockKind.DISPOSITION].due_at == SATURDAY_10 + timedelta(hours=48)
    # Follow-up window [mql_at, mql_at + 14 days].
    assert clocks[ClockKind.FOLLOW_UP].due_at == SATURDAY_10 + timedelta(days=14)
    assert {c.state for c in clocks.values()} == {ClockState.PENDING}


def test_opening_twice_changes_nothing(acme):
    f.signed_version(effective_at=MONDAY_10 - timedelta(days=1))
    event = f.mql_event(lead=f.lead(), at=MONDAY_10)
    first = sla_clocks.clocks_open(mql_events=[event])
    again = sla_clocks.clocks_open(mql_events=[event])
    assert sorted(c.pk for c in first) == sorted(c.pk for c in again)
    assert SlaClock.objects.filter(mql_event=event).count() == 3


def test_no_version_in_force_opens_nothing(acme):
    f.signed_version(effective_at=MONDAY_10 + timedelta(days=1))
    event = f.mql_event(lead=f.lead(), at=MONDAY_10)
    assert sla_clocks.clocks_open(mql_events=[event]) == []
    assert not SlaClock.objects.exists()


def test_backfilled_mqls_use_the_version_in_force_at_mql_time(acme):
    """A superseded version still governs the MQLs of its time; the new one those after it."""
    switch = MONDAY_10 - timedelta(days=10)
    old = f.signed_version(
        effective_at=MONDAY_10 - timedelta(days=100),
        superseded_at=switch,
        commitments=[{**f.FIRST_CONTACT_4H, "params": {"hours": 8, "clock": "business"}}],
    )
    new = f.signed_version(effective_at=switch, commitments=[f.FIRST_CONTACT_4H])
    early = f.mql_event(lead=f.lead(), at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC))  # a Monday
    late = f.mql_event(lead=f.lead(), at=MONDAY_10)

    clocks = {c.mql_event_id: c for c in sla_clocks.clocks_open(mql_events=[early, late])}

    assert clocks[early.pk].sla_version == old
    assert clocks[early.pk].due_at == datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
    assert clocks[late.pk].sla_version == new
    assert clocks[late.pk].due_at == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert selectors.version_in_force(at=early.qualified_at) == old
    assert selectors.version_in_force(at=switch) == new


def test_facts_that_arrived_first_close_the_clocks_at_once(acme):
    f.signed_version(effective_at=MONDAY_10 - timedelta(days=30))
    lead = f.lead()
    # An earlier life of the lead: facts before mql_at never count.
    f.touch(lead=lead, at=MONDAY_10 - timedelta(days=3))
    f.disposition(lead=lead, at=MONDAY_10 - timedelta(days=2), outcome="nurture")
    f.touch(lead=lead, at=MONDAY_10 + timedelta(hours=1))  # on time
    f.disposition(lead=lead, at=MONDAY_10 + timedelta(hours=2), outcome="working")  # not final
    f.disposition(lead=lead, at=MONDAY_10 + timedelta(hours=60), outcome="rejected")  # late
    event = f.mql_event(lead=lead, at=MONDAY_10)

    clocks = _by_kind(sla_clocks.clocks_open(mql_events=[event]))

    assert clocks[ClockKind.FIRST_CONTACT].state == ClockState.MET
    assert clocks[ClockKind.FIRST_CONTACT].met_at == MONDAY_10 + timedelta(hours=1)
    disposition = clocks[ClockKind.DISPOSITION]
    assert disposition.state == ClockState.BREACHED
    assert disposition.met_at == MONDAY_10 + timedelta(hours=60)
    assert disposition.breached_at == disposition.due_at
    # The final disposition lies outside the 14-day window? No: 60 h is inside it.
    assert clocks[ClockKind.FOLLOW_UP].state == ClockState.MET
    assert clocks[ClockKind.FOLLOW_UP].met_at == MONDAY_10 + timedelta(hours=60)


def test_follow_up_needs_the_nth_touch_inside_the_window(acme):
    f.signed_version(effective_at=MONDAY_10 - timedelta(days=30), commitments=[f.FOLLOW_UP_6_IN_14])
    on_time, too_late = f.lead(), f.lead()
    for day in range(6):
        f.touch(lead=on_time, at=MONDAY_10 + timedelta(days=2 * day + 1))
    for day in range(5):
        f.touch(lead=too_late, at=MONDAY_10 + timedelta(days=day + 1))
    f.touch(lead=too_late, at=MONDAY_10 + timedelta(days=15))  # sixth touch after the window
    events = [f.mql_event(lead=on_time, at=MONDAY_10), f.mql_event(lead=too_late, at=MONDAY_10)]

    clocks = {c.lead_id: c for c in sla_clocks.clocks_open(mql_events=events)}

    assert clocks[on_time.pk].state == ClockState.MET
    assert clocks[on_time.pk].met_at == MONDAY_10 + timedelta(days=11)
    # Never met inside the window: no met_at; the sweep marks it breached on time.
    assert clocks[too_late.pk].met_at is None
    assert clocks[too_late.pk].state == ClockState.PENDING


def test_clocks_sync_closes_late_and_on_time_and_counts_changes(acme):
    f.signed_version(effective_at=MONDAY_10 - timedelta(days=30), commitments=[f.FIRST_CONTACT_4H])
    quick, slow = f.lead(), f.lead()
    sla_clocks.clocks_open(
        mql_events=[f.mql_event(lead=quick, at=MONDAY_10), f.mql_event(lead=slow, at=MONDAY_10)]
    )
    f.touch(lead=quick, at=datetime(2026, 3, 2, 14, 0, tzinfo=UTC))  # exactly due: on time
    f.touch(lead=slow, at=datetime(2026, 3, 3, 9, 30, tzinfo=UTC))

    assert sla_clocks.clocks_sync(lead_ids=[quick.pk, slow.pk]) == 2
    assert sla_clocks.clocks_sync(lead_ids=[quick.pk, slow.pk]) == 0

    assert SlaClock.objects.get(lead=quick).state == ClockState.MET
    late = SlaClock.objects.get(lead=slow)
    assert late.state == ClockState.BREACHED
    assert late.met_at == datetime(2026, 3, 3, 9, 30, tzinfo=UTC)

    # A back-filled touch that happened earlier, on time, wins over the late one.
    f.touch(lead=slow, at=datetime(2026, 3, 2, 11, 0, tzinfo=UTC))
    assert sla_clocks.clocks_sync(lead_ids=[slow.pk]) == 1
    late.refresh_from_db()
    assert (late.state, late.breached_at) == (ClockState.MET, None)


def test_due_at_never_moves_when_the_calendar_changes(acme):
    version = f.signed_version(effective_at=MONDAY_10 - timedelta(days=1))
    event = f.mql_event(lead=f.lead(), at=MONDAY_10)
    due = {c.kind: c.due_at for c in sla_clocks.clocks_open(mql_events=[event])}
    # The version's snapshot is frozen; edits to calendars elsewhere cannot reach the clock.
    version.calendar_snapshot = f.calendar_snapshot("America/New_York")
    sla_clocks.clocks_open(mql_events=[event])
    assert {c.kind: c.due_at for c in SlaClock.objects.filter(mql_event=event)} == due


def test_segment_filter_opens_the_tier_only_for_matching_leads(acme):
    high_intent = {
        **f.FIRST_CONTACT_4H,
        "params": {"hours": 2, "clock": "business"},
        "segment": [{"field": "source", "op": "equals", "value": "webinar"}],
    }
    others = {
        **f.FIRST_CONTACT_4H,
        "params": {"hours": 24, "clock": "business"},
        "segment": [{"field": "source", "op": "not_equals", "value": "webinar"}],
    }
    f.signed_version(effective_at=MONDAY_10 - timedelta(days=1), commitments=[high_intent, others])
    webinar, paid = f.lead(source="Webinar"), f.lead(source="paid_search")
    clocks = sla_clocks.clocks_open(
        mql_events=[f.mql_event(lead=webinar, at=MONDAY_10), f.mql_event(lead=paid, at=MONDAY_10)]
    )
    due = {c.lead_id: c.due_at for c in clocks}
    assert len(clocks) == 2
    assert due[webinar.pk] == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert due[paid.pk] == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)


def test_dst_deadline_in_the_version_timezone(acme):
    """New York springs forward on Sunday 2026-03-08: Friday 15:00 + 4 h is Monday 11:00 EDT."""
    f.signed_version(
        effective_at=MONDAY_10 - timedelta(days=30),
        snapshot=f.calendar_snapshot("America/New_York", holiday_country="US"),
        commitments=[f.FIRST_CONTACT_4H],
    )
    start = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)  # 15:00 EST
    (clock,) = sla_clocks.clocks_open(mql_events=[f.mql_event(lead=f.lead(), at=start)])
    assert clock.due_at == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # 11:00 EDT


@pytest.mark.parametrize("batch", [40])
def test_clock_opening_is_bounded_in_queries(acme, django_assert_max_num_queries, batch):
    f.signed_version(
        effective_at=MONDAY_10 - timedelta(days=30),
        commitments=[
            {**f.FIRST_CONTACT_4H, "segment": [{"field": "company_size", "op": "gte", "value": 1}]},
            f.FOLLOW_UP_6_IN_14,
            f.DISPOSITION_48H,
        ],
    )
    events = []
    for i in range(batch):
        lead = f.lead()
        f.touch(lead=lead, at=MONDAY_10 + timedelta(hours=i + 1))
        f.disposition(lead=lead, at=MONDAY_10 + timedelta(hours=i + 2))
        events.append(f.mql_event(lead=lead, at=MONDAY_10))
    # django-tenants sends a SET search_path before each query: the counts are doubled.
    with django_assert_max_num_queries(2 * 11):
        clocks = sla_clocks.clocks_open(mql_events=events)
    assert len(clocks) == 3 * batch
    with django_assert_max_num_queries(2 * 4):
        sla_clocks.clocks_sync(lead_ids=[e.lead_id for e in events])


def test_signing_a_backdated_version_backfills_clocks_for_mqls_without_any(acme):
    from apps.mql.models import MqlEvent

    version = f.signed_version(effective_at=MONDAY_10 - timedelta(days=30))
    bare = f.mql_event(lead=f.lead(), at=MONDAY_10)
    before = f.mql_event(lead=f.lead(), at=MONDAY_10 - timedelta(days=40))
    assert sla_clocks_backfill_task(version.pk) == 3
    assert SlaClock.objects.filter(mql_event=bare).count() == 3
    assert not SlaClock.objects.filter(mql_event=before).exists()
    assert sla_clocks_backfill_task(version.pk) == 0
    assert MqlEvent.objects.count() == 2


def test_new_organizations_get_a_nine_to_five_calendar(acme):
    calendar = selectors.calendar_default()
    assert calendar.is_default
    assert calendar.timezone == "UTC"
    assert calendar.week == [[["09:00", "17:00"]]] * 5 + [[], []]


# --- re-dated MQLs (a late, older fact moved qualified_at earlier) --------------------------


def _redate(event, at):
    event.qualified_at = at
    event.save(update_fields=["qualified_at"])
    return event


def test_redate_moves_the_clocks_in_place_and_judges_the_facts_again(acme):
    f.signed_version(effective_at=MONDAY_10 - timedelta(days=30))
    lead = f.lead()
    event = f.mql_event(lead=lead, at=SATURDAY_10)
    before = _by_kind(sla_clocks.clocks_open(mql_events=[event]))
    # A call on Friday, before the old start: it did not count; from Friday 11:00 it does.
    call = f.touch(lead=lead, at=datetime(2026, 3, 6, 12, 0, tzinfo=UTC))
    friday_11 = datetime(2026, 3, 6, 11, 0, tzinfo=UTC)

    assert sla_clocks.clocks_redate(mql_events=[_redate(event, friday_11)]) == 3

    after = _by_kind(SlaClock.objects.filter(mql_event=event))
    assert {k: c.pk for k, c in after.items()} == {k: c.pk for k, c in before.items()}
    first = after[ClockKind.FIRST_CONTACT]
    assert (first.started_at, first.due_at) == (friday_11, datetime(2026, 3, 6, 15, 0, tzinfo=UTC))
    assert (first.state, first.met_at) == (ClockState.MET, call.occurred_at)
    assert after[ClockKind.DISPOSITION].due_at == friday_11 + timedelta(hours=48)
    assert after[ClockKind.FOLLOW_UP].due_at == friday_11 + timedelta(days=14)
    # Idempotent: nothing left to move.
    assert sla_clocks.clocks_redate(mql_events=[event]) == 0


def test_redate_an_earlier_deadline_breaches_a_clock_that_was_met(acme):
    f.signed_version(effective_at=MONDAY_10 - timedelta(days=30), commitments=[f.FIRST_CONTACT_4H])
    lead = f.lead()
    event = f.mql_event(lead=lead, at=MONDAY_10)
    f.touch(lead=lead, at=MONDAY_10 + timedelta(hours=3))
    (clock,) = sla_clocks.clocks_open(mql_events=[event])
    assert clock.state == ClockState.MET

    sla_clocks.clocks_redate(mql_events=[_redate(event, MONDAY_10 - timedelta(hours=72))])

    clock.refresh_from_db()
    # Friday 10:00 + 4 business hours = Friday 14:00: Monday's call came late.
    assert clock.due_at == datetime(2026, 2, 27, 14, 0, tzinfo=UTC)
    assert (clock.state, clock.breached_at) == (ClockState.BREACHED, clock.due_at)


def test_redate_a_breached_clock_keeps_its_alert_and_moves_its_breach_time(acme, make_user):
    from apps.compliance.models import Alert
    from apps.compliance.services import clocks_breach

    make_user("sales_leader")
    f.signed_version(effective_at=MONDAY_10 - timedelta(days=30), commitments=[f.FIRST_CONTACT_4H])
    event = f.mql_event(lead=f.lead(), at=MONDAY_10)
    (clock,) = sla_clocks.clocks_open(mql_events=[event])
    clocks_breach(now=clock.due_at + timedelta(hours=1))
    assert Alert.objects.filter(clock=clock, kind="breach").count() == 1

    sla_clocks.clocks_redate(mql_events=[_redate(event, MONDAY_10 - timedelta(hours=1))])
    clocks_breach(now=clock.due_at + timedelta(hours=2))

    clock.refresh_from_db()
    assert clock.due_at == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    assert (clock.state, clock.breached_at) == (ClockState.BREACHED, clock.due_at)
    assert Alert.objects.filter(clock__mql_event=event, kind="breach").count() == 1


def test_redate_across_versions_rekeys_clocks_to_the_version_in_force_then(acme):
    switch = MONDAY_10 - timedelta(days=10)
    old = f.signed_version(
        effective_at=MONDAY_10 - timedelta(days=100),
        superseded_at=switch,
        commitments=[
            {**f.FIRST_CONTACT_4H, "params": {"hours": 8, "clock": "business"}},
            f.DISPOSITION_48H,
        ],
    )
    f.signed_version(effective_at=switch, commitments=[f.FIRST_CONTACT_4H, f.FOLLOW_UP_6_IN_14])
    event = f.mql_event(lead=f.lead(), at=MONDAY_10)
    before = _by_kind(sla_clocks.clocks_open(mql_events=[event]))
    monday_before_switch = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)

    sla_clocks.clocks_redate(mql_events=[_redate(event, monday_before_switch)])

    after = _by_kind(SlaClock.objects.filter(mql_event=event).select_related("commitment"))
    assert set(after) == {ClockKind.FIRST_CONTACT, ClockKind.DISPOSITION}
    assert {c.sla_version_id for c in after.values()} == {old.pk}
    first = after[ClockKind.FIRST_CONTACT]
    assert first.pk == before[ClockKind.FIRST_CONTACT].pk  # re-keyed: its alerts stay with it
    assert first.commitment.version_id == old.pk
    assert (first.started_at, first.due_at) == (
        monday_before_switch,
        datetime(2026, 2, 16, 17, 0, tzinfo=UTC),
    )
    assert after[ClockKind.DISPOSITION].due_at == monday_before_switch + timedelta(hours=48)


def test_redate_before_any_version_removes_the_clocks(acme):
    f.signed_version(effective_at=MONDAY_10 - timedelta(days=1))
    event = f.mql_event(lead=f.lead(), at=MONDAY_10)
    sla_clocks.clocks_open(mql_events=[event])

    sla_clocks.clocks_redate(mql_events=[_redate(event, MONDAY_10 - timedelta(days=5))])

    assert not SlaClock.objects.filter(mql_event=event).exists()


@pytest.mark.parametrize("batch", [40])
def test_redate_is_bounded_in_queries(acme, django_assert_max_num_queries, batch):
    switch = MONDAY_10 - timedelta(days=10)
    f.signed_version(
        effective_at=MONDAY_10 - timedelta(days=100),
        superseded_at=switch,
        commitments=[
            {**f.FIRST_CONTACT_4H, "segment": [{"field": "company_size", "op": "gte", "value": 1}]},
            f.DISPOSITION_48H,
        ],
    )
    f.signed_version(effective_at=switch, commitments=[f.FIRST_CONTACT_4H, f.FOLLOW_UP_6_IN_14])
    events = []
    for i in range(batch):
        lead = f.lead()
        f.touch(lead=lead, at=MONDAY_10 - timedelta(days=11, hours=i))
        events.append(f.mql_event(lead=lead, at=MONDAY_10 - timedelta(hours=i % 3)))
    sla_clocks.clocks_open(mql_events=events)
    # Half stay under the same version, half move before the switch (re-key, open, delete).
    for i, event in enumerate(events):
        _redate(event, event.qualified_at - timedelta(days=1 if i % 2 else 12))
    # django-tenants sends a SET search_path before each query: the counts are doubled.
    with django_assert_max_num_queries(2 * 20):
        assert sla_clocks.clocks_redate(mql_events=events) == batch // 2 * 2 + batch // 2 * 3
