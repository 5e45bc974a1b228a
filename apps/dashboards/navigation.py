"""Navigation entries of the dashboards: the scorecard is the first thing after Home."""

from apps.accounts.navigation import NavItem

NAV_ITEMS = [
    NavItem("Scorecard", "dashboards:scorecard", order=1),
    NavItem("Charts", "dashboards:charts", order=60),
    NavItem("Reports", "dashboards:reports", order=70),
    NavItem("Marketing spend", "dashboards:spend", section="settings", order=60),
]
