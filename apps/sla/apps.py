from django.apps import AppConfig

# Registers the system checks (neither module reads models, so it loads with the app config).
from apps.sla import checks  # noqa: F401


class SlaConfig(AppConfig):
    name = "apps.sla"
    verbose_name = "SLA"
