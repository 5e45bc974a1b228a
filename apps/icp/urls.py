from django.urls import path

from apps.icp import views

app_name = "icp"

urlpatterns = [
    path("", views.profile, name="profile"),
    path("revisions/new/", views.revision_create, name="revision_create"),
    path("revisions/new/persona/", views.persona_blank, name="persona_blank"),
    path("revisions/<int:pk>/", views.revision_detail, name="revision_detail"),
    path("revisions/<int:pk>/approve/", views.revision_approve, name="revision_approve"),
    path("compare/", views.compare, name="compare"),
    path("insights/", views.insights, name="insights"),
]
