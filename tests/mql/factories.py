"""Factories for MQL tests: leads and activities straight through the ORM, definitions by service."""

from datetime import datetime

import factory

from apps.leads.models import Activity, Lead, activity_family
from apps.mql.models import DefinitionKind, DefinitionStatus, MqlDefinition

# The demo contract in miniature: fit = company size >= 50 and not a free email;
# behaviour = a pricing visit in 7 days or a demo request in 30; score threshold 40.
MQL_RULES = {
    "fit": {
        "match": "all",
        "conditions": [
            {"id": "size", "field": "company_size", "op": "gte", "value": 50},
            {
                "id": "business_email",
                "field": "email_domain",
                "op": "not_in",
                "value": ["gmail.com", "yahoo.com", "hotmail.com"],
            },
        ],
    },
    "behaviour": {
        "match": "any",
        "conditions": [
            {
                "id": "pricing",
                "label": "Visited pricing",
                "kind": "page_view",
                "property": "url",
                "match": "contains",
                "value": "/pricing",
                "within_days": 7,
            },
            {
                "id": "demo",
                "label": "Asked for a demo",
                "kind": "form_submit",
                "property": "form",
                "match": "equals",
                "value": "demo-request",
                "within_days": 30,
            },
        ],
    },
    "scoring": {
        "threshold": 40,
        "rules": [
            {
                "id": "pricing_visit",
                "signal": {
                    "type": "activity",
                    "kind": "page_view",
                    "property": "url",
                    "match": "contains",
                    "value": "/pricing",
                },
                "points": 40,
                "decay": {"type": "half_life", "days": 7},
            },
            {
                "id": "demo_request",
                "signal": {
                    "type": "activity",
                    "kind": "form_submit",
                    "property": "form",
                    "match": "equals",
                    "value": "demo-request",
                },
                "points": 60,
                "decay": {"type": "linear", "days": 30},
            },
        ],
    },
}

PQL_RULES = {
    "behaviour": {
        "conditions": [
            {
                "id": "invites",
                "label": "Invited 3 teammates",
                "kind": "product_event",
                "property": "event",
                "match": "equals",
                "value": "teammate_invited",
                "min_count": 3,
                "within_days": 14,
            }
        ]
    }
}


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    external_id = factory.Sequence(lambda n: f"lead-{n}")
    email = factory.Sequence(lambda n: f"buyer{n}@bigco.example")
    first_name = "Ann"
    last_name = factory.Sequence(lambda n: f"Buyer{n}")
    company = "BigCo"
    company_size = 500
    industry = "Software"
    country = "US"
    source = "webinar"


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    kind = "page_view"
    family = factory.LazyAttribute(lambda a: activity_family(a.kind))
    external_id = factory.Sequence(lambda n: f"act-{n}")
    properties = factory.LazyFunction(dict)


def pricing_visit(lead: Lead, at: datetime) -> Activity:
    return ActivityFactory(
        lead=lead, kind="page_view", occurred_at=at, properties={"url": "/pricing"}
    )


def demo_request(lead: Lead, at: datetime) -> Activity:
    return ActivityFactory(
        lead=lead, kind="form_submit", occurred_at=at, properties={"form": "demo-request"}
    )


def published_definition(
    rules: dict | None = None, *, kind: str = DefinitionKind.MQL, version: int | None = None
) -> MqlDefinition:
    """A published definition written straight to the table (tests of qualification, not publishing)."""
    MqlDefinition.objects.filter(kind=kind, status=DefinitionStatus.PUBLISHED).update(
        status=DefinitionStatus.RETIRED
    )
    latest = MqlDefinition.objects.filter(kind=kind).order_by("-version").first()
    return MqlDefinition.objects.create(
        kind=kind,
        version=version or (latest.version + 1 if latest else 1),
        name=f"{kind.upper()} test definition",
        status=DefinitionStatus.PUBLISHED,
        rules=rules if rules is not None else (MQL_RULES if kind == "mql" else PQL_RULES),
    )
