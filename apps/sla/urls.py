from django.urls import path

from apps.sla import views

app_name = "sla"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("document/", views.document, name="document"),
    path("history/", views.history, name="history"),
    path("versions/new/", views.version_create, name="version_create"),
    path("versions/<int:pk>/", views.version_detail, name="version_detail"),
    path("versions/<int:pk>/edit/", views.version_edit, name="version_edit"),
    path("versions/<int:pk>/submit/", views.version_submit, name="version_submit"),
    path("versions/<int:pk>/sign/", views.version_sign, name="version_sign"),
    path("versions/<int:pk>/verify/", views.version_verify, name="version_verify"),
    path("versions/<int:pk>/document/", views.version_document, name="version_document"),
    path("versions/<int:pk>/commitments/", views.commitment_add, name="commitment_add"),
    path(
        "versions/<int:pk>/commitments/<int:commitment_pk>/",
        views.commitment_edit,
        name="commitment_edit",
    ),
    path(
        "versions/<int:pk>/commitments/<int:commitment_pk>/remove/",
        views.commitment_remove,
        name="commitment_remove",
    ),
    path("versions/<int:pk>/escalations/", views.escalation_add, name="escalation_add"),
    path(
        "versions/<int:pk>/escalations/<int:rule_pk>/remove/",
        views.escalation_remove,
        name="escalation_remove",
    ),
    path("calendars/", views.calendar_list, name="calendar_list"),
    path("calendars/preview/", views.calendar_preview, name="calendar_preview"),
    path("calendars/<int:pk>/", views.calendar_edit, name="calendar_edit"),
]
