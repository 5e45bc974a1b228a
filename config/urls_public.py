"""URLs on the public host (localhost:8000): the landing page and organization signup."""

from django.urls import path

from apps.tenants import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signup/", views.signup, name="signup"),
    path("signup/verify/<str:token>/", views.signup_verify, name="signup_verify"),
    path("signup/<uuid:public_id>/", views.signup_progress, name="signup_progress"),
]
