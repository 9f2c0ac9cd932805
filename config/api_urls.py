"""The REST API under /api/v1/ (the REST API), its OpenAPI schema at /api/schema/ and the
documentation served from vendored assets (drf-spectacular-sidecar: no CDN).

The two documentation pages are drf-spectacular's views rendered from our own small
pages: its stock Redoc page links Google Fonts (a request to a third party from a
privacy portal), and both stock pages carry inline ``<style>`` blocks that the project's
Content-Security-Policy refuses. Swagger UI then runs under the project's policy as it
is (the split view serves its start-up script as a separate JS file). Redoc needs two
exceptions, for /api/redoc/ only: ``style-src 'unsafe-inline'`` because it styles itself
with styled-components, which inject ``<style>`` elements at run time, and ``worker-src
blob:`` because its search index runs in a web worker it builds from a blob. Neither
lets anything load from another host."""

from django.http import HttpResponse, JsonResponse
from django.template import engines
from django.urls import include, path, re_path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

REDOC_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

SWAGGER_PAGE = engines["django"].from_string(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
{% if favicon_href %}<link rel="icon" href="{{ favicon_href }}">{% endif %}
<link rel="stylesheet" href="{{ swagger_ui_css }}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{{ swagger_ui_bundle }}"></script>
<script src="{{ swagger_ui_standalone }}"></script>
<script src="{{ script_url }}"></script>
</body>
</html>"""
)

REDOC_PAGE = engines["django"].from_string(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
</head>
<body>
<redoc spec-url="{{ schema_url }}"></redoc>
<script src="{{ redoc_standalone }}"></script>
</body>
</html>"""
)


class SwaggerDocsView(SpectacularSwaggerSplitView):
    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if request.GET.get("script") is not None:
            return response
        return HttpResponse(SWAGGER_PAGE.render(response.data, request))


class RedocDocsView(SpectacularRedocView):
    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        data = super().get(request, *args, **kwargs).data
        page = HttpResponse(REDOC_PAGE.render(data, request))
        page["Content-Security-Policy"] = REDOC_CSP  # the middleware keeps a view's own
        return page


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Any other address under /api/: the API's error body, not the site's 404 page
    (e.g. an id that is not a number in the path)."""
    message = _("Not found.")
    return JsonResponse({"error": {"status": 404, "code": "not_found", "message": message}}, status=404)


urlpatterns = [
    path("v1/", include("accounts.api.urls")),
    path("v1/organizations/", include("organizations.api.urls")),
    path("v1/", include("consent.api.urls")),
    path("v1/", include("requests.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SwaggerDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", RedocDocsView.as_view(url_name="api-schema"), name="api-redoc"),
    re_path(r"^", not_found),
]
