"""Roles of an organization and the groups of them that views and API endpoints allow.

Every view declares the roles it admits (see apps.accounts.access); navigation is
built from the same declarations, so a link is shown exactly when it is usable.
"""

from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    EXECUTIVE = "executive", "Executive"
    MARKETING_LEADER = "marketing_leader", "Marketing leader"
    MARKETER = "marketer", "Marketer"
    SALES_LEADER = "sales_leader", "Sales leader"
    REP = "rep", "Sales rep"


# An organization API key acts as this pseudo-role: integrations push data, they
# do not use the browser or manage people.
INTEGRATION = "integration"

ALL_ROLES = frozenset(Role.values)
LEADERS = frozenset({Role.EXECUTIVE, Role.MARKETING_LEADER, Role.SALES_LEADER})
MARKETING = frozenset({Role.MARKETING_LEADER, Role.MARKETER})
SALES = frozenset({Role.SALES_LEADER, Role.REP})
ADMINS = frozenset({Role.ADMIN})


# --- what each role may do: ONE table -------------------------------------------------------
# The permission checks of the views, API views and services read their roles from here,
# README's roles table is rendered from it (apps.accounts.access.capability_table_markdown)
# and tests/accounts/test_roles_table.py holds the three together.


class Capability(models.TextChoices):
    MANAGE_PEOPLE = (
        "manage_people",
        "Users, roles, invitations, API keys, two-factor policy, audit log",
    )
    CONFIGURE = "configure", "Webhooks, business calendars, alert settings"
    READ_ALL = "read_all", "Read every dashboard, report and lead"
    ENTER_SPEND = "enter_spend", "Enter marketing spend (read by the QBR)"
    DRAFT_DEFINITIONS = "draft_definitions", "Draft ICP and MQL/PQL definition changes"
    PUBLISH_DEFINITIONS = "publish_definitions", "Publish the MQL/PQL definition"
    SIGN_SLA = "sign_sla", "Sign the SLA for their team"
    IMPORT_LEADS = "import_leads", "Import leads (CSV, API bulk upsert and ingest)"
    ROUTE_LEADS = "route_leads", "Routing rules, reassign leads"
    REASON_CODES = "reason_codes", "Reason-code picklist"
    WORK_LEADS = "work_leads", "Log touches and dispositions (reps: own leads)"
    OWN_QUEUE = "own_queue", "Work an own queue of MQLs"
    TEAM_QUEUE = "team_queue", "The team queue"


CAPABILITY_ROLES: dict[Capability, frozenset[str]] = {
    Capability.MANAGE_PEOPLE: frozenset({Role.ADMIN}),
    Capability.CONFIGURE: frozenset({Role.ADMIN}),
    Capability.READ_ALL: frozenset({Role.ADMIN, Role.EXECUTIVE}),
    Capability.ENTER_SPEND: frozenset({Role.ADMIN, Role.MARKETING_LEADER}),
    Capability.DRAFT_DEFINITIONS: frozenset({Role.ADMIN, Role.MARKETING_LEADER, Role.MARKETER}),
    Capability.PUBLISH_DEFINITIONS: frozenset({Role.ADMIN, Role.MARKETING_LEADER}),
    Capability.SIGN_SLA: frozenset({Role.MARKETING_LEADER, Role.SALES_LEADER}),
    Capability.IMPORT_LEADS: frozenset({Role.ADMIN, Role.MARKETING_LEADER, Role.SALES_LEADER}),
    Capability.ROUTE_LEADS: frozenset({Role.ADMIN, Role.SALES_LEADER}),
    Capability.REASON_CODES: frozenset({Role.ADMIN, Role.SALES_LEADER}),
    Capability.WORK_LEADS: frozenset({Role.ADMIN, Role.SALES_LEADER, Role.REP}),
    Capability.OWN_QUEUE: frozenset({Role.REP}),
    Capability.TEAM_QUEUE: frozenset({Role.SALES_LEADER}),
}


def roles_for(capability: Capability) -> frozenset[str]:
    """The roles that have a capability (the one table above)."""
    return CAPABILITY_ROLES[capability]
