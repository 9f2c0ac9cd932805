"""Top-level URLs."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from django.views.i18n import set_language

from accounts import views as account_views
from dataprotection.admin import stalled_jobs_view
from organizations.views import incidents as incident_views
from organizations.views import retention as retention_views

admin.site.site_header = "Custodia operations"
admin.site.site_title = "Custodia operations"

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("accounts/", include("accounts.urls")),
    path("orgs/", include("organizations.urls")),
    path("", include("consent.urls")),
    path("", include("requests.urls")),
    path("api/", include("config.api_urls")),
    path("service-notices/", retention_views.service_notices, name="service_notices"),  # ANON-6, public
    path("security-notices/", incident_views.security_notices, name="security_notices"),  # SEC-4, public
    path("i18n/setlang/", set_language, name="set_language"),
    path("ops/stalled-jobs/", admin.site.admin_view(stalled_jobs_view), name="ops_stalled_jobs"),
    path("ops/", admin.site.urls),
    path("dev/sms/", account_views.dev_sms_outbox, name="dev_sms_outbox"),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
