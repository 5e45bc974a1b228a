from django.urls import path

from apps.dashboards import views

app_name = "dashboards"

urlpatterns = [
    path("", views.scorecard, name="scorecard"),
    path("charts/", views.chart_list, name="charts"),
    path("leads/", views.drilldown, name="drilldown"),
    path("reports/", views.report_list, name="reports"),
    path("reports/huddle/", views.huddle, name="huddle"),
    path("reports/monthly/", views.monthly, name="monthly"),
    path("reports/qbr/", views.qbr, name="qbr"),
    path(
        "reports/<str:report>/subscription/",
        views.report_subscription,
        name="report_subscription",
    ),
    path("spend/", views.spend, name="spend"),
    path("spend/<int:pk>/delete/", views.spend_delete, name="spend_delete"),
]
