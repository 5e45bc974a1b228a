"""Rows for compliance tests, written straight through the ORM (the services that normally
create them belong to other apps and have their own tests)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from django.db.models import Max
from django.utils import timezone

from apps.compliance.facts import facts_refresh
from apps.compliance.kinds import kind_key
from apps.compliance.models import ComplianceSnapshot
from apps.compliance.periods import PeriodKind, following, period_starting
from apps.dispositions.models import Disposition, ReasonCode
from apps.leads.models import Activity, Lead, StageChange, activity_family
from apps.mql.models import DefinitionStatus, MqlDefinition, MqlEvent
from apps.sla import business_time
from apps.sla.models import (
    ClockKind,
    Commitment,
    EscalationRule,
    SlaClock,
    SlaContract,
    SlaVersion,
    VersionStatus,
)
from apps.sla.snapshots import NINE_TO_FIVE_WEEK, calendar_from_json, calendar_json

_seq = itertools.count(1)

KIND_BY_METRIC = {
    "first_contact_time": ClockKind.FIRST_CONTACT,
    "follow_up_cadence": ClockKind.FOLLOW_UP,
    "disposition_time": ClockKind.DISPOSITION,
}

FIRST_CONTACT_4H = {
    "owner_team": "sales",
    "metric": "first_contact_time",
    "params": {"hours": 4, "clock": "business"},
    "target": 0.8,
    "yellow_threshold": 0.6,
    "label": "First contact within 4 business hours",
}
MQL_VOLUME = {
    "owner_team": "marketing",
    "metric": "mql_volume",
    "params": {},
    "target": 70,
    "yellow_threshold": 56,
    "review_period": "week",
    "label": "MQLs per week",
}


def snapshot(tz: str = "UTC", week=None, **kwargs) -> dict:
    return calendar_json(
        name="Test calendar", timezone=tz, week=week or NINE_TO_FIVE_WEEK, **kwargs
    )


def definition() -> MqlDefinition:
    # The next free version number: a fixed offset collides with other apps' factories.
    latest = MqlDefinition.objects.filter(kind="mql").aggregate(top=Max("version"))["top"] or 0
    return MqlDefinition.objects.create(
        version=latest + 1,
        name=f"Definition {latest + 1}",
        status=DefinitionStatus.RETIRED,
        rules={},
    )


def signed_version(
    *,
    effective_at: datetime,
    commitments=(FIRST_CONTACT_4H,),
    calendar: dict | None = None,
    superseded_at: datetime | None = None,
    contract: SlaContract | None = None,
    number: int = 1,
) -> SlaVersion:
    """A signed (active) version with its commitments, written straight to the tables; it
    supersedes the version in force from its effective time, as signing does."""
    contract = contract or SlaContract.objects.create(name=f"SLA {next(_seq)}")
    version = SlaVersion.objects.create(
        contract=contract,
        number=number,
        calendar_snapshot=calendar if calendar is not None else snapshot(),
        effective_at=effective_at,
        mql_definition=definition(),
    )
    for position, values in enumerate(commitments):
        Commitment.objects.create(version=version, position=position, **values)
    _cut_versions_in_force(effective_at)
    # Signing is the SLA app's business; the guard trigger allows this draft -> active move.
    SlaVersion.objects.filter(pk=version.pk).update(
        status=VersionStatus.SUPERSEDED if superseded_at else VersionStatus.ACTIVE,
        activated_at=effective_at,
        superseded_at=superseded_at,
    )
    version.refresh_from_db()
    return version


def _cut_versions_in_force(effective_at: datetime) -> None:
    """As signing does: at most one signed version is in force at any instant (a DB constraint)."""
    SlaVersion.objects.filter(status=VersionStatus.ACTIVE, superseded_at__isnull=True).update(
        status=VersionStatus.SUPERSEDED, superseded_at=effective_at
    )


def escalation_rule(*, commitment: Commitment, **kwargs) -> EscalationRule:
    """Added before signing in real life; the guard only allows it on a draft, so tests add it
    to a version built with ``draft_version`` and sign afterwards with ``sign``."""
    values = {"threshold": 0.8, "periods": 2, "period_kind": "week", "notify_role": "executive"}
    values.update(kwargs)
    return EscalationRule.objects.create(
        version=commitment.version, commitment=commitment, **values
    )


def draft_version(*, effective_at: datetime, commitments=(FIRST_CONTACT_4H,), calendar=None):
    contract = SlaContract.objects.create(name=f"SLA {next(_seq)}")
    version = SlaVersion.objects.create(
        contract=contract,
        number=1,
        calendar_snapshot=calendar if calendar is not None else snapshot(),
        effective_at=effective_at,
        mql_definition=definition(),
    )
    for position, values in enumerate(commitments):
        Commitment.objects.create(version=version, position=position, **values)
    return version


def sign(version: SlaVersion) -> SlaVersion:
    _cut_versions_in_force(version.effective_at)
    SlaVersion.objects.filter(pk=version.pk).update(
        status=VersionStatus.ACTIVE, activated_at=version.effective_at
    )
    version.refresh_from_db()
    return version


def lead(**kwargs) -> Lead:
    n = next(_seq)
    values = {
        "external_id": f"c-lead-{n}-{timezone.now().timestamp()}",
        "email": f"lead{n}@prospect.test",
        "first_name": "Lead",
        "last_name": f"#{n}",
        "company": f"Company {n}",
        "source": "webinar",
    }
    values.update(kwargs)
    return Lead.objects.create(**values)


def refresh_facts(*lead_ids: int) -> None:
    """Keep the per-MQL-event fact table current after writing raw rows, as the hand-off
    pipeline does in the transaction of the facts it stores (compliance reads the table)."""
    facts_refresh(lead_ids=lead_ids, now=timezone.now())


def mql_event(*, lead: Lead, at: datetime, definition_obj: MqlDefinition | None = None) -> MqlEvent:
    Lead.objects.filter(pk=lead.pk).update(stage="mql", mql_at=at)
    event = MqlEvent.objects.create(
        lead=lead, definition=definition_obj or definition(), qualified_at=at
    )
    refresh_facts(lead.pk)
    return event


def clock(
    *,
    event: MqlEvent,
    commitment: Commitment,
    due_at: datetime | None = None,
    started_at: datetime | None = None,
) -> SlaClock:
    """A clock as clocks_open would open it: due computed with the version's calendar."""
    started = started_at or event.qualified_at
    if due_at is None:
        params = commitment.params or {}
        if commitment.metric == "follow_up_cadence":
            due_at = started + timedelta(days=params["days"])
        else:
            calendar = calendar_from_json(
                commitment.version.calendar_snapshot,
                mode=params.get("clock", business_time.BUSINESS),
            )
            due_at = business_time.add(calendar, started, timedelta(hours=params["hours"]))
    clock = SlaClock.objects.create(
        lead_id=event.lead_id,
        mql_event=event,
        commitment=commitment,
        sla_version=commitment.version,
        kind=KIND_BY_METRIC[commitment.metric],
        started_at=started,
        due_at=due_at,
    )
    refresh_facts(event.lead_id)
    return clock


