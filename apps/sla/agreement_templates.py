"""Starting points for an SLA draft: each template becomes a complete draft in one click.

Pure data. Rates are fractions (0.9 = 90 %); the yellow threshold is where a
miss stops being "nearly there" and becomes red. The sample table comes from the
domain articles (150 MQLs a month, MQL→SQL ≥ 25 %, first follow-up within 4
business hours, 6 attempts over 14 days, every rejection documented) plus their
feedback-loop rule (disposition within 48 hours). Escalation follows their
example: first-contact compliance below 80 % for two weeks goes to the executive.

Escalation rows name their commitment by its position in the template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TEMPLATES", "AgreementTemplate", "template_get"]


@dataclass(frozen=True)
class AgreementTemplate:
    key: str
    name: str
    summary: str
    purpose: str
    commitments: tuple[dict[str, Any], ...]
    escalations: tuple[dict[str, Any], ...] = field(default_factory=tuple)


_FIRST_CONTACT_ESCALATION = {
    "commitment": 2,
    "threshold": 0.8,
    "periods": 2,
    "period_kind": "week",
    "notify_role": "executive",
}

DOMAIN_SAMPLE = AgreementTemplate(
    key="sample_sla",
    name="Sample marketing & sales SLA",
    summary="The sample table: 150 MQLs a month, MQL→SQL ≥ 25 %, first follow-up within "
    "4 business hours, 6 attempts over 14 days, every rejection documented, disposition within 48 hours.",
    purpose=(
        "Marketing delivers enough qualified leads of the agreed definition; sales acts on every "
        "one of them promptly and thoroughly, and tells marketing why a lead was not a fit. "
        "We review these numbers together every week and escalate to the CRO when a promise "
        "keeps slipping, so lead quality and follow-up speed stop being matters of opinion."
    ),
    commitments=(
        {
            "owner_team": "marketing",
            "metric": "mql_volume",
            "params": {},
            "target": 150,
            "yellow_threshold": 120,
            "review_period": "month",
            "label": "Marketing delivers qualified leads",
        },
        {
            "owner_team": "marketing",
            "metric": "mql_to_sql_rate",
            "params": {},
            "target": 0.25,
            "yellow_threshold": 0.2,
            "review_period": "month",
            "label": "Marketing ensures lead quality",
        },
        {
            "owner_team": "sales",
            "metric": "first_contact_time",
            "params": {"hours": 4, "clock": "business"},
            "target": 0.9,
            "yellow_threshold": 0.8,
            "review_period": "week",
            "label": "Sales acts on leads promptly",
        },
        {
            "owner_team": "sales",
            "metric": "follow_up_cadence",
            "params": {"touches": 6, "days": 14},
            "target": 0.9,
            "yellow_threshold": 0.75,
            "review_period": "week",
            "label": "Sales works leads thoroughly",
        },
        {
            "owner_team": "sales",
            "metric": "rejection_reason_coverage",
            "params": {},
            "target": 1.0,
            "yellow_threshold": 0.9,
            "review_period": "week",
            "label": "Sales documents every rejection",
        },
        {
            "owner_team": "sales",
            "metric": "disposition_time",
            "params": {"hours": 48, "clock": "calendar"},
            "target": 0.9,
            "yellow_threshold": 0.8,
            "review_period": "week",
            "label": "Sales gives feedback on every MQL",
        },
    ),
    escalations=(
        _FIRST_CONTACT_ESCALATION,
        {
            "commitment": 1,
            "threshold": 0.2,
            "periods": 2,
            "period_kind": "month",
            "notify_role": "executive",
        },
    ),
)

STARTUP_ONE_PAGER = AgreementTemplate(
    key="startup_one_pager",
    name="Startup one-pager",
    summary="The agreed MQL definition, first contact within 8 business hours, and the MQL→SQL rate.",
    purpose=(
        "A one-page agreement for a small team: marketing hands over leads that meet the agreed "
        "MQL definition, sales contacts each of them within a working day, and both teams own "
        "the MQL→SQL rate together."
    ),
    commitments=(
        {
            "owner_team": "sales",
            "metric": "first_contact_time",
            "params": {"hours": 8, "clock": "business"},
            "target": 0.9,
            "yellow_threshold": 0.8,
            "review_period": "week",
            "label": "Sales contacts every MQL within a working day",
        },
        {
            "owner_team": "shared",
            "metric": "mql_to_sql_rate",
            "params": {},
            "target": 0.25,
            "yellow_threshold": 0.2,
            "review_period": "month",
            "label": "Together we convert MQLs to SQLs",
        },
    ),
    escalations=({**_FIRST_CONTACT_ESCALATION, "commitment": 0},),
)

HIGH_INTENT_TIER = AgreementTemplate(
    key="high_intent_tier",
    name="High-intent tier",
    summary="Webinar and demo-request leads contacted within 2 business hours; every MQL within 24.",
    purpose=(
        "Not every lead is equally hot. Leads who asked for a demo or attended a webinar are "
        "contacted within two business hours; every other MQL within three working days' worth "
        "of business hours, and every MQL gets a disposition within 48 hours."
    ),
    commitments=(
        {
            "owner_team": "sales",
            "metric": "first_contact_time",
            "params": {"hours": 2, "clock": "business"},
            "target": 0.9,
            "yellow_threshold": 0.8,
            "review_period": "week",
            "segment": [
                {"field": "source", "op": "in", "value": ["webinar", "demo_request"]},
            ],
            "label": "High-intent leads within 2 business hours",
        },
        {
            "owner_team": "sales",
            "metric": "first_contact_time",
            "params": {"hours": 24, "clock": "business"},
            "target": 0.95,
            "yellow_threshold": 0.85,
            "review_period": "week",
            "label": "Every MQL within 24 business hours",
        },
        {
            "owner_team": "sales",
            "metric": "disposition_time",
            "params": {"hours": 48, "clock": "calendar"},
            "target": 0.9,
            "yellow_threshold": 0.8,
            "review_period": "week",
            "label": "Sales gives feedback on every MQL",
        },
    ),
    escalations=({**_FIRST_CONTACT_ESCALATION, "commitment": 0},),
)

TEMPLATES: dict[str, AgreementTemplate] = {
    t.key: t for t in (DOMAIN_SAMPLE, STARTUP_ONE_PAGER, HIGH_INTENT_TIER)
}


def template_get(key: str) -> AgreementTemplate | None:
    return TEMPLATES.get(key)
