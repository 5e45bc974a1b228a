"""Snapshots (refresh, freeze, recompute), commitments turning red, escalation episodes."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from apps.compliance import selectors, services
from apps.compliance.models import Alert, AlertDelivery, ComplianceSnapshot, WinRateSnapshot
from apps.compliance.periods import PeriodKind, following, period_starting
from apps.handoff import channels
from apps.leads.models import Lead
from tests.compliance import factories as f

WEEK = period_starting(PeriodKind.WEEK, date(2026, 3, 2), "UTC")
MONDAY = WEEK.start + timedelta(hours=9)  # 09:00, when the 9-to-5 calendar opens


@pytest.fixture
def version(acme):
    return f.signed_version(
        effective_at=MONDAY - timedelta(days=60), commitments=(f.FIRST_CONTACT_4H, f.MQL_VOLUME)
    )


def _first_contact(version):
    return version.commitments.get(metric="first_contact_time")


def _mql(version, *, at, contact_after=None, owner=None):
    lead = f.lead(owner=owner)
    event = f.mql_event(lead=lead, at=at)
    clock = f.clock(event=event, commitment=_first_contact(version))
    if contact_after is not None:
        f.touch(lead=lead, at=at + contact_after)
    return clock


def test_closed_period_is_frozen_as_of_its_end_and_never_changes_afterwards(version):
    _mql(version, at=MONDAY, contact_after=timedelta(hours=1))
    late = _mql(version, at=MONDAY + timedelta(days=4, hours=7))  # Friday 16:00, due Monday 12:00
    now = WEEK.end + timedelta(hours=1)

    services.snapshots_refresh(now=now)

    snapshot = ComplianceSnapshot.objects.get(
        commitment=_first_contact(version), period_kind="week", period_start=WEEK.first_day
    )
    assert (snapshot.frozen, snapshot.as_of) == (True, WEEK.end)
    live = selectors.commitment_result(
        commitment=_first_contact(version), period=WEEK, as_of=WEEK.end
    )
    assert (snapshot.value, snapshot.numerator, snapshot.pending) == (1.0, 1.0, 1)
    assert (live.value, live.numerator, live.pending) == (1.0, 1.0, 1)

    # Facts arriving later (the late clock missed) never rewrite the frozen record...
    services.snapshots_refresh(now=late.due_at + timedelta(hours=1))
    services.snapshots_recompute(first_day=WEEK.first_day, last_day=WEEK.last_day, now=now)
    snapshot.refresh_from_db()
    assert (snapshot.value, snapshot.pending, snapshot.as_of) == (1.0, 1, WEEK.end)

    # ...unless history is explicitly recomputed (back-fill), still as of the period end.
    f.touch(lead=late.lead, at=MONDAY + timedelta(days=4, hours=7, minutes=30))  # in the week
    call_command(
        "recompute_snapshots",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-08",
        "--schema",
        "acme",
        "--include-frozen",
    )
    snapshot.refresh_from_db()
    assert (snapshot.value, snapshot.numerator, snapshot.pending) == (1.0, 2.0, 0)


def test_recompute_is_idempotent_and_covers_weeks_months_quarters(version):
    _mql(version, at=MONDAY, contact_after=timedelta(hours=6))
    now = datetime(2026, 4, 15, tzinfo=UTC)

    services.snapshots_recompute(first_day=date(2026, 3, 1), last_day=date(2026, 3, 31), now=now)
    first = {
        (s.commitment_id, s.period_kind, s.period_start): (s.value, s.frozen, s.as_of)
        for s in ComplianceSnapshot.objects.all()
    }
    services.snapshots_recompute(first_day=date(2026, 3, 1), last_day=date(2026, 3, 31), now=now)
    second = {
        (s.commitment_id, s.period_kind, s.period_start): (s.value, s.frozen, s.as_of)
        for s in ComplianceSnapshot.objects.all()
    }

    assert first == second
    kinds = {(kind, start) for _, kind, start in first}
    # Weeks from 23 Feb (it overlaps 1 March) to 30 March, the month, Q1; all closed by 15 April.
    assert {start for kind, start in kinds if kind == "week"} == {
        date(2026, 2, 23) + timedelta(weeks=n) for n in range(6)
    }
    assert {(k, s) for k, s in kinds if k != "week"} == {
        ("month", date(2026, 3, 1)),
        ("quarter", date(2026, 1, 1)),
    }
    assert all(frozen for _, frozen, _ in first.values())


def test_open_period_snapshots_refresh_each_sweep(version):
    _mql(version, at=MONDAY)
    services.snapshots_refresh(now=MONDAY + timedelta(hours=2))
    services.snapshots_refresh(now=MONDAY + timedelta(hours=5))

    snapshot = ComplianceSnapshot.objects.get(
        commitment=_first_contact(version), period_kind="week", period_start=WEEK.first_day
    )
    assert (snapshot.frozen, snapshot.as_of) == (False, MONDAY + timedelta(hours=5))
    assert (snapshot.value, snapshot.status) == (0.0, "red")


def test_snapshot_and_live_numbers_are_the_same_for_the_same_moment(version):
    for hours in (1, 5, 30):
        _mql(version, at=MONDAY + timedelta(hours=hours), contact_after=timedelta(hours=hours % 7))
    services.snapshots_refresh(now=WEEK.end + timedelta(minutes=5))

    from_snapshots = selectors.compliance_for_period(period=WEEK, with_outcomes=False)
    live = selectors.compliance_for_period(period=WEEK, as_of=WEEK.end, with_outcomes=False)

    mine = {version.commitments.get(metric=m).pk for m in ("first_contact_time", "mql_volume")}
    snap = {r.commitment.pk: r for r in from_snapshots if r.commitment.pk in mine}
    assert {r.source for r in snap.values()} == {"snapshot"}
    for item in live:
        if item.commitment.pk in mine:
            stored = snap[item.commitment.pk]
            assert stored.as_of == item.as_of == WEEK.end
            assert stored.result == item.result


# --- turned red -----------------------------------------------------------------------------


def test_a_red_commitment_tells_the_owner_team_leader_once_per_period(version, make_user):
    leader = make_user("sales_leader")
    marketing_leader = make_user("marketing_leader")
    _mql(version, at=MONDAY)
    now = MONDAY + timedelta(hours=5)
    services.snapshots_refresh(now=now)

    first = services.commitments_red_alert(now=now)
    second = services.commitments_red_alert(now=now + timedelta(minutes=1))

    # First contact (sales: 0 of 1 on time) and volume (marketing: 1 MQL where 4.7 were due
    # by Monday 14:00) are both red.
    assert (first["alerts"], second["alerts"]) == (2, 0)
    recipients = {
        alert.commitment.metric: set(alert.deliveries.values_list("recipient_id", flat=True))
        for alert in Alert.objects.filter(kind="commitment_red")
    }
    assert recipients == {"first_contact_time": {leader.pk}, "mql_volume": {marketing_leader.pk}}
    assert AlertDelivery.objects.count() == 4


def test_a_volume_behind_by_less_than_one_mql_is_not_announced(version, make_user):
    make_user("marketing_leader")
    early = WEEK.start + timedelta(hours=2)  # 70/week pro-rated: 0.83 MQL expected, 0 is "red"
    services.snapshots_refresh(now=early)
    assert services.commitments_red_alert(now=early)["alerts"] == 0

    noon_tuesday = WEEK.start + timedelta(days=1, hours=12)  # 15 expected, yellow from 12
    services.snapshots_refresh(now=noon_tuesday)
    assert services.commitments_red_alert(now=noon_tuesday)["alerts"] == 1


# --- escalation ------------------------------------------------------------------------------


@pytest.fixture
def escalating(acme):
    draft = f.draft_version(effective_at=MONDAY - timedelta(days=120))
    commitment = draft.commitments.get()
    rule = f.escalation_rule(commitment=commitment, threshold=0.8, periods=2)
    f.sign(draft)
    return commitment, rule


def _frozen_weeks(commitment, values, *, first=date(2026, 1, 5)):
    period = period_starting(PeriodKind.WEEK, first, "UTC")
    for value in values:
        ComplianceSnapshot.objects.update_or_create(
            kind=f"{commitment.owner_team}.{commitment.metric}",
            period_kind="week",
            period_start=period.first_day,
            defaults={
                "commitment": commitment,
                "starts_at": period.start,
                "ends_at": period.end,
                "as_of": period.end,
                "value": value,
                "numerator": 0,
                "denominator": 1,
                "target": 0.8,
                "yellow_threshold": 0.6,
                "status": "red",
                "frozen": True,
                "computed_at": period.end,
            },
        )
        period = following(period)
    return period  # the first week not recorded


def test_escalation_fires_after_exactly_k_closed_periods_once_per_episode(escalating, make_user):
    commitment, rule = escalating
    executive = make_user("executive")

    week = _frozen_weeks(commitment, [0.9, 0.7])
    assert services.escalations_evaluate(now=week.start + timedelta(hours=1))["alerts"] == 0

    week = _frozen_weeks(commitment, [0.9, 0.7, 0.6])
    report = services.escalations_evaluate(now=week.start + timedelta(hours=1))
    assert report["alerts"] == 1
    alert = Alert.objects.get(kind="escalation")
    assert (alert.escalation_rule, alert.period_start) == (rule, date(2026, 1, 19))
    assert alert.payload["values"] == [0.7, 0.6]
    assert list(alert.deliveries.values_list("recipient_id", "channel").order_by("channel")) == [
        (executive.pk, "email"),
        (executive.pk, "in_app"),
    ]

    # The same episode going on, and evaluating again, fire nothing more.
    week = _frozen_weeks(commitment, [0.9, 0.7, 0.6, 0.5])
    assert services.escalations_evaluate(now=week.start + timedelta(hours=1))["alerts"] == 0
    assert services.escalations_evaluate(now=week.start + timedelta(hours=2))["alerts"] == 0

    # Recovery then two low weeks again: a new episode.
    week = _frozen_weeks(commitment, [0.9, 0.7, 0.6, 0.5, 0.85, 0.7, 0.75])
    assert services.escalations_evaluate(now=week.start + timedelta(hours=1))["alerts"] == 1
    assert Alert.objects.filter(kind="escalation").count() == 2


def test_a_week_without_data_breaks_the_run_and_old_episodes_are_not_paged(escalating):
    commitment, _ = escalating
    week = _frozen_weeks(commitment, [0.7, None, 0.7])
    assert services.escalations_evaluate(now=week.start + timedelta(hours=1))["alerts"] == 0

    # An episode found in back-filled history long ago is not sent now.
    week = _frozen_weeks(commitment, [0.7, 0.7, 0.9, 0.9, 0.9, 0.9])
    assert services.escalations_evaluate(now=week.start + timedelta(hours=1))["alerts"] == 0


def test_moved_history_unfreezes_the_periods_it_touches_and_the_sweep_refreezes_them(version):
    clock = _mql(version, at=MONDAY, contact_after=timedelta(hours=1))
    now = WEEK.end + timedelta(days=40)
    services.snapshots_recompute(first_day=WEEK.first_day, last_day=WEEK.last_day, now=now)
    week = ComplianceSnapshot.objects.get(
        commitment=_first_contact(version), period_kind="week", period_start=WEEK.first_day
    )
    later_week = following(WEEK)
    services.snapshots_recompute(
        first_day=later_week.first_day, last_day=later_week.last_day, now=now
    )
    assert ComplianceSnapshot.objects.filter(frozen=False).count() == 0
    # An MQL moved from Monday of the week to an hour earlier (a late, older fact). (The
    # hand-off pipeline also drops the dashboards' stored charts: tests/mql/test_redate.py.)
    moments = [clock.started_at, clock.started_at - timedelta(hours=1)]
    unfrozen = services.snapshots_invalidate(moments=moments)
    # Its week, month and quarter; not the week after.
    assert unfrozen == 3 * 2  # both commitments of the version
    week.refresh_from_db()
    assert not week.frozen
    assert ComplianceSnapshot.objects.get(
        commitment=_first_contact(version), period_kind="week", period_start=later_week.first_day
    ).frozen
    # The sweep's stale step recomputes them as of their end and freezes them again.
    services.snapshots_refresh(now=now)
    week.refresh_from_db()
    assert (week.frozen, week.as_of) == (True, WEEK.end)
    assert services.snapshots_invalidate(moments=[]) == 0


def test_an_escalation_episode_is_raised_once_across_a_version_change(escalating, make_user):
    commitment, _rule = escalating
    make_user("executive")
    week = _frozen_weeks(commitment, [0.9, 0.7, 0.6])
    assert services.escalations_evaluate(now=week.start + timedelta(hours=1))["alerts"] == 1

    # v2 takes effect with the same promise and the same rule: the kind's history is one, and
    # its episode is not raised again under the new version's rule.
    draft = f.draft_version(effective_at=week.start + timedelta(hours=2))
    f.escalation_rule(commitment=draft.commitments.get(), threshold=0.8, periods=2)
    f.sign(draft)
    assert services.escalations_evaluate(now=week.start + timedelta(hours=3))["alerts"] == 0

    # The next low week continues the same episode; a recovery and two low weeks are a new one.
    week = _frozen_weeks(commitment, [0.9, 0.7, 0.6, 0.5, 0.9, 0.7, 0.7])
    assert services.escalations_evaluate(now=week.start + timedelta(hours=1))["alerts"] == 1
    episodes = Alert.objects.filter(kind="escalation").order_by("period_start")
    assert [a.payload["commitment_kind"] for a in episodes] == ["sales.first_contact_time"] * 2
    assert [a.escalation_rule.version_id for a in episodes] == [commitment.version_id, draft.pk]


def test_a_kind_turns_red_once_per_period_across_a_version_change(version, make_user):
    make_user("sales_leader")
    noon_tuesday = WEEK.start + timedelta(days=1, hours=12)
    _mql(version, at=WEEK.start + timedelta(hours=9))  # never contacted: red by Tuesday noon
    services.snapshots_refresh(now=noon_tuesday)
    # First contact (0 of 1) and volume (1 of 70 a week, 18.75 by now) are red.
    assert services.commitments_red_alert(now=noon_tuesday)["alerts"] == 2

    f.signed_version(
        effective_at=noon_tuesday + timedelta(minutes=1),
        commitments=(f.FIRST_CONTACT_4H, f.MQL_VOLUME),
        contract=version.contract,
        number=2,
    )
    later = noon_tuesday + timedelta(hours=2)
    services.snapshots_refresh(now=later)
    snapshot = ComplianceSnapshot.objects.get(
        kind="sales.first_contact_time", period_kind="week", period_start=WEEK.first_day
    )
    assert (snapshot.status, snapshot.versions) == ("red", [1, 2])
    assert snapshot.commitment.version_id != version.pk  # the newest version speaks for it
    assert services.commitments_red_alert(now=later)["alerts"] == 0


def test_an_open_periods_snapshot_stores_its_clock_kinds_per_owner_a_closed_one_none(
    version, make_user
):
    rep_a, rep_b = make_user("rep"), make_user("rep")
    _mql(version, at=MONDAY, contact_after=timedelta(hours=1), owner=rep_a)
    _mql(version, at=MONDAY + timedelta(hours=1), contact_after=timedelta(hours=6), owner=rep_a)
    _mql(version, at=MONDAY + timedelta(hours=2), contact_after=timedelta(minutes=5), owner=rep_b)
    _mql(version, at=MONDAY + timedelta(days=2))  # nobody's, never contacted
    now = MONDAY + timedelta(days=3)

    services.snapshots_refresh(now=now)

    first_contact = ComplianceSnapshot.objects.get(
        commitment=_first_contact(version), period_kind="week", period_start=WEEK.first_day
    )
    kind = selectors.compliance_for_period(period=WEEK, as_of=now, with_outcomes=False)[0].kind
    live = selectors.commitment_owner_counts(kind=kind, period=WEEK, as_of=now)
    assert live == {rep_a.pk: (1, 1, 0), rep_b.pk: (1, 0, 0), None: (0, 1, 0)}
    assert selectors.snapshot_owner_counts(first_contact) == live
    read = selectors.compliance_for_period(period=WEEK, with_outcomes=False, fresh_since=now)
    assert read[0].source == "snapshot" and read[0].owner_counts == live
    # A lead changing hands through the hand-off moves its counts at the next sweep, as live.
    moved = Lead.objects.get(owner=rep_b)
    channels.lead_reassign(lead=moved, owner=rep_a, actor=make_user("sales_leader"))
    services.snapshots_refresh(now=now + timedelta(minutes=1))
    live = selectors.commitment_owner_counts(
        kind=kind, period=WEEK, as_of=now + timedelta(minutes=1)
    )
    assert live == {rep_a.pk: (2, 1, 0), None: (0, 1, 0)}
    first_contact.refresh_from_db()
    assert selectors.snapshot_owner_counts(first_contact) == live
    # Not a clock kind: no per-owner figures.
    volume = ComplianceSnapshot.objects.get(
        commitment=version.commitments.get(metric="mql_volume"),
        period_kind="week",
        period_start=WEEK.first_day,
    )
    assert volume.owner_counts is None
    # Closed: frozen as of its end without them (leads change hands after it closed).
    services.snapshots_refresh(now=WEEK.end + timedelta(hours=1))
    first_contact.refresh_from_db()
    assert first_contact.frozen and first_contact.owner_counts is None
    # An unfrozen snapshot older than fresh_since is not served.
    month = selectors.compliance_for_period(
        period=period_starting(PeriodKind.MONTH, date(2026, 3, 1), "UTC"),
        with_outcomes=False,
        fresh_since=WEEK.end + timedelta(hours=2),
    )
    assert {item.source for item in month} == {"live"}


def test_the_sweep_keeps_one_row_of_win_rates_equal_to_the_live_ones(version, make_user):
    won_at = MONDAY - timedelta(days=10)
    clocks = [
        _mql(version, at=MONDAY - timedelta(days=40 + i), owner=make_user("rep")) for i in range(5)
    ]
    for i, clock in enumerate(clocks):
        met = i < 3
        clock.state = "met" if met else "breached"
        clock.save(update_fields=["state"])
        if i in (0, 1, 3):
            clock.lead.stage, clock.lead.closed_at = "won", won_at
            clock.lead.amount = Decimal("1000.005") if i == 0 else Decimal(2000 + i)
            clock.lead.save(update_fields=["stage", "closed_at", "amount"])
    now = MONDAY + timedelta(days=1)

    services.snapshots_refresh(now=now)
    # Twelve months of outcomes move slowly: a minute later the stored row is kept ...
    services.snapshots_refresh(now=now + timedelta(minutes=1))
    assert WinRateSnapshot.objects.get().as_of == now
    # ... and replaced once older than WIN_RATES_REFRESH_SECONDS (900 s by default).
    later = now + timedelta(minutes=16)
    services.snapshots_refresh(now=later)

    stored = WinRateSnapshot.objects.get()
    assert stored.as_of == later
    rates = selectors.win_rates_stored(fresh_since=later)
    assert rates == selectors.first_contact_win_rates(as_of=later)
    assert (rates.in_sla_won, rates.in_sla_total, rates.out_sla_won, rates.out_sla_total) == (
        2,
        3,
        1,
        2,
    )
    # The average of 1000.005, 2001 and 2003, cents rounded as the live computation does.
    assert rates.average_won_amount == (
        (Decimal("1000.005") + Decimal(2001) + Decimal(2003)) / 3
    ).quantize(Decimal("0.01"))
    assert selectors.win_rates_stored(fresh_since=later + timedelta(minutes=1)) is None
