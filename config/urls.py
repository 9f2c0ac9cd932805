"""Top-level URLs."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static as static_url
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from accounts.views import dev as account_dev_views
from accounts.views import profile as account_profile_views
from accounts.views import sign_in as account_sign_in_views
from config import health
from consent.views import deletion_receiver
from dataprotection.admin.jobs import stalled_jobs_view
from organizations.views import incidents as incident_views
from organizations.views import retention as retention_views

admin.site.site_header = _("Custodia operations")
admin.site.site_title = _("Custodia operations")
admin.site.index_title = _("Operations console")


def favicon(request):
    """``/favicon.ico``, which browsers and the console's pages ask for: the vendored icon."""
    return redirect(static_url("favicon.ico"))


urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("accounts/", include("accounts.urls")),
    path("orgs/", include("organizations.urls")),
    path("", include("consent.urls")),
    path("", include("requests.urls")),
    path("api/", include("config.api_urls")),
    path("service-notices/", retention_views.service_notices, name="service_notices"),  # ANON-6, public
    path("security-notices/", incident_views.security_notices, name="security_notices"),  # SEC-4, public
    path("i18n/setlang/", account_profile_views.switch_language, name="set_language"),
    # SEC-1: the console has no sign-in of its own: its login hands over to the portal's.
    path("ops/login/", account_sign_in_views.console_sign_in, name="console_login"),
    path("ops/stalled-jobs/", admin.site.admin_view(stalled_jobs_view), name="ops_stalled_jobs"),
    path("ops/", admin.site.urls),
    path("dev/sms/", account_dev_views.dev_sms_outbox, name="dev_sms_outbox"),
    path("dev/deletion-notices/", deletion_receiver.received_notices, name="dev_deletion_notices"),
    path("dev/deletion-notices/<slug:code>/", deletion_receiver.receive_notice, name="dev_deletion_notice_receive"),
    # Public, unauthenticated probes for load balancers: ok/failing per part, nothing more.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
