"""/api/v1/organizations/… (the REST API): the organization portal's endpoints."""

from django.urls import path

from organizations.api import members, views

urlpatterns = [
    path("", views.OrganizationListView.as_view(), name="api-organizations"),
    path("<int:org_id>/", views.OrganizationDetailView.as_view(), name="api-organization"),
    path("<int:org_id>/departments/", views.DepartmentListView.as_view(), name="api-departments"),
    path(
        "<int:org_id>/departments/<int:department_id>/",
        views.DepartmentDetailView.as_view(),
        name="api-department",
    ),
    path("<int:org_id>/members/", members.MemberListView.as_view(), name="api-members"),
    path("<int:org_id>/members/bulk/", members.MemberBulkView.as_view(), name="api-members-bulk"),
    path("<int:org_id>/members/<int:member_id>/", members.MemberDetailView.as_view(), name="api-member"),
    path(
        "<int:org_id>/members/<int:member_id>/reveal/",
        members.MemberRevealView.as_view(),
        name="api-member-reveal",
    ),
    path("<int:org_id>/administrators/", views.AdministratorListView.as_view(), name="api-administrators"),
    path(
        "<int:org_id>/administrators/<int:admin_id>/",
        views.AdministratorDetailView.as_view(),
        name="api-administrator",
    ),
    path("<int:org_id>/disband/", views.DisbandView.as_view(), name="api-disband"),
    path("<int:org_id>/disband/code/", views.DisbandCodeView.as_view(), name="api-disband-code"),
    path("<int:org_id>/disband/cancel/", views.DisbandCancelView.as_view(), name="api-disband-cancel"),
    path("<int:org_id>/audit-events/", views.AuditEventListView.as_view(), name="api-audit-events"),
]
