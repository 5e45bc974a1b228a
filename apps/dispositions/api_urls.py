from django.urls import path

from apps.dispositions import api

urlpatterns = [
    path("dispositions/", api.DispositionCreateApi.as_view(), name="disposition_create"),
    path("dispositions/bulk/", api.DispositionBulkCreateApi.as_view(), name="disposition_bulk"),
    path(
        "leads/<str:external_id>/dispositions/",
        api.LeadDispositionListApi.as_view(),
        name="lead_disposition_list",
    ),
    path("reason-codes/", api.ReasonCodeListApi.as_view(), name="reason_code_list"),
    path("reason-codes/reorder/", api.ReasonCodeReorderApi.as_view(), name="reason_code_reorder"),
    path("reason-codes/<int:pk>/", api.ReasonCodeDetailApi.as_view(), name="reason_code_detail"),
    path(
        "reason-codes/<int:pk>/retire/",
        api.ReasonCodeRetireApi.as_view(),
        name="reason_code_retire",
    ),
    path(
        "reason-codes/<int:pk>/restore/",
        api.ReasonCodeRestoreApi.as_view(),
        name="reason_code_restore",
    ),
    path("touches/", api.TouchCreateApi.as_view(), name="touch_create"),
    path("touches/bulk/", api.TouchBulkCreateApi.as_view(), name="touch_bulk"),
]
