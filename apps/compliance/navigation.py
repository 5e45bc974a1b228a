"""Navigation entries of the compliance app (shown to the roles each view admits)."""

from apps.accounts.navigation import NavItem

NAV_ITEMS = [
    NavItem("Compliance", "compliance:overview", order=60),
    NavItem("Notifications", "compliance:preferences", section="settings", order=40),
    NavItem("Alerts & webhook", "compliance:alert_settings", section="settings", order=45),
]
