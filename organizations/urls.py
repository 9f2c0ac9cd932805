"""URLs of the organization admin portal, all under /orgs/. Each area lives in its own
views module."""

from django.urls import path

from organizations.views import (
    administrators,
    audit,
    children,
    collection,
    departments,
    disband,
    incidents,
    invitations,
    member_self,
    registration,
    retention,
    roster,
    roster_import,
    security,
)

app_name = "organizations"

urlpatterns = [
    # registration, certification, ownership (ORG-1, ORG-2, ORG-12)
    path("", registration.organization_list, name="list"),
    path("register/", registration.register_organization, name="register"),
    path("my-data/", member_self.my_organization_data, name="my_data"),
    path("my-data/security-notices/", incidents.my_security_notices, name="security_notices"),  # SEC-4
    path("invitations/<str:token>/", invitations.invitation_answer, name="invitation_answer"),
    path("<int:org_id>/", registration.dashboard, name="dashboard"),
    path("<int:org_id>/certification/", registration.certification, name="certification"),
    path("<int:org_id>/transfer/", registration.transfer_ownership, name="transfer"),
    # disband (ORG-11)
    path("<int:org_id>/disband/", disband.disband, name="disband"),
    path("<int:org_id>/disband/status/", disband.disband_status, name="disband_status"),
    path("<int:org_id>/disband/cancel/", disband.disband_cancel, name="disband_cancel"),
    # roster (ORG-4, ORG-7, ORG-10)
    path("<int:org_id>/roster/", roster.roster_list, name="roster"),
    path("<int:org_id>/roster/selection/move/", roster.roster_bulk_move, name="roster_bulk_move"),
    path("<int:org_id>/roster/selection/remove/", roster.roster_bulk_remove, name="roster_bulk_remove"),
    path("<int:org_id>/roster/selection/export/", roster.roster_bulk_export, name="roster_bulk_export"),
    path("<int:org_id>/roster/<int:member_id>/", roster.member_detail, name="member"),
    path("<int:org_id>/roster/<int:member_id>/edit/", roster.member_edit, name="member_edit"),
    path("<int:org_id>/roster/<int:member_id>/reveal/<str:field>/", roster.member_reveal, name="member_reveal"),
    path("<int:org_id>/roster/import/", roster_import.import_upload, name="roster_import"),
    path("<int:org_id>/roster/import/<int:import_id>/", roster_import.import_detail, name="roster_import_detail"),
    path(
        "<int:org_id>/roster/import/<int:import_id>/status.json",
        roster_import.import_status,
        name="roster_import_status",
    ),
    path(
        "<int:org_id>/roster/import/<int:import_id>/report.csv",
        roster_import.import_report,
        name="roster_import_report",
    ),
    path("<int:org_id>/roster/export.csv", roster_import.roster_export, name="roster_export"),
    # children's data (SEC-3)
    path("<int:org_id>/roster/export/", children.roster_export_page, name="roster_export_page"),
    path("<int:org_id>/children/", children.children_settings, name="children"),
    path("<int:org_id>/roster/<int:member_id>/guardian/", children.guardian_consent, name="guardian_consent"),
    path(
        "<int:org_id>/roster/<int:member_id>/guardian/withdraw/",
        children.guardian_consent_withdraw,
        name="guardian_consent_withdraw",
    ),
    # minimization (ORG-5)
    path("<int:org_id>/collection/", collection.collection_settings, name="collection"),
    # retention of activity records (ANON-5)
    path("<int:org_id>/retention/", retention.retention_settings, name="retention"),
    path("<int:org_id>/security/", security.security_settings, name="security"),  # SEC-1 two-factor requirement
    # invitations (ORG-6, ORG-8)
    path("<int:org_id>/invitations/", invitations.invitation_list, name="invitations"),
    path("<int:org_id>/roster/<int:member_id>/invite/", invitations.member_invite, name="member_invite"),
    # audit (SEC-2)
    path("<int:org_id>/audit/", audit.audit_log, name="audit"),
    # departments (ORG-3)
    path("<int:org_id>/departments/", departments.department_tree, name="departments"),
    path("<int:org_id>/departments/new/", departments.department_create, name="department_create"),
    path("<int:org_id>/departments/<int:department_id>/edit/", departments.department_edit, name="department_edit"),
    path(
        "<int:org_id>/departments/<int:department_id>/delete/", departments.department_delete, name="department_delete"
    ),
    # administrators (ORG-9)
    path("<int:org_id>/admins/", administrators.administrator_list, name="admins"),
    path("<int:org_id>/admins/appoint/", administrators.administrator_appoint, name="admin_appoint"),
    path("<int:org_id>/admins/<int:admin_id>/", administrators.administrator_edit, name="admin_edit"),
    path("<int:org_id>/admins/<int:admin_id>/remove/", administrators.administrator_remove, name="admin_remove"),
]
