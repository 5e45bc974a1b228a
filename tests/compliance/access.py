"""Rows of the permission matrix for the compliance app: URL name -> who may use it.

Everyone reads compliance (a rep their own, a marketer the marketing and shared
commitments: the scope narrows inside the view) and has notifications; the
organization's alert settings and webhook log are for admins.
"""

from tests.support.access import ADMIN_ONLY, EVERYONE, Row

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
}
