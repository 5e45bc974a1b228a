from django.urls import path

from apps.compliance import api

urlpatterns = [
    path("compliance/", api.ComplianceListApi.as_view(), name="compliance_list"),
    path(
        "compliance/<int:commitment_id>/leads/",
        api.CommitmentLeadsApi.as_view(),
        name="commitment_leads",
    ),
]
