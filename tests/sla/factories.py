"""Factories for SLA tests: leads, MQL events, facts, and signed versions built through the ORM."""

from __future__ import annotations

import itertools
from datetime import datetime

from django.utils import timezone

from apps.dispositions.models import Disposition
from apps.leads.models import Activity, Lead, activity_family
from apps.mql.models import DefinitionStatus, MqlDefinition, MqlEvent
from apps.sla.models import Commitment, SlaContract, SlaVersion, VersionStatus
from apps.sla.snapshots import NINE_TO_FIVE_WEEK, calendar_json

_seq = itertools.count(1)

MQL_RULES = {
    "fit": {"match": "all", "conditions": [{"field": "company_size", "op": "gte", "value": 50}]},
    "behaviour": {
        "match": "all",
        "conditions": [
            {
                "kind": "page_view",
                "property": "url",
                "match": "contains",
                "value": "/pricing",
                "min_count": 1,
                "within_days": 7,
            }
        ],
    },
}


def definition(**kwargs) -> MqlDefinition:
    n = next(_seq)
    values = {
        "version": 1000 + n,
        "name": f"MQL definition {n}",
        "status": DefinitionStatus.RETIRED,
        "rules": MQL_RULES,
    }
    values.update(kwargs)
    return MqlDefinition.objects.create(**values)


def lead(**kwargs) -> Lead:
    n = next(_seq)
    values = {
        "external_id": f"lead-{n}",
        "email": f"lead{n}@prospect.test",
        "company_size": 120,
        "source": "paid_search",
    }
    values.update(kwargs)
    return Lead.objects.create(**values)


def mql_event(*, lead: Lead, at: datetime, definition_obj: MqlDefinition | None = None) -> MqlEvent:
    Lead.objects.filter(pk=lead.pk).update(stage="mql", mql_at=at)
    return MqlEvent.objects.create(
        lead=lead, definition=definition_obj or definition(), qualified_at=at
    )


def touch(*, lead: Lead, at: datetime, kind: str = "call") -> Activity:
    return Activity.objects.create(
        lead=lead,
        kind=kind,
        family=activity_family(kind),
        occurred_at=at,
        external_id=f"act-{next(_seq)}",
    )


def disposition(*, lead: Lead, at: datetime, outcome: str = "accepted") -> Disposition:
    return Disposition.objects.create(lead=lead, outcome=outcome, occurred_at=at)


def calendar_snapshot(timezone_name: str = "UTC", week=None, **kwargs) -> dict:
    return calendar_json(
        name="Test calendar",
        timezone=timezone_name,
        week=week or NINE_TO_FIVE_WEEK,
        **kwargs,
    )


FIRST_CONTACT_4H = {
    "owner_team": "sales",
    "metric": "first_contact_time",
    "params": {"hours": 4, "clock": "business"},
    "target": 0.9,
    "yellow_threshold": 0.8,
}
FOLLOW_UP_6_IN_14 = {
    "owner_team": "sales",
    "metric": "follow_up_cadence",
    "params": {"touches": 6, "days": 14},
    "target": 0.9,
    "yellow_threshold": 0.75,
}
DISPOSITION_48H = {
    "owner_team": "sales",
    "metric": "disposition_time",
    "params": {"hours": 48, "clock": "calendar"},
    "target": 0.95,
    "yellow_threshold": 0.85,
}
MQL_VOLUME = {
    "owner_team": "marketing",
    "metric": "mql_volume",
    "params": {},
    "target": 150,
    "yellow_threshold": 120,
    "review_period": "month",
}


def signed_version(
    *,
    effective_at: datetime,
    commitments=(FIRST_CONTACT_4H, FOLLOW_UP_6_IN_14, DISPOSITION_48H, MQL_VOLUME),
    snapshot: dict | None = None,
    superseded_at: datetime | None = None,
    contract: SlaContract | None = None,
) -> SlaVersion:
    """A signed version written straight to the table (the sign-off itself has its own tests)."""
    contract = contract or SlaContract.objects.create(name="Test SLA")
    number = (
        contract.versions.order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    version = SlaVersion.objects.create(
        contract=contract,
        number=number,
        calendar_snapshot=snapshot if snapshot is not None else calendar_snapshot(),
        effective_at=effective_at,
        mql_definition=definition(),
    )
    for position, values in enumerate(commitments):
        Commitment.objects.create(version=version, position=position, **values)
    SlaVersion.objects.filter(pk=version.pk).update(
        status=VersionStatus.SUPERSEDED if superseded_at else VersionStatus.ACTIVE,
        activated_at=timezone.now(),
        superseded_at=superseded_at,
    )
    version.refresh_from_db()
    return version
