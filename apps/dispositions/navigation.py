"""Navigation of the feedback loop: each link shows only to the roles its view admits."""

from apps.accounts.navigation import NavItem

NAV_ITEMS = [
    NavItem("My queue", "dispositions:my_queue", order=20),
    NavItem("Team queue", "dispositions:team_queue", order=21),
    NavItem("Feedback", "dispositions:feedback", order=60),
    NavItem("Reason codes", "dispositions:reason_codes", section="settings", order=45),
]
