from django.apps import AppConfig


class MqlConfig(AppConfig):
    name = "apps.mql"
    verbose_name = "MQL definitions"
