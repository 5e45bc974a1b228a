"""Field mapping: how a CRM's field names (or a CSV file's headers) become lead item keys.

Pure module: no ORM. A mapping is a plain dict {source name: target}, where a
target is a lead item key (see LEAD_TARGETS), `properties.<key>` to keep the value
as an extra field, or "" to ignore the column. The defaults below cover HubSpot and
Salesforce exports and webhooks; each organization edits and saves its own
(apps.leads.models.FieldMapping).

CRM stage names are translated to lifecycle stages. Values that name no stage we
keep (MQL flags, lead statuses such as "Working - Contacted") are stored as
`properties.crm_stage` instead: the MQL decision is the agreed definition's, never
the CRM's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

LEAD_TARGETS: dict[str, str] = {
    "external_id": "External ID (CRM record id)",
    "email": "Email",
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name (split into first / last)",
    "title": "Job title",
    "company": "Company",
    "company_domain": "Company domain / website",
    "company_size": "Company size (employees)",
    "annual_revenue": "Annual revenue",
    "industry": "Industry",
    "country": "Country",
    "region": "Region",
    "source": "Source (channel)",
    "campaign": "Campaign",
    "owner": "Owner (user email)",
    "stage": "Lifecycle stage",
    "stage_changed_at": "Stage changed at",
    "amount": "Opportunity amount",
    "expected_close": "Expected close date",
    "created_at": "Created at",
    "changed_at": "Last modified at",
}
DATE_TIME_TARGETS = frozenset({"stage_changed_at", "created_at", "changed_at"})
DATE_TARGETS = frozenset({"expected_close"})
PROPERTY_PREFIX = "properties."

# Header spellings seen in HubSpot, Salesforce, Pipedrive and spreadsheet exports,
# compared after folding case, spaces and punctuation (see `header_key`).
_ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": (
        "external_id",
        "externalid",
        "id",
        "record_id",
        "recordid",
        "contact_id",
        "lead_id",
        "leadid",
        "hs_object_id",
        "vid",
        "crm_id",
        "salesforce_id",
        "hubspot_id",
    ),
    "email": ("email", "email_address", "e_mail", "work_email", "business_email"),
    "first_name": ("first_name", "firstname", "given_name", "first"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "last"),
    "full_name": ("full_name", "name", "contact_name", "lead_name"),
    "title": ("title", "job_title", "jobtitle", "position", "role"),
    "company": (
        "company",
        "company_name",
        "account_name",
        "organization",
        "organisation",
        "account",
    ),
    "company_domain": (
        "company_domain",
        "website",
        "domain",
        "company_website",
        "website_url",
        "company_domain_name",
    ),
    "company_size": (
        "company_size",
        "numemployees",
        "number_of_employees",
        "numberofemployees",
        "employees",
        "employee_count",
        "no_of_employees",
        "headcount",
    ),
    "annual_revenue": ("annual_revenue", "annualrevenue", "revenue"),
    "industry": ("industry", "sector", "vertical"),
    "country": ("country", "country_region", "country_code", "billing_country", "countrycode"),
    "region": ("region", "sales_region", "territory", "geo"),
    "source": (
        "source",
        "lead_source",
        "leadsource",
        "original_source",
        "hs_analytics_source",
        "channel",
        "original_source_type",
    ),
    "campaign": (
        "campaign",
        "campaign_name",
        "utm_campaign",
        "hs_analytics_source_data_1",
        "original_campaign",
    ),
    "owner": (
        "owner",
        "owner_email",
        "contact_owner_email",
        "lead_owner_email",
        "assigned_to_email",
    ),
    "stage": (
        "stage",
        "lifecycle_stage",
        "lifecyclestage",
        "lead_status",
        "status",
        "stagename",
        "stage_name",
    ),
    "stage_changed_at": (
        "stage_changed_at",
        "stage_date",
        "became_customer_date",
        "hs_lifecyclestage_date",
    ),
    "amount": ("amount", "opportunity_amount", "deal_amount"),
    "expected_close": ("expected_close", "close_date", "closedate", "expected_close_date"),
    "created_at": (
        "created_at",
        "create_date",
        "createdate",
        "created_date",
        "createddate",
        "date_created",
    ),
    "changed_at": (
        "changed_at",
        "last_modified_date",
        "lastmodifieddate",
        "lastmodified",
        "hs_lastmodifieddate",
        "updated_at",
        "last_modified",
    ),
}
_HEADER_FOLD = re.compile(r"[^a-z0-9]+")
_BY_ALIAS: dict[str, str] = {
    alias: target for target, aliases in _ALIASES.items() for alias in aliases
}

HUBSPOT_DEFAULT: dict[str, str] = {
    "hs_object_id": "external_id",
    "email": "email",
    "firstname": "first_name",
    "lastname": "last_name",
    "jobtitle": "title",
    "company": "company",
    "website": "company_domain",
    "numemployees": "company_size",
    "annualrevenue": "annual_revenue",
    "industry": "industry",
    "country": "country",
    "hs_analytics_source": "source",
    "hs_analytics_source_data_1": "campaign",
    "lifecyclestage": "stage",
    "createdate": "created_at",
    "lastmodifieddate": "changed_at",
    "hubspot_owner_id": "properties.hubspot_owner_id",
    "state": "properties.state",
    "city": "properties.city",
}
SALESFORCE_DEFAULT: dict[str, str] = {
    "Id": "external_id",
    "Email": "email",
    "FirstName": "first_name",
    "LastName": "last_name",
    "Title": "title",
    "Company": "company",
    "Website": "company_domain",
    "NumberOfEmployees": "company_size",
    "AnnualRevenue": "annual_revenue",
    "Industry": "industry",
    "Country": "country",
    "LeadSource": "source",
    "Status": "stage",
    "CreatedDate": "created_at",
    "LastModifiedDate": "changed_at",
    "OwnerId": "properties.salesforce_owner_id",
    "State": "properties.state",
    "City": "properties.city",
    "Rating": "properties.rating",
}
DEFAULT_MAPPINGS: dict[str, dict[str, str]] = {
    "hubspot": HUBSPOT_DEFAULT,
    "salesforce": SALESFORCE_DEFAULT,
    "csv": {},
}

# CRM lifecycle / status / opportunity stage names -> our stages ("" = not a stage move).
STAGE_VALUES: dict[str, str] = {
    # HubSpot lifecyclestage
    "subscriber": "lead",
    "lead": "lead",
    "marketingqualifiedlead": "",
    "salesqualifiedlead": "sql",
    "opportunity": "opportunity",
    "customer": "won",
    "evangelist": "won",
    "other": "",
    # Salesforce lead Status
    "open_not_contacted": "",
    "working_contacted": "",
    "closed_converted": "sql",
    "closed_not_converted": "disqualified",
    "qualified": "sql",
    "unqualified": "disqualified",
    # Salesforce opportunity StageName
    "prospecting": "opportunity",
    "qualification": "opportunity",
    "needs_analysis": "opportunity",
    "value_proposition": "opportunity",
    "proposal_price_quote": "opportunity",
    "negotiation_review": "opportunity",
    "closed_won": "won",
    "closed_lost": "lost",
    # our own names and plain words
    "mql": "",
    "marketing_qualified": "",
    "sql": "sql",
    "sales_qualified": "sql",
    "won": "won",
    "lost": "lost",
    "nurture": "nurture",
    "recycled": "nurture",
    "disqualified": "disqualified",
}


def header_key(name: str) -> str:
    """A header folded for comparison: "Lead Source" / "lead-source" / "LeadSource" -> "lead_source"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return _HEADER_FOLD.sub("_", spaced.casefold()).strip("_")


