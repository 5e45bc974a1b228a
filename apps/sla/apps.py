from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "apps.sla"
    verbose_name = "SLA"

    def ready(self) -> None:
        from apps.sla import checks  # noqa: F401 - registers the system checks (importing in ready() is the Django way)
