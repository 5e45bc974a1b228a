from django.urls import path

from apps.sla import api, calendar_preview_api

urlpatterns = [
    path("sla/contracts/", api.ContractListApi.as_view(), name="contract_list"),
    path("sla/templates/", api.TemplateListApi.as_view(), name="template_list"),
    path("sla/versions/", api.VersionListApi.as_view(), name="version_list"),
    path("sla/versions/active/", api.VersionActiveApi.as_view(), name="version_active"),
    path("sla/versions/<int:pk>/", api.VersionDetailApi.as_view(), name="version_detail"),
    path("sla/versions/<int:pk>/content/", api.VersionContentApi.as_view(), name="version_content"),
    path("sla/versions/<int:pk>/verify/", api.VersionVerifyApi.as_view(), name="version_verify"),
    path(
        "sla/versions/<int:pk>/changes/", api.VersionChangeListApi.as_view(), name="version_changes"
    ),
    path("sla/versions/<int:pk>/submit/", api.VersionSubmitApi.as_view(), name="version_submit"),
    path("sla/versions/<int:pk>/sign/", api.VersionSignApi.as_view(), name="version_sign"),
    path(
        "sla/versions/<int:pk>/commitments/",
        api.CommitmentCreateApi.as_view(),
        name="commitment_create",
    ),
    path(
        "sla/versions/<int:pk>/commitments/<int:commitment_pk>/",
        api.CommitmentDetailApi.as_view(),
        name="commitment_detail",
    ),
    path(
        "sla/versions/<int:pk>/escalation-rules/",
        api.EscalationRuleCreateApi.as_view(),
        name="escalation_rule_create",
    ),
    path(
        "sla/versions/<int:pk>/escalation-rules/<int:rule_pk>/",
        api.EscalationRuleDetailApi.as_view(),
        name="escalation_rule_detail",
    ),
    path("sla/calendars/", api.CalendarListApi.as_view(), name="calendar_list"),
    path(
        "sla/calendars/preview/",
        calendar_preview_api.CalendarDraftPreviewApi.as_view(),
        name="calendar_draft_preview",
    ),
    path("sla/calendars/<int:pk>/", api.CalendarDetailApi.as_view(), name="calendar_detail"),
    path(
        "sla/calendars/<int:pk>/preview/",
        calendar_preview_api.CalendarPreviewApi.as_view(),
        name="calendar_preview",
    ),
    path("sla/leads/<int:lead_pk>/clocks/", api.LeadClockListApi.as_view(), name="lead_clocks"),
]
