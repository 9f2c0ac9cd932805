from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = _("Organizations")

    def ready(self):
        from accounts.services.profile import register_locked_fields_provider
        from organizations.profile_locks import dedicated_edition_locks

        register_locked_fields_provider(dedicated_edition_locks)

        from accounts.api.tokens import register_organization_check
        from organizations.permissions import administered_organizations

        # Issue 7: a token may be restricted only to an organization its person administers.
        register_organization_check(lambda user, org_id: administered_organizations(user).filter(pk=org_id).exists())

        from organizations.services import disband, retention, security

        disband.register()  # the engine's planners and finishers: disband, account deletion
        retention.register()  # and the retention sweep (ANON-5, ANON-6)
        security.register()  # SEC-1: accounts asks whether a person's administrator roles need a second factor

        from dataprotection.rotation import register_file_column
        from organizations.services import registration as registration_services
        from organizations.services import roster_import as import_services

        # SEC-5: the columns naming encrypted files, for key rotation.
        for column in ("business_licence", "certification_letter"):
            register_file_column(
                "organizations.Certification", column, registration_services.CERTIFICATION_FILE_PURPOSE
            )
        # The uploaded file's name is reused for the checked plan once the check is done.
        register_file_column(
            "organizations.RosterImport", "file_ref", import_services.FILE_PURPOSE, import_services.PLAN_PURPOSE
        )
        register_file_column("organizations.RosterImport", "report_ref", import_services.REPORT_PURPOSE)

        from dataprotection import liveness
        from organizations.models import RosterImport

        # ORG-7: imports whose worker died (mid-check, mid-write) or whose message was lost.
        liveness.register(
            liveness.RecoverableKind(
                key="roster_import",
                label=_("Roster imports"),
                model=RosterImport,
                needs_worker=import_services.needs_worker,
                enqueue=import_services.resume,
            )
        )

        from dataprotection.anonymization import register_kind
        from dataprotection.models import JobKind
        from organizations.incidents import plan_incident_rows_of_person

        register_kind(JobKind.ACCOUNT_DELETION, plan_incident_rows_of_person)  # SEC-4 notices of the person

        from dataprotection.audit import register_organization_namer
        from organizations.models import Organization

        # SEC-2 "who accessed my data": name the organizations of administrators' events.
        register_organization_namer(lambda ids: dict(Organization.objects.filter(pk__in=ids).values_list("pk", "name")))
