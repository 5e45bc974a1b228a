"""Facts the queue and the feedback loop read, created directly with the ORM: a signed SLA version
with its three clock commitments, MQL leads with their MqlEvent and their SLA clocks."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from django.db.models import Max

from apps.dispositions.models import Outcome, ReasonCode
from apps.leads.models import Activity, ActivityFamily, Lead, Stage, activity_family
from apps.mql.models import DefinitionStatus, MqlDefinition, MqlEvent
from apps.sla import business_time
from apps.sla.models import (
    ClockKind,
    Commitment,
    Metric,
    SlaClock,
    SlaContract,
    SlaVersion,
    Team,
    VersionStatus,
)
from apps.sla.selectors import calendar_for_version

_serial = itertools.count(1)

NINE_TO_FIVE_LONDON = {
    "name": "London office",
    "timezone": "Europe/London",
    "week": [[["09:00", "17:00"]]] * 5 + [[], []],
    "holiday_country": "",
    "holiday_subdivision": "",
    "closed_dates": [],
}


def reason_code(label: str | None = None, outcome: str = Outcome.REJECTED, **kw) -> ReasonCode:
    return ReasonCode.objects.create(
        label=label or f"Reason {next(_serial)}",
        outcome=outcome,
        position=kw.pop("position", 99),
        **kw,
    )


def sla_version(
    *,
    effective_at: datetime,
    calendar: dict | None = None,
    first_contact_hours: float = 4,
    disposition_hours: float = 48,
    touches: int = 6,
    days: int = 14,
    signed: bool = True,
) -> SlaVersion:
    """An active (signed) SLA version with first-contact, follow-up and disposition commitments.

    Built as a draft and then activated: the database refuses changes to a signed version.
    """
    contract = SlaContract.objects.create(name=f"SLA {next(_serial)}")
    version = SlaVersion.objects.create(
        contract=contract,
        number=1,
        status=VersionStatus.DRAFT,
        calendar_snapshot=calendar or NINE_TO_FIVE_LONDON,
        effective_at=effective_at,
        activated_at=effective_at,
    )
    specs = [
        (Metric.FIRST_CONTACT_TIME, {"hours": first_contact_hours, "clock": "business"}),
        (Metric.FOLLOW_UP_CADENCE, {"touches": touches, "days": days}),
        (Metric.DISPOSITION_TIME, {"hours": disposition_hours, "clock": "business"}),
    ]
    for position, (metric, params) in enumerate(specs):
        Commitment.objects.create(
            version=version,
            position=position,
            owner_team=Team.SALES,
            metric=metric,
            params=params,
            target=0.8,
            yellow_threshold=0.6,
        )
    if signed:
        SlaVersion.objects.filter(pk=version.pk).update(status=VersionStatus.ACTIVE)
        version.status = VersionStatus.ACTIVE
    return version


def mql_definition(version: int | None = None) -> MqlDefinition:
    number = version or (MqlDefinition.objects.aggregate(n=Max("version"))["n"] or 0) + 1
    definition, _ = MqlDefinition.objects.get_or_create(
        kind="mql",
        version=number,
        defaults={"name": f"Definition v{number}", "status": DefinitionStatus.RETIRED, "rules": {}},
    )
    return definition


_KIND_OF_METRIC = {
    Metric.FIRST_CONTACT_TIME: ClockKind.FIRST_CONTACT,
    Metric.FOLLOW_UP_CADENCE: ClockKind.FOLLOW_UP,
    Metric.DISPOSITION_TIME: ClockKind.DISPOSITION,
}


def open_clocks(*, lead: Lead, event: MqlEvent, version: SlaVersion) -> list[SlaClock]:
    """The clocks the SLA app opens at MQL time, with due_at computed the same way."""
    clocks = []
    for commitment in version.commitments.all():
        params = commitment.params
        if commitment.metric == Metric.FOLLOW_UP_CADENCE:
            due_at = event.qualified_at + timedelta(days=params["days"])
        else:
            calendar = calendar_for_version(version, mode=params.get("clock", "business"))
            due_at = business_time.add(
                calendar, event.qualified_at, timedelta(hours=params["hours"])
            )
        clocks.append(
            SlaClock.objects.create(
                lead=lead,
                mql_event=event,
                commitment=commitment,
                sla_version=version,
                kind=_KIND_OF_METRIC[commitment.metric],
                started_at=event.qualified_at,
                due_at=due_at,
            )
        )
    return clocks


def mql_lead(
    *,
    owner=None,
    mql_at: datetime,
    version: SlaVersion | None = None,
    definition: MqlDefinition | None = None,
    source: str = "webinar",
    campaign: str = "Q4 webinar",
    **fields,
) -> Lead:
    """A lead that became an MQL at `mql_at`, owned by `owner`, with its MqlEvent and clocks."""
    n = next(_serial)
    lead = Lead.objects.create(
        external_id=fields.pop("external_id", f"crm-{n}"),
        email=fields.pop("email", f"lead{n}@prospect.test"),
        first_name=fields.pop("first_name", "Lee"),
        last_name=fields.pop("last_name", f"Prospect {n}"),
        company=fields.pop("company", f"Prospect {n} Ltd"),
        title=fields.pop("title", "Head of Operations"),
        company_size=fields.pop("company_size", 250),
        industry=fields.pop("industry", "software"),
        country=fields.pop("country", "GB"),
        source=source,
        campaign=campaign,
        owner=owner,
        assigned_at=mql_at if owner else None,
        stage=Stage.MQL,
        stage_changed_at=mql_at,
        mql_at=mql_at,
        created_at=mql_at - timedelta(days=3),
        **fields,
    )
    definition = definition or mql_definition()
    event = MqlEvent.objects.create(
        lead=lead,
        definition=definition,
        qualified_at=mql_at,
        score=72,
        explanation={
            "definition": {
                "id": definition.pk,
                "kind": "mql",
                "version": definition.version,
                "name": definition.name,
            },
            "conditions": [
                {
                    "path": "fit.0",
                    "label": "Company size between 100 and 5,000",
                    "met": True,
                    "detail": "250",
                },
                {
                    "path": "behaviour.0",
                    "label": "Visited the pricing page in the last 7 days",
                    "met": True,
                    "detail": "2 visits",
                },
            ],
            "score_lines": [],
            "reasons": ["Qualified: fit, behaviour and score requirements are all met."],
            "score": 72,
            "threshold": 60,
        },
    )
    if version is not None:
        open_clocks(lead=lead, event=event, version=version)
    return lead


def touch(lead: Lead, *, kind: str = "call", at: datetime, actor=None, note: str = "") -> Activity:
    """A stored sales touch (for set-up; the code under test logs them through the leads app)."""
    return Activity.objects.create(
        lead=lead,
        kind=kind,
        family=activity_family(kind),
        occurred_at=at,
        external_id=f"act-{next(_serial)}",
        actor=actor,
        note=note,
    )


def engagement(lead: Lead, *, kind: str = "page_view", at: datetime) -> Activity:
    assert activity_family(kind) == ActivityFamily.ENGAGEMENT
    return Activity.objects.create(
        lead=lead,
        kind=kind,
        family=ActivityFamily.ENGAGEMENT,
        occurred_at=at,
        external_id=f"act-{next(_serial)}",
        properties={"url": "/pricing"},
    )
