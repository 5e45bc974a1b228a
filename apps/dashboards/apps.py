from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "apps.dashboards"
    verbose_name = "Dashboards"

    def ready(self) -> None:
        from apps.compliance.signals import history_changed
        from apps.dashboards.snapshots import history_changed_forget

        history_changed.connect(history_changed_forget, dispatch_uid="dashboards-charts-forget")
