"""URLs on the public host (localhost:8000): the landing page and organization signup."""

from django.urls import path

from apps.tenants import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signup/", views.signup, name="signup"),
]
