"""Demo definitions for Acme Analytics: published MQL v1, a draft v2 to back-test, a published PQL v1."""

from datetime import timedelta

from apps.accounts.models import User
from apps.mql.models import DefinitionComment, MqlDefinition
from apps.mql.services import (
    definition_comment_add,
    definition_draft_create,
    definition_publish,
)

FREE_EMAIL_DOMAINS = [
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "icloud.com",
    "aol.com",
]


def _activity(kind: str, prop: str | None = None, match: str = "equals", value=None) -> dict:
    signal = {"type": "activity", "kind": kind}
    if prop:
        signal |= {"property": prop, "match": match, "value": value}
    return signal


PRICING = _activity("page_view", "url", "contains", "/pricing")
DEMO_REQUEST = _activity("form_submit", "form", "equals", "demo-request")
EBOOK = _activity("content_download", "asset", "equals", "enterprise-ebook")

MQL_V1 = {
    "fit": {
        "match": "all",
        "conditions": [
            {"id": "size", "field": "company_size", "op": "gte", "value": 50},
            {
                "id": "business_email",
                "label": "Not a free email domain",
                "field": "email_domain",
                "op": "not_in",
                "value": FREE_EMAIL_DOMAINS,
            },
        ],
    },
    "behaviour": {
        "match": "any",
        "conditions": [
            {
                "id": "pricing",
                "label": "Visited the pricing page in the last 7 days",
                "kind": "page_view",
                "property": "url",
                "match": "contains",
                "value": "/pricing",
                "min_count": 1,
                "within_days": 7,
            },
            {
                "id": "demo",
                "label": "Asked for a demo in the last 30 days",
                "kind": "form_submit",
                "property": "form",
                "match": "equals",
                "value": "demo-request",
                "min_count": 1,
                "within_days": 30,
            },
            {
                "id": "ebook",
                "label": "Downloaded the enterprise ebook",
                "kind": "content_download",
                "property": "asset",
                "match": "equals",
                "value": "enterprise-ebook",
                "min_count": 1,
            },
        ],
    },
    "scoring": {
        "threshold": 40,
        "caps": {"engagement": 25},
        "rules": [
            {
                "id": "pricing_visit",
                "label": "Pricing page visit",
                "signal": PRICING,
                "points": 30,
                "decay": {"type": "half_life", "days": 7},
                "max_count": 3,
            },
            {
                "id": "demo_request",
                "label": "Demo request",
                "signal": DEMO_REQUEST,
                "points": 60,
                "decay": {"type": "linear", "days": 30},
            },
            {
                "id": "ebook",
                "label": "Enterprise ebook",
                "signal": EBOOK,
                "points": 40,
                "decay": {"type": "half_life", "days": 21},
            },
            {
                "id": "webinar",
                "label": "Webinar attended",
                "signal": _activity("webinar_attended"),
                "points": 15,
                "group": "engagement",
                "decay": {"type": "half_life", "days": 14},
            },
            {
                "id": "email_click",
                "label": "Email click",
                "signal": _activity("email_click"),
                "points": 5,
                "group": "engagement",
                "decay": {"type": "half_life", "days": 7},
                "max_count": 4,
            },
            {
                "id": "page_view",
                "label": "Any page view",
                "signal": _activity("page_view"),
                "points": 3,
                "group": "engagement",
                "decay": {"type": "half_life", "days": 3},
                "max_count": 10,
            },
            {
                "id": "senior",
                "label": "Director or above",
                "signal": {
                    "type": "field",
                    "field": "seniority",
                    "op": "in",
                    "value": ["director", "vp", "c_level"],
                },
                "points": 10,
            },
            {
                "id": "student",
                "label": "Student or intern",
                "signal": {"type": "field", "field": "title", "op": "contains", "value": "student"},
                "points": -20,
            },
        ],
    },
}

# v2 (draft): tighter fit, and pricing interest must repeat: the back-test shows the trade-off.
MQL_V2 = {
    **MQL_V1,
    "fit": {
        "match": "all",
        "conditions": [
            {"id": "size", "field": "company_size", "op": "gte", "value": 200},
            MQL_V1["fit"]["conditions"][1],
        ],
    },
    "behaviour": {
        "match": "any",
        "conditions": [
            {
                "id": "pricing",
                "label": "Visited pricing twice in 14 days",
                "kind": "page_view",
                "property": "url",
                "match": "contains",
                "value": "/pricing",
                "min_count": 2,
                "within_days": 14,
            },
            MQL_V1["behaviour"]["conditions"][1],
            MQL_V1["behaviour"]["conditions"][2],
        ],
    },
    "scoring": {**MQL_V1["scoring"], "threshold": 55},
}

PQL_V1 = {
    "fit": {"conditions": [{"id": "size", "field": "company_size", "op": "gte", "value": 20}]},
    "behaviour": {
        "match": "any",
        "conditions": [
            {
                "id": "invites",
                "label": "Invited 3 teammates in 14 days",
                "kind": "product_event",
                "property": "event",
                "match": "equals",
                "value": "teammate_invited",
                "min_count": 3,
                "within_days": 14,
            },
            {
                "id": "integrations",
                "label": "Connected 2 integrations in 30 days",
                "kind": "product_event",
                "property": "event",
                "match": "equals",
                "value": "integration_connected",
                "min_count": 2,
                "within_days": 30,
            },
            {
                "id": "active_days",
                "label": "Active on 10 of the last 14 days",
                "kind": "product_event",
                "min_count": 10,
                "within_days": 14,
                "count": "distinct_days",
            },
        ],
    },
}


def seed(*, now, rng) -> None:
    marketing = User.objects.get(email="marketing@acme.test")
    marketer = User.objects.get(email="marketer@acme.test")
    sales = User.objects.get(email="sales@acme.test")

    v1 = definition_draft_create(
        kind="mql",
        name="Engaged buyers at real companies",
        rules=MQL_V1,
        actor=marketing,
        notes="Agreed at the SLA workshop: fit + one strong buying signal + score ≥ 40.",
    )
    definition_publish(definition=v1, actor=marketing)
    pql = definition_draft_create(
        kind="pql",
        name="Teams adopting the free trial",
        rules=PQL_V1,
        actor=marketing,
        notes="Product-led hand-off: collaboration or integration depth in the trial.",
    )
    definition_publish(definition=pql, actor=marketing)
    v2 = definition_draft_create(
        kind="mql",
        name="Tighter: 200+ employees, repeated pricing interest",
        rules=MQL_V2,
        actor=marketer,
        notes="Sales says small companies and one-off pricing visits waste their time. Back-test before publishing.",
    )
    for definition, age in ((v1, 100), (pql, 100)):
        MqlDefinition.objects.filter(pk=definition.pk).update(
            created_at=now - timedelta(days=age + 2), published_at=now - timedelta(days=age)
        )
    MqlDefinition.objects.filter(pk=v2.pk).update(created_at=now - timedelta(days=3))
    comments = [
        (sales, "Half of last month's MQLs were 20-person agencies. +1 on the 200 floor.", 2),
        (marketing, "Agreed in principle; let's see the back-test on volume before we publish.", 1),
    ]
    for author, body, days_ago in comments:
        comment = definition_comment_add(definition=v2, author=author, body=body)
        DefinitionComment.objects.filter(pk=comment.pk).update(
            created_at=now - timedelta(days=days_ago, hours=rng.randint(1, 6))
        )
