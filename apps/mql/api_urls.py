from django.urls import path

from apps.mql import api

urlpatterns = [
    path("mql/definitions/", api.DefinitionListApi.as_view(), name="definition_list"),
    path("mql/definitions/<int:pk>/", api.DefinitionDetailApi.as_view(), name="definition_detail"),
    path(
        "mql/definitions/<int:pk>/publish/",
        api.DefinitionPublishApi.as_view(),
        name="definition_publish",
    ),
    path("mql/leads/<int:lead_id>/evaluate/", api.LeadEvaluateApi.as_view(), name="lead_evaluate"),
]