def touch(*, lead: Lead, at: datetime, kind: str = "call", actor=None) -> Activity:
    activity = Activity.objects.create(
        lead=lead,
        kind=kind,
        family=activity_family(kind),
        occurred_at=at,
        external_id=f"c-act-{next(_seq)}-{timezone.now().timestamp()}",
        actor=actor,
    )
    refresh_facts(lead.pk)
    return activity


def reason_code(outcome: str = "rejected") -> ReasonCode:
    return ReasonCode.objects.create(label=f"Reason {next(_seq)}", outcome=outcome)


def disposition(*, lead: Lead, at: datetime, outcome: str = "accepted", reason=None) -> Disposition:
    found = Disposition.objects.create(
        lead=lead, outcome=outcome, occurred_at=at, reason_code=reason
    )
    refresh_facts(lead.pk)
    return found


def stage_change(*, lead: Lead, to_stage: str, at: datetime, from_stage: str = "") -> StageChange:
    change = StageChange.objects.create(
        lead=lead, from_stage=from_stage, to_stage=to_stage, occurred_at=at
    )
    refresh_facts(lead.pk)
    return change


def frozen_weeks(commitment: Commitment, values, *, first, tz: str = "UTC"):
    """Frozen weekly snapshots of ``commitment`` with these values, from the week starting on
    ``first`` (None = a grey week); returns the first week not recorded."""
    period = period_starting(PeriodKind.WEEK, first, tz)
    for value in values:
        ComplianceSnapshot.objects.update_or_create(
            kind=kind_key(commitment.owner_team, commitment.metric),
            period_kind="week",
            period_start=period.first_day,
            defaults={
                "commitment": commitment,
                "versions": [commitment.version.number],
                "starts_at": period.start,
                "ends_at": period.end,
                "as_of": period.end,
                "value": value,
                "numerator": 0,
                "denominator": 0 if value is None else 1,
                "target": commitment.target,
                "yellow_threshold": commitment.yellow_threshold,
                "status": "grey" if value is None else "red",
                "frozen": True,
                "computed_at": period.end,
            },
        )
        period = following(period)
    return period
