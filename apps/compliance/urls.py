from django.urls import path

from apps.compliance import views

app_name = "compliance"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("<int:commitment_id>/leads/", views.commitment_leads, name="commitment_leads"),
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/bell/", views.bell, name="bell"),
    path("notifications/read-all/", views.notification_read_all, name="notification_read_all"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
    path("notifications/preferences/", views.preferences, name="preferences"),
    path("settings/", views.alert_settings, name="alert_settings"),
    path("settings/webhook-log/", views.webhook_log, name="webhook_log"),
]
