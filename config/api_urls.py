"""The REST API under /api/v1/ (issue 7), its OpenAPI schema at /api/schema/ and the
documentation served from vendored assets (drf-spectacular-sidecar: no CDN)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

urlpatterns = [
    path("v1/", include("accounts.api.urls")),
    path("v1/organizations/", include("organizations.api.urls")),
    path("v1/", include("consent.api.urls")),
    path("v1/", include("requests.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
