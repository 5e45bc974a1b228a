from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "apps.tenants"
    verbose_name = "Organizations"

    def ready(self) -> None:
        from apps.tenants import checks  # noqa: F401 - registers the system checks (importing in ready() is the Django way)
