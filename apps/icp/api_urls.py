from django.urls import path

from apps.icp import api

urlpatterns = [
    path("icp/revisions/", api.IcpRevisionListApi.as_view(), name="revision_list"),
    path("icp/revisions/<int:pk>/", api.IcpRevisionDetailApi.as_view(), name="revision_detail"),
    path("icp/current/", api.IcpCurrentApi.as_view(), name="current"),
]
