from django.urls import path

from apps.mql import views

app_name = "mql"

urlpatterns = [
    path("", views.definition_list, name="definition_list"),
    path("new/", views.definition_create, name="definition_create"),
    path("<int:pk>/", views.definition_detail, name="definition_detail"),
    path("<int:pk>/edit/", views.definition_edit, name="definition_edit"),
    path("<int:pk>/builder/", views.definition_builder, name="definition_builder"),
    path("<int:pk>/publish/", views.definition_publish, name="definition_publish"),
    path("<int:pk>/comments/", views.definition_comment, name="definition_comment"),
    path("<int:pk>/backtests/", views.backtest_start, name="backtest_start"),
    path("backtests/<int:pk>/", views.backtest_detail, name="backtest_detail"),
]
