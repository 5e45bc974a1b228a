"""Dispositions, reason codes and touches through the services: rules, history, stage moves,
permissions and the SLA clocks they close."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.exceptions import Conflict, DomainError, NotAllowed
from apps.accounts.roles import Capability, Role, roles_for
from apps.dispositions import selectors, services
from apps.dispositions.models import Disposition, Outcome, ReasonCode
from apps.dispositions.provisioning import DEFAULT_REASON_CODES, provision
from apps.handoff import channels
from apps.leads.models import Activity, Stage, StageChange
from apps.mql.models import MqlEvent
from apps.sla.models import ClockKind, ClockState
from tests.dispositions import factories as f

pytestmark = pytest.mark.django_db

# Everyone the one capability table does not let work leads (admins may: README's table).
ROLES_WITHOUT_LEAD_WORK = set(Role.values) - roles_for(Capability.WORK_LEADS)


@pytest.fixture
def rep(make_user):
    return make_user("rep")


@pytest.fixture
def lead(acme, rep):
    return f.mql_lead(owner=rep, mql_at=timezone.now() - timedelta(hours=3))


@pytest.fixture
def rejected_code(acme):
    return f.reason_code("Not a decision-maker (test)", Outcome.REJECTED)


@pytest.fixture
def nurture_code(acme):
    return f.reason_code("Timeline too long (test)", Outcome.NURTURE)


# --- reason requirement ----------------------------------------------------------


@pytest.mark.parametrize("outcome", [Outcome.REJECTED, Outcome.NURTURE])
def test_rejected_and_nurture_need_a_reason(lead, rep, outcome):
    with pytest.raises(DomainError) as error:
        channels.disposition_create(lead=lead, outcome=outcome, actor=rep)
    assert error.value.field == "reason_code"
    assert not Disposition.objects.filter(lead=lead).exists()
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL


def test_the_reason_must_belong_to_the_outcome(lead, rep, nurture_code):
    with pytest.raises(DomainError) as error:
        channels.disposition_create(
            lead=lead, outcome=Outcome.REJECTED, reason_code=nurture_code, actor=rep
        )
    assert error.value.field == "reason_code"
    assert "not for rejected" in error.value.message


@pytest.mark.parametrize("outcome", [Outcome.ACCEPTED, Outcome.WORKING])
def test_accepted_and_working_take_no_reason(lead, rep, rejected_code, outcome):
    with pytest.raises(DomainError) as error:
        channels.disposition_create(
            lead=lead, outcome=outcome, reason_code=rejected_code, actor=rep
        )
    assert error.value.field == "reason_code"


def test_unknown_outcome_is_refused(lead, rep):
    with pytest.raises(DomainError) as error:
        channels.disposition_create(lead=lead, outcome="maybe", actor=rep)
    assert error.value.field == "outcome"


# --- stage moves -----------------------------------------------------------------


def test_accepted_moves_the_lead_to_sql_at_the_disposition_time(lead, rep):
    when = timezone.now() - timedelta(minutes=30)
    disposition = channels.disposition_create(
        lead=lead, outcome=Outcome.ACCEPTED, actor=rep, occurred_at=when, note="Budget confirmed"
    )
    lead.refresh_from_db()
    assert lead.stage == Stage.SQL
    assert lead.sql_at == when
    change = StageChange.objects.get(lead=lead, to_stage=Stage.SQL)
    assert (change.from_stage, change.actor, change.channel) == (Stage.MQL, rep, "ui")
    assert disposition.mql_event == MqlEvent.objects.get(lead=lead)
    assert disposition.actor == rep and disposition.note == "Budget confirmed"


@pytest.mark.parametrize(
    ("outcome", "stage"),
    [
        (Outcome.REJECTED, Stage.DISQUALIFIED),
        (Outcome.NURTURE, Stage.NURTURE),
        (Outcome.WORKING, Stage.MQL),
    ],
)
def test_each_outcome_moves_the_stage(lead, rep, outcome, stage, rejected_code, nurture_code):
    code = {Outcome.REJECTED: rejected_code, Outcome.NURTURE: nurture_code}.get(outcome)
    channels.disposition_create(lead=lead, outcome=outcome, reason_code=code, actor=rep)
    lead.refresh_from_db()
    assert lead.stage == stage


def test_an_opportunity_is_not_moved_by_a_late_disposition(lead, rep, rejected_code):
    lead.stage = Stage.OPPORTUNITY
    lead.save(update_fields=["stage"])
    channels.disposition_create(
        lead=lead, outcome=Outcome.REJECTED, reason_code=rejected_code, actor=rep
    )
    lead.refresh_from_db()
    assert lead.stage == Stage.OPPORTUNITY
    assert lead.dispositions.count() == 1


# --- time --------------------------------------------------------------------------


def test_back_dated_disposition_is_accepted(lead, rep, rejected_code):
    when = timezone.now() - timedelta(hours=2)
    disposition = channels.disposition_create(
        lead=lead,
        outcome=Outcome.REJECTED,
        reason_code=rejected_code,
        actor=rep,
        occurred_at=when,
        channel="api",
    )
    assert disposition.occurred_at == when
    assert disposition.recorded_at > when


def test_future_dated_disposition_is_refused(lead, rep):
    with pytest.raises(DomainError) as error:
        channels.disposition_create(
            lead=lead,
            outcome=Outcome.ACCEPTED,
            actor=rep,
            occurred_at=timezone.now() + timedelta(hours=1),
        )
    assert error.value.field == "occurred_at"
    assert not lead.dispositions.exists()


def test_a_sender_clock_a_little_ahead_is_not_the_future(lead, rep):
    channels.disposition_create(
        lead=lead,
        outcome=Outcome.WORKING,
        actor=rep,
        occurred_at=timezone.now() + timedelta(seconds=30),
    )
    assert lead.dispositions.count() == 1


def test_naive_time_is_refused(lead, rep):
    with pytest.raises(DomainError) as error:
        channels.disposition_create(
            lead=lead,
            outcome=Outcome.WORKING,
            actor=rep,
            occurred_at=timezone.now().replace(tzinfo=None),
        )
    assert error.value.field == "occurred_at"


# --- history and derived state -------------------------------------------------------


def test_every_disposition_is_kept_and_the_latest_decides(lead, rep, rejected_code):
    now = timezone.now()
    channels.disposition_create(
        lead=lead, outcome=Outcome.WORKING, actor=rep, occurred_at=now - timedelta(hours=2)
    )
    channels.disposition_create(
        lead=lead,
        outcome=Outcome.REJECTED,
        reason_code=rejected_code,
        actor=rep,
        occurred_at=now - timedelta(hours=1),
    )
    # History imported later, older than what we know: kept, not applied.
    channels.disposition_create(
        lead=lead,
        outcome=Outcome.ACCEPTED,
        actor=rep,
        occurred_at=now - timedelta(hours=1, minutes=30),
        channel="api",
    )
    history = list(selectors.lead_disposition_history(lead=lead))
    assert [d.outcome for d in history] == [Outcome.REJECTED, Outcome.ACCEPTED, Outcome.WORKING]
    assert selectors.lead_disposition_current(lead=lead).outcome == Outcome.REJECTED
    lead.refresh_from_db()
    assert lead.stage == Stage.DISQUALIFIED
    assert lead.sql_at is None
    assert selectors.latest_dispositions(lead_ids=[lead.pk])[lead.pk].outcome == Outcome.REJECTED


def test_a_disposition_of_an_earlier_mql_does_not_move_a_requalified_lead(lead, rep, rejected_code):
    # The lead re-qualified an hour ago; a disposition from before that arrives late.
    requalified = timezone.now() - timedelta(hours=1)
    second = MqlEvent.objects.create(
        lead=lead, definition=f.mql_definition(), qualified_at=requalified
    )
    lead.mql_at = requalified
    lead.save(update_fields=["mql_at"])
    old = channels.disposition_create(
        lead=lead,
        outcome=Outcome.REJECTED,
        reason_code=rejected_code,
        actor=rep,
        occurred_at=requalified - timedelta(minutes=30),
    )
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL
    assert old.mql_event == MqlEvent.objects.filter(lead=lead).exclude(pk=second.pk).get()
    new = channels.disposition_create(lead=lead, outcome=Outcome.ACCEPTED, actor=rep)
    assert new.mql_event == second


def test_same_external_id_twice_changes_nothing(lead, rep):
    first = channels.disposition_create(
        lead=lead, outcome=Outcome.ACCEPTED, actor=rep, external_id="sf-1"
    )
    again = channels.disposition_create(
        lead=lead, outcome=Outcome.ACCEPTED, actor=rep, external_id="sf-1", note="resent"
    )
    assert again.pk == first.pk and again.note == ""
    assert lead.dispositions.count() == 1


def test_external_id_of_another_lead_conflicts(lead, rep):
    other = f.mql_lead(owner=rep, mql_at=timezone.now() - timedelta(hours=1))
    channels.disposition_create(lead=lead, outcome=Outcome.WORKING, actor=rep, external_id="sf-2")
    with pytest.raises(Conflict) as error:
        channels.disposition_create(
            lead=other, outcome=Outcome.WORKING, actor=rep, external_id="sf-2"
        )
    assert error.value.field == "external_id"


# --- permissions ---------------------------------------------------------------------


def test_a_rep_acts_only_on_own_leads(lead, make_user):
    other_rep = make_user("rep")
    with pytest.raises(NotAllowed):
        channels.disposition_create(lead=lead, outcome=Outcome.ACCEPTED, actor=other_rep)
    with pytest.raises(NotAllowed):
        channels.touch_record(lead=lead, kind="call", actor=other_rep)
    assert not lead.dispositions.exists()
    assert not Activity.objects.filter(lead=lead).exists()


def test_a_sales_leader_acts_on_the_team_leads(lead, make_user):
    leader = make_user("sales_leader")
    disposition = channels.disposition_create(lead=lead, outcome=Outcome.ACCEPTED, actor=leader)
    assert disposition.actor == leader
    unowned = f.mql_lead(owner=None, mql_at=timezone.now() - timedelta(hours=1))
    channels.touch_record(lead=unowned, kind="email_sent", actor=leader)
    assert Activity.objects.filter(lead=unowned, kind="email_sent", actor=leader).exists()


@pytest.mark.parametrize("role", sorted(set(ROLES_WITHOUT_LEAD_WORK)))
def test_other_roles_do_not_give_dispositions(lead, make_user, role):
    with pytest.raises(NotAllowed):
        channels.disposition_create(lead=lead, outcome=Outcome.ACCEPTED, actor=make_user(role))


def test_a_deactivated_rep_cannot_act(lead, rep):
    rep.is_active = False
    rep.save(update_fields=["is_active"])
    with pytest.raises(NotAllowed):
        channels.disposition_create(lead=lead, outcome=Outcome.WORKING, actor=rep)


# --- reason codes --------------------------------------------------------------------


def test_provisioning_seeds_the_domain_list_once(acme):
    provision()
    provision()
    live = {(c.label, c.outcome) for c in ReasonCode.objects.filter(retired_at__isnull=True)}
    assert {(label, outcome.value) for label, outcome in DEFAULT_REASON_CODES} <= live
    assert ("Timeline too long", "nurture") in live
    assert ("Chose a competitor", "rejected") in live
    assert ReasonCode.objects.filter(label="Not a decision-maker").count() == 1


def test_leaders_add_rename_reorder_retire_and_restore(make_user):
    leader = make_user("sales_leader")
    first = services.reason_code_create(
        label="  No  budget this year ", outcome="rejected", actor=leader
    )
    second = services.reason_code_create(label="Wrong region", outcome="rejected", actor=leader)
    assert first.label == "No budget this year"
    assert second.position == first.position + 1
    with pytest.raises(DomainError) as error:
        services.reason_code_create(label="wrong REGION", outcome="rejected", actor=leader)
    assert error.value.field == "label"
    services.reason_code_rename(reason_code=second, label="Outside our regions", actor=leader)
    services.reason_code_move(reason_code=second, offset=-1, actor=leader)
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.position < first.position
    services.reason_code_retire(reason_code=second, actor=leader)
    assert second.retired_at is not None
    assert second not in selectors.reason_codes_offered()["rejected"]
    services.reason_code_restore(reason_code=second, actor=leader)
    assert second.retired_at is None
    assert selectors.reason_codes_offered()["rejected"][-1] == second


def test_reorder_needs_the_whole_current_list(make_user):
    leader = make_user("admin")
    code = services.reason_code_create(label="A reason", outcome="nurture", actor=leader)
    with pytest.raises(Conflict):
        services.reason_codes_reorder(outcome="nurture", ordered_ids=[code.pk], actor=leader)


def test_reps_do_not_manage_reason_codes(rep):
    with pytest.raises(NotAllowed):
        services.reason_code_create(label="Mine", outcome="rejected", actor=rep)


def test_a_retired_code_stays_on_old_dispositions_and_is_refused_for_new_ones(
    lead, rep, rejected_code, make_user
):
    leader = make_user("sales_leader")
    old = channels.disposition_create(
        lead=lead,
        outcome=Outcome.WORKING,
        actor=rep,
        occurred_at=timezone.now() - timedelta(hours=2),
    )
    kept = channels.disposition_create(
        lead=f.mql_lead(owner=rep, mql_at=timezone.now() - timedelta(hours=5)),
        outcome=Outcome.REJECTED,
        reason_code=rejected_code,
        actor=rep,
    )
    services.reason_code_retire(reason_code=rejected_code, actor=leader)
    kept.refresh_from_db()
    assert kept.reason_code == rejected_code
    with pytest.raises(DomainError) as error:
        channels.disposition_create(
            lead=lead, outcome=Outcome.REJECTED, reason_code=rejected_code, actor=rep
        )
    assert error.value.field == "reason_code"
    # History that happened while the code was offered may still use it.
    channels.disposition_create(
        lead=lead,
        outcome=Outcome.REJECTED,
        reason_code=rejected_code,
        actor=rep,
        occurred_at=old.occurred_at + timedelta(minutes=5),
        channel="api",
    )


# --- bulk ----------------------------------------------------------------------------


def test_bulk_reports_each_item_by_index(rep, make_user, rejected_code):
    now = timezone.now()
    mine = [f.mql_lead(owner=rep, mql_at=now - timedelta(hours=2)) for _ in range(2)]
    theirs = f.mql_lead(owner=make_user("rep"), mql_at=now - timedelta(hours=2))
    items = [
        services.DispositionItem(lead=mine[0], outcome="rejected", reason_code=rejected_code),
        services.DispositionItem(
            lead=mine[1].external_id, outcome="rejected", reason_code="not a decision-maker (test)"
        ),
        services.DispositionItem(lead=theirs, outcome="rejected", reason_code=rejected_code),
        services.DispositionItem(lead="no-such-lead", outcome="accepted"),
        services.DispositionItem(lead=mine[0], outcome="nurture"),
    ]
    report = channels.dispositions_bulk_create(items=items, principal=rep, channel="web")
    assert [r.status for r in report.results] == [
        "created",
        "created",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert report.results[2].errors == {"lead": ["You can only work leads you own."]}
    assert "lead" in report.results[3].errors
    assert "reason_code" in report.results[4].errors
    assert (report.created, report.rejected) == (2, 3)
    for lead in mine:
        lead.refresh_from_db()
        assert lead.stage == Stage.DISQUALIFIED


# --- SLA clocks ----------------------------------------------------------------------


@pytest.fixture
def clocked_lead(acme, rep):
    now = timezone.now()
    version = f.sla_version(effective_at=now - timedelta(days=30))
    return f.mql_lead(owner=rep, mql_at=now - timedelta(minutes=10), version=version)


def _clock(lead, kind):
    return lead.sla_clocks.get(kind=kind)


def test_a_touch_closes_the_first_contact_clock(clocked_lead, rep):
    touch = channels.touch_record(
        lead=clocked_lead, kind="call", actor=rep, note="Left a voicemail"
    )
    clock = _clock(clocked_lead, ClockKind.FIRST_CONTACT)
    assert clock.met_at == touch.occurred_at
    assert clock.state == ClockState.MET
    assert touch.family == "sales_touch" and touch.actor == rep and touch.note == "Left a voicemail"
    # One touch of six: the follow-up cadence and the disposition are still open.
    assert _clock(clocked_lead, ClockKind.FOLLOW_UP).state == ClockState.PENDING
    assert _clock(clocked_lead, ClockKind.DISPOSITION).met_at is None


def test_a_final_disposition_closes_the_disposition_and_cadence_clocks(
    clocked_lead, rep, rejected_code
):
    disposition = channels.disposition_create(
        lead=clocked_lead, outcome=Outcome.REJECTED, reason_code=rejected_code, actor=rep
    )
    settled = _clock(clocked_lead, ClockKind.DISPOSITION)
    assert settled.met_at == disposition.occurred_at
    assert settled.state == ClockState.MET
    assert _clock(clocked_lead, ClockKind.FOLLOW_UP).state == ClockState.MET
    # A disposition is not a touch: first contact is still owed.
    assert _clock(clocked_lead, ClockKind.FIRST_CONTACT).met_at is None


def test_working_does_not_close_the_disposition_clock(clocked_lead, rep):
    channels.disposition_create(lead=clocked_lead, outcome=Outcome.WORKING, actor=rep)
    assert _clock(clocked_lead, ClockKind.DISPOSITION).met_at is None


def test_a_late_touch_meets_the_clock_late(acme, rep):
    now = timezone.now()
    version = f.sla_version(
        effective_at=now - timedelta(days=60),
        calendar={
            "timezone": "UTC",
            "week": [[["00:00", "24:00"]]] * 7,
        },
    )
    lead = f.mql_lead(owner=rep, mql_at=now - timedelta(hours=10), version=version)
    channels.touch_record(lead=lead, kind="call", actor=rep)
    clock = _clock(lead, ClockKind.FIRST_CONTACT)
    assert clock.met_at is not None
    assert clock.state == ClockState.BREACHED


# --- undo -------------------------------------------------------------------------------


def test_undo_puts_the_lead_and_its_clocks_back_as_they_were(clocked_lead, rep):
    lead = clocked_lead
    before = (lead.stage, lead.stage_changed_at, lead.sql_at)
    clocks_before = {c.kind: (c.state, c.met_at) for c in lead.sla_clocks.all()}
    given = channels.disposition_create(lead=lead, outcome="accepted", actor=rep)
    lead.refresh_from_db()
    assert lead.stage == Stage.SQL and lead.sql_at is not None
    assert lead.sla_clocks.get(kind=ClockKind.DISPOSITION).state == ClockState.MET

    channels.disposition_undo(disposition=given, actor=rep)
    lead.refresh_from_db()
    assert (lead.stage, lead.stage_changed_at, lead.sql_at) == before
    assert {c.kind: (c.state, c.met_at) for c in lead.sla_clocks.all()} == clocks_before
    assert not Disposition.objects.filter(lead=lead).exists()
    assert not StageChange.objects.filter(lead=lead, to_stage=Stage.SQL).exists()


def test_undo_is_for_the_author_only(clocked_lead, rep, make_user, rejected_code):
    given = channels.disposition_create(
        lead=clocked_lead, outcome="rejected", reason_code=rejected_code, actor=rep
    )
    with pytest.raises(NotAllowed):
        channels.disposition_undo(disposition=given, actor=make_user("sales_leader"))
    assert Disposition.objects.filter(pk=given.pk).exists()


def test_undo_only_for_a_few_seconds(clocked_lead, rep):
    given = channels.disposition_create(lead=clocked_lead, outcome="accepted", actor=rep)
    later = given.recorded_at + services.UNDO_WINDOW + timedelta(seconds=1)
    with pytest.raises(Conflict, match="Too late to undo"):
        channels.disposition_undo(disposition=given, actor=rep, now=later)
    clocked_lead.refresh_from_db()
    assert clocked_lead.stage == Stage.SQL


def test_undo_only_the_latest_word(clocked_lead, rep, nurture_code):
    first = channels.disposition_create(lead=clocked_lead, outcome="working", actor=rep)
    channels.disposition_create(
        lead=clocked_lead, outcome="nurture", reason_code=nurture_code, actor=rep
    )
    with pytest.raises(Conflict, match="newer disposition"):
        channels.disposition_undo(disposition=first, actor=rep)
