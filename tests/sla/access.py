"""Rows of the permission matrix for the SLA app: URL name -> who may use it.

Reading is for everyone; drafting for the two leaders and admins; signing for the
two leaders only; business calendars for admins. Ids that do not exist give 404
to allowed roles (the role is checked before the object is fetched).
"""

from tests.support.access import ADMIN_ONLY, EVERYONE, INTEGRATION, Row

DRAFTERS = frozenset({"marketing_leader", "sales_leader", "admin"})
SIGNERS = frozenset({"marketing_leader", "sales_leader"})
READERS_API = EVERYONE | {INTEGRATION}


def _pk(env):
    return {"pk": 999999}


def _commitment(env):
    return {"pk": 999999, "commitment_pk": 999999}


def _rule(env):
    return {"pk": 999999, "rule_pk": 999999}


ACCESS = {
    "sla:overview": Row(EVERYONE),
    "sla:document": Row(EVERYONE),
    "sla:history": Row(EVERYONE),
    "sla:version_create": Row(DRAFTERS),
    "sla:version_detail": Row(EVERYONE, kwargs=_pk),
    "sla:version_edit": Row(DRAFTERS, kwargs=_pk),
    "sla:version_submit": Row(DRAFTERS, kwargs=_pk),
    "sla:version_sign": Row(SIGNERS, kwargs=_pk),
    "sla:version_verify": Row(EVERYONE, kwargs=_pk),
    "sla:version_document": Row(EVERYONE, kwargs=_pk),
    "sla:commitment_add": Row(DRAFTERS, kwargs=_pk),
    "sla:commitment_edit": Row(DRAFTERS, kwargs=_commitment),
    "sla:commitment_remove": Row(DRAFTERS, kwargs=_commitment),
    "sla:escalation_add": Row(DRAFTERS, kwargs=_pk),
    "sla:escalation_remove": Row(DRAFTERS, kwargs=_rule),
    "sla:calendar_list": Row(ADMIN_ONLY),
    "sla:calendar_preview": Row(ADMIN_ONLY),
    "sla:calendar_edit": Row(ADMIN_ONLY, kwargs=_pk),
    # API: GET is what the matrix checks; writes are covered in tests/sla/test_api.py.
    "api:sla:contract_list": Row(READERS_API),
    "api:sla:template_list": Row(READERS_API),
    "api:sla:version_list": Row(READERS_API),
    "api:sla:version_active": Row(READERS_API),
    "api:sla:version_detail": Row(READERS_API, kwargs=_pk),
    "api:sla:version_content": Row(READERS_API, kwargs=_pk),
    "api:sla:version_verify": Row(READERS_API, kwargs=_pk),
    "api:sla:version_changes": Row(READERS_API, kwargs=_pk),
    "api:sla:version_submit": Row(DRAFTERS, kwargs=_pk),
    "api:sla:version_sign": Row(SIGNERS, kwargs=_pk),
    "api:sla:commitment_create": Row(DRAFTERS, kwargs=_pk),
    "api:sla:commitment_detail": Row(DRAFTERS, kwargs=_commitment),
    "api:sla:escalation_rule_create": Row(DRAFTERS, kwargs=_pk),
    "api:sla:escalation_rule_detail": Row(DRAFTERS, kwargs=_rule),
    "api:sla:calendar_list": Row(READERS_API),
    "api:sla:calendar_detail": Row(READERS_API, kwargs=_pk),
    "api:sla:calendar_preview": Row(READERS_API, kwargs=_pk),
    "api:sla:calendar_draft_preview": Row(READERS_API),
    "api:sla:lead_clocks": Row(READERS_API, kwargs=lambda env: {"lead_pk": 999999}),
}
