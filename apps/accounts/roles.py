"""Roles of an organization and the groups of them that views and API endpoints allow.

Every view declares the roles it admits (see apps.accounts.access); navigation is
built from the same declarations, so a link is shown exactly when it is usable.
"""

from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    EXECUTIVE = "executive", "Executive"
    MARKETING_LEADER = "marketing_leader", "Marketing leader"
    MARKETER = "marketer", "Marketer"
    SALES_LEADER = "sales_leader", "Sales leader"
    REP = "rep", "Sales rep"


# An organization API key acts as this pseudo-role: integrations push data, they
# do not use the browser or manage people.
INTEGRATION = "integration"

ALL_ROLES = frozenset(Role.values)
LEADERS = frozenset({Role.EXECUTIVE, Role.MARKETING_LEADER, Role.SALES_LEADER})
MARKETING = frozenset({Role.MARKETING_LEADER, Role.MARKETER})
SALES = frozenset({Role.SALES_LEADER, Role.REP})
ADMINS = frozenset({Role.ADMIN})
