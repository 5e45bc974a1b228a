"""Deployment check: the app should not connect as the role that owns the tables."""

from django.conf import settings
from django.core import checks

from apps.tenants.database_roles import has_distinct_owner


@checks.register(checks.Tags.database, deploy=True)
def database_roles_check(app_configs, **kwargs):
    if has_distinct_owner():
        return []
    return [
        checks.Warning(
            "DATABASE_OWNER_URL is not set (or names the app's own role): the app connects as "
            "the role that owns the tables, so it could TRUNCATE, ALTER or disable the triggers "
            "that keep the sign-off evidence.",
            hint="Create a least-privilege role for DATABASE_URL and set DATABASE_OWNER_URL "
            f"to the owner (README, 'Database roles'); app role now: {settings.DATABASE_APP_ROLE!r}.",
            id="tenants.W001",
        )
    ]
