"""Rows of the permission matrix for the compliance app: URL name -> who may use it.

Everyone reads compliance (a rep their own, a marketer the marketing and shared
commitments: the scope narrows inside the view) and has notifications; the
organization's alert settings and webhook log are for admins.
"""

from tests.support.access import ADMIN_ONLY, EVERYONE, INTEGRATION, Row

ALERT_READERS = frozenset({"admin", "executive", "marketing_leader", "sales_leader", INTEGRATION})
ESCALATION_READERS = (EVERYONE - {"rep"}) | {INTEGRATION}

ACCESS = {
    "compliance:overview": Row(EVERYONE),
    "compliance:commitment_leads": Row(EVERYONE, kwargs=lambda env: {"commitment_id": 999999}),
    "compliance:notification_list": Row(EVERYONE),
    "compliance:bell": Row(EVERYONE),
    "compliance:notification_read_all": Row(EVERYONE),
    "compliance:notification_read": Row(EVERYONE, kwargs=lambda env: {"pk": 999999}),
    "compliance:preferences": Row(EVERYONE),
    "compliance:alert_settings": Row(ADMIN_ONLY),
    "compliance:webhook_log": Row(ADMIN_ONLY),
    "api:compliance:compliance_list": Row(EVERYONE),
    "api:compliance:commitment_leads": Row(EVERYONE, kwargs=lambda env: {"commitment_id": 999999}),
    "api:compliance:commitment_escalations": Row(
        ESCALATION_READERS, kwargs=lambda env: {"commitment_id": 999999}
    ),
    "api:compliance:alert_list": Row(ALERT_READERS),
    "api:compliance:alert_detail": Row(ALERT_READERS, kwargs=lambda env: {"pk": 999999}),
    # A person's own notifications: API keys are not people. The two POSTs answer 405 to GET.
    "api:compliance:notification_list": Row(EVERYONE),
    "api:compliance:notification_read_all": Row(EVERYONE),
    "api:compliance:notification_read": Row(EVERYONE, kwargs=lambda env: {"pk": 999999}),
}
