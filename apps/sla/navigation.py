"""Navigation entries of the SLA app."""

from apps.accounts.navigation import NavItem

NAV_ITEMS = [
    NavItem("SLA", "sla:overview", order=40),
    NavItem("Business calendars", "sla:calendar_list", section="settings", order=40),
]
