"""Rows of the permission matrix for the dashboards: URL name -> who may use it."""

from tests.support.access import EVERYONE, Row

REPORTS = frozenset({"admin", "executive", "marketing_leader", "marketer", "sales_leader"})
SPEND = frozenset({"admin", "executive", "marketing_leader"})

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
    "dashboards:spend_delete": Row(SPEND, kwargs=lambda env: {"pk": 999999}),
    "api:dashboards:scorecard": Row(EVERYONE),
    "api:dashboards:chart": Row(EVERYONE, kwargs=lambda env: {"chart": "funnel"}),
    "api:dashboards:drilldown": Row(EVERYONE),
}
