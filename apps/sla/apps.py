from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "apps.sla"
    verbose_name = "SLA"
