"""Navigation entries of this app. Each app lists its own; the context processor filters by role."""

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    section: str = "main"  # "main" (top bar) or "settings" (the settings menu)
    order: int = 100


NAV_ITEMS = [
    NavItem("Home", "home", order=0),
    NavItem("Users", "accounts:user_list", section="settings", order=10),
    NavItem("API keys", "accounts:api_key_list", section="settings", order=20),
    NavItem("Audit log", "accounts:audit_log", section="settings", order=90),
]
