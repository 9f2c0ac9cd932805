"""URLs of the consent app: policies (/policies/), privacy settings (/privacy/), an
organization's services (/orgs/<id>/services/), a person's apps (/privacy/apps/) and the
provider API (/provider/v1/)."""

from consent.views import personal_apps, policies, privacy, services

app_name = "consent"

urlpatterns = policies.urlpatterns + privacy.urlpatterns + services.urlpatterns + personal_apps.urlpatterns
