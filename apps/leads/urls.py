from django.urls import path

from apps.leads import views

app_name = "leads"

urlpatterns = [
    path("", views.lead_list, name="lead_list"),
    path("export.csv", views.lead_export, name="lead_export"),
    path("<int:pk>/", views.lead_detail, name="lead_detail"),
    path("<int:pk>/reassign/", views.lead_reassign, name="lead_reassign"),
    path("<int:pk>/route/", views.lead_route, name="lead_route"),
    path("routing/", views.routing_rule_list, name="routing_rule_list"),
    path("routing/new/", views.routing_rule_create, name="routing_rule_create"),
    path("routing/<int:pk>/", views.routing_rule_edit, name="routing_rule_edit"),
    path("routing/<int:pk>/move/", views.routing_rule_move, name="routing_rule_move"),
    path("routing/<int:pk>/delete/", views.routing_rule_delete, name="routing_rule_delete"),
    path("import/", views.import_upload, name="import_upload"),
    path("import/<int:pk>/", views.import_detail, name="import_detail"),
    path("import/<int:pk>/rejected.csv", views.import_errors_download, name="import_errors"),
    path("webhooks/", views.webhook_settings, name="webhook_settings"),
]
