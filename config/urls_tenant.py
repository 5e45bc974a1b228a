"""URLs on an organization's host (acme.localhost:8000)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.accounts import views as account_views

api_v1 = [
    path("", include(("apps.accounts.api_urls", "accounts"))),
]

urlpatterns = [
    path("", account_views.home, name="home"),
    path("accounts/", include("apps.accounts.urls")),
    path("api/v1/", include((api_v1, "api"))),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]),
        name="api_schema",
    ),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(
            url_name="api_schema", permission_classes=[], authentication_classes=[]
        ),
        name="api_docs",
    ),
    path("admin/", admin.site.urls),
]

handler403 = "apps.accounts.views.permission_denied"