def is_valid_target(target: str) -> bool:
    """A lead item key, `properties.<key>`, or "" (ignore)."""
    if target == "":
        return True
    if target.startswith(PROPERTY_PREFIX):
        return len(target) > len(PROPERTY_PREFIX)
    return target in LEAD_TARGETS


def guess_mapping(headers: Iterable[str], saved: Mapping[str, str] | None = None) -> dict[str, str]:
    """A target for each header: the saved choice for that header, else a guess from its name.

    A target is used once: a second column that looks like "email" is left unmapped
    rather than silently overwriting the first.
    """
    saved = saved or {}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        target = saved.get(header)
        if target is None:
            folded = header_key(header)
            target = _BY_ALIAS.get(folded) or _BY_ALIAS.get(folded.replace("_", ""), "")
        if target and not target.startswith(PROPERTY_PREFIX) and target in used:
            target = ""
        mapping[header] = target
        if target:
            used.add(target)
    return mapping


def stage_value(raw: Any) -> tuple[str | None, str]:
    """(our stage or None when it names no move, the CRM's own text) for a CRM stage value."""
    text = str(raw or "").strip()
    if not text:
        return None, ""
    stage = STAGE_VALUES.get(header_key(text).replace("__", "_"))
    return (stage or None), text


def apply_mapping(
    record: Mapping[str, Any], mapping: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """A lead item (still raw values) from one source record, and the record's unmapped names.

    Blank values are left out: in a CRM export an empty cell means "unknown",
    not "erase what Handoff knows".
    """
    item: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    unmapped: list[str] = []
    for name, value in record.items():
        target = mapping.get(name)
        if target is None:
            unmapped.append(name)
            continue
        if target == "" or value is None or (isinstance(value, str) and not value.strip()):
            continue
        if target.startswith(PROPERTY_PREFIX):
            properties[target.removeprefix(PROPERTY_PREFIX)] = value
        elif target == "full_name":
            first, _, last = str(value).strip().partition(" ")
            item.setdefault("first_name", first)
            item.setdefault("last_name", last.strip())
        elif target == "stage":
            stage, crm_text = stage_value(value)
            properties["crm_stage"] = crm_text
            if stage:
                item["stage"] = stage
        else:
            item[target] = value.strip() if isinstance(value, str) else value
    if properties:
        item["properties"] = properties
    return item, unmapped
