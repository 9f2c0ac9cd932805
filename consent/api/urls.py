"""The consent app's REST API (the REST API)."""

from django.urls import path

from consent.api import views

SERVICES = "organizations/<int:org_id>/services/"

urlpatterns = [
    path("consents/", views.ConsentsView.as_view(), name="api-consents"),
    path("consents/history/", views.ConsentHistoryView.as_view(), name="api-consent-history"),
    path("consents/receipt/", views.ConsentReceiptView.as_view(), name="api-consent-receipt"),
    path("privacy-settings/", views.PrivacySettingsView.as_view(), name="api-privacy-settings"),
    path(SERVICES, views.ServiceListView.as_view(), name="api-services"),
    path(f"{SERVICES}grants/", views.GrantListView.as_view(), name="api-service-grants"),
    path(f"{SERVICES}notices/", views.NoticeListView.as_view(), name="api-service-notices"),
    path(f"{SERVICES}<int:service_id>/open/", views.ServiceOpenView.as_view(), name="api-service-open"),
    path(f"{SERVICES}<int:service_id>/reconfirm/", views.ServiceReconfirmView.as_view(), name="api-service-reconfirm"),
    path(f"{SERVICES}<int:service_id>/close/", views.ServiceCloseView.as_view(), name="api-service-close"),
]
