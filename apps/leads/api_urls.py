from django.urls import path

from apps.leads import api, routing_api

urlpatterns = [
    path("leads/", api.LeadListApi.as_view(), name="lead_list"),
    path("leads/upsert/", api.LeadUpsertApi.as_view(), name="lead_upsert"),
    path("leads/<int:pk>/", api.LeadDetailApi.as_view(), name="lead_detail"),
    path("leads/<int:pk>/reassign/", api.LeadReassignApi.as_view(), name="lead_reassign"),
    path("leads/<int:pk>/route/", api.LeadRouteApi.as_view(), name="lead_route"),
    path("activities/ingest/", api.ActivityIngestApi.as_view(), name="activity_ingest"),
    path("routing-rules/", routing_api.RoutingRuleListApi.as_view(), name="routing_rule_list"),
    path(
        "routing-rules/reorder/",
        routing_api.RoutingRuleReorderApi.as_view(),
        name="routing_rule_reorder",
    ),
    path(
        "routing-rules/<int:pk>/",
        routing_api.RoutingRuleDetailApi.as_view(),
        name="routing_rule_detail",
    ),
    path("webhooks/<slug:source>/", api.WebhookReceiveApi.as_view(), name="webhook_receive"),
    path(
        "webhooks/<slug:source>/<str:token>/",
        api.WebhookReceiveByTokenApi.as_view(),
        name="webhook_receive_token",
    ),
]
