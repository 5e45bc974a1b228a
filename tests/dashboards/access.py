"""Rows of the permission matrix for the dashboards: URL name -> who may use it."""

from apps.accounts.roles import Capability, roles_for
from tests.support.access import EVERYONE, Row

REPORTS = frozenset({"admin", "executive", "marketing_leader", "marketer", "sales_leader"})
# From the one capability table: the executive reads the spend, marketing enters it.
SPEND_EDITORS = roles_for(Capability.ENTER_SPEND)
SPEND = SPEND_EDITORS | roles_for(Capability.READ_ALL)

ACCESS = {
    "dashboards:scorecard": Row(EVERYONE),
    "dashboards:charts": Row(EVERYONE),
    "dashboards:drilldown": Row(EVERYONE),
    "dashboards:reports": Row(REPORTS),
    "dashboards:huddle": Row(REPORTS),
    "dashboards:monthly": Row(REPORTS),
    "dashboards:qbr": Row(REPORTS),
    "dashboards:report_subscription": Row(REPORTS, kwargs=lambda env: {"report": "huddle"}),
    "dashboards:spend": Row(SPEND),
    "dashboards:spend_delete": Row(SPEND_EDITORS, kwargs=lambda env: {"pk": 999999}),
    "api:dashboards:scorecard": Row(EVERYONE),
    "api:dashboards:chart": Row(EVERYONE, kwargs=lambda env: {"chart": "funnel"}),
    "api:dashboards:drilldown": Row(EVERYONE),
}
