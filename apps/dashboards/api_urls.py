from django.urls import path

from apps.dashboards import api

urlpatterns = [
    path("dashboards/scorecard/", api.ScorecardGetApi.as_view(), name="scorecard"),
    path("dashboards/charts/<slug:chart>/", api.ChartGetApi.as_view(), name="chart"),
    path("dashboards/leads/", api.DrilldownListApi.as_view(), name="drilldown"),
]
