"""The requests app's REST API (the REST API)."""

from django.urls import path

from requests.api import views

OWN = "requests/<str:reference>/"
ORG = "organizations/<int:org_id>/requests/"

urlpatterns = [
    path("requests/", views.RequestListView.as_view(), name="api-requests"),
    path("requests/code/", views.SendCodeView.as_view(), name="api-request-code"),
    path(OWN, views.RequestDetailView.as_view(), name="api-request"),
    path(f"{OWN}withdraw/", views.RequestWithdrawView.as_view(), name="api-request-withdraw"),
    path(
        f"{OWN}exports/<int:archive_id>/download/",
        views.ExportDownloadView.as_view(),
        name="api-request-export-download",
    ),
    path(ORG, views.OrgRequestListView.as_view(), name="api-org-requests"),
    path(f"{ORG}<str:reference>/", views.OrgRequestDetailView.as_view(), name="api-org-request"),
    path(f"{ORG}<str:reference>/notes/", views.OrgRequestNoteView.as_view(), name="api-org-request-notes"),
]
