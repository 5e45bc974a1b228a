"""Navigation entries of the leads app (shown only to the roles each view admits)."""

from apps.accounts.navigation import NavItem

NAV_ITEMS = [
    NavItem("Leads", "leads:lead_list", order=20),
    NavItem("Import leads", "leads:import_upload", section="settings", order=30),
    NavItem("Routing rules", "leads:routing_rule_list", section="settings", order=35),
    NavItem("Webhooks", "leads:webhook_settings", section="settings", order=25),
]
