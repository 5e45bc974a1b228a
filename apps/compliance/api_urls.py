from django.urls import path

from apps.compliance import alert_api, api

urlpatterns = [
    path("compliance/", api.ComplianceListApi.as_view(), name="compliance_list"),
    path(
        "compliance/<int:commitment_id>/leads/",
        api.CommitmentLeadsApi.as_view(),
        name="commitment_leads",
    ),
    path(
        "compliance/<int:commitment_id>/escalations/",
        alert_api.CommitmentEscalationListApi.as_view(),
        name="commitment_escalations",
    ),
    path("alerts/", alert_api.AlertListApi.as_view(), name="alert_list"),
    path("alerts/<int:pk>/", alert_api.AlertDetailApi.as_view(), name="alert_detail"),
    path("notifications/", alert_api.NotificationListApi.as_view(), name="notification_list"),
    path(
        "notifications/read-all/",
        alert_api.NotificationReadAllApi.as_view(),
        name="notification_read_all",
    ),
    path(
        "notifications/<int:pk>/read/",
        alert_api.NotificationReadApi.as_view(),
        name="notification_read",
    ),
]
