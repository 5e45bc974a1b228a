"""URLs on an organization's host (acme.localhost:8000)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.dashboards import views as dashboard_views

# One include per app; each app owns its urls.py (pages) and api_urls.py (API).
APPS = ["icp", "mql", "leads", "sla", "dispositions", "compliance", "dashboards"]

api_v1 = [
    path("", include(("apps.accounts.api_urls", "accounts"))),
    *[path("", include((f"apps.{app}.api_urls", app))) for app in APPS],
]

urlpatterns = [
    path("", dashboard_views.home, name="home"),
    path("accounts/", include("apps.accounts.urls")),
    path("icp/", include("apps.icp.urls")),
    path("mql/", include("apps.mql.urls")),
    path("leads/", include("apps.leads.urls")),
    path("sla/", include("apps.sla.urls")),
    path("queue/", include("apps.dispositions.urls")),
    path("compliance/", include("apps.compliance.urls")),
    path("dashboards/", include("apps.dashboards.urls")),
    path("api/v1/", include((api_v1, "api"))),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]),
        name="api_schema",
    ),
    path(
        "api/docs/",
        # The split view serves Swagger UI's start-up script as a file: no inline script,
        # so the page works under the Content-Security-Policy.
        SpectacularSwaggerSplitView.as_view(
            url_name="api_schema", permission_classes=[], authentication_classes=[]
        ),
        name="api_docs",
    ),
    path("admin/", admin.site.urls),
]

handler403 = "apps.accounts.views.permission_denied"
handler404 = "apps.accounts.views.page_not_found"
handler400 = "apps.accounts.views.bad_request"
