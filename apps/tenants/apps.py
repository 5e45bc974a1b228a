from django.apps import AppConfig

# Registers the system checks (neither module reads models, so it loads with the app config).
from apps.tenants import checks  # noqa: F401


class TenantsConfig(AppConfig):
    name = "apps.tenants"
    verbose_name = "Organizations"
