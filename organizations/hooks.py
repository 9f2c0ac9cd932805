"""Where organizations fills the registries of the layers below it (accounts and
dataprotection cannot import organizations: docs/architecture.md). ``connect()`` runs
once, from ``OrganizationsConfig.ready``; every registry it fills ignores a second
registration of the same function, so calling it again changes nothing."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _

from accounts.api.tokens import register_organization_check
from accounts.services.deletion import register_deletion_blocker
from accounts.services.profile import register_locked_fields_provider
from accounts.services.two_factor import register_requirement_provider
from dataprotection import liveness
from dataprotection.anonymization import register_kind
from dataprotection.audit import register_organization_namer
from dataprotection.models import AuditEvent, JobKind
from dataprotection.rotation import register_file_column
from organizations import tasks
from organizations.models import Department, Member, MemberDepartment, Organization, RosterImport
from organizations.permissions import administered_organizations
from organizations.selectors import dedicated_edition_locks
from organizations.services import disband, registration, retention, roster, security
from organizations.services.incidents import plan_incident_rows_of_person
from organizations.services.roster_import import jobs as import_jobs
from organizations.services.roster_import import queue as import_queue


def administers(user, organization_id: int) -> bool:
    """Whether ``user`` administers the organization ``organization_id``."""
    return administered_organizations(user).filter(pk=organization_id).exists()


def organization_names(ids) -> dict[int, str]:
    """Organization id -> name, for the audit pages of the layers below."""
    return dict(Organization.objects.filter(pk__in=ids).values_list("pk", "name"))


def roster_event_recorded(sender, instance, created, raw=False, **kwargs) -> None:
    """ORG-7: a service changed the roster with queryset writes (its audit event says so)."""
    if created and not raw and instance.organization_id and instance.action in roster.ROSTER_CHANGES:
        roster.renew_roster_totals([instance.organization_id])


def roster_row_saved(sender, instance, raw=False, **kwargs) -> None:
    """ORG-7: an entry or a placement was saved (a form, the console, a fixture)."""
    if raw:
        return
    if isinstance(instance, Member):
        roster.renew_roster_totals([instance.organization_id])
    else:
        roster.renew_roster_totals(Department.objects.filter(pk=instance.department_id).values("organization_id"))


def connect() -> None:
    # ORG-7: the roster page's cached totals are counted again after any change.
    post_save.connect(roster_event_recorded, sender=AuditEvent, dispatch_uid="organizations.roster_event")
    post_save.connect(roster_row_saved, sender=Member, dispatch_uid="organizations.roster_member")
    post_save.connect(roster_row_saved, sender=MemberDepartment, dispatch_uid="organizations.roster_placement")

    # ORG-7: the import's steps are Celery tasks; the import's services reach them here.
    import_queue.use(
        import_queue.Steps(
            validate=tasks.validate_roster_import,
            check_part=tasks.check_roster_import_part,
            finish_check=tasks.finish_roster_check,
            run=tasks.run_roster_import,
        )
    )
    # ACC-6: a dedicated-edition organization's members see their basic fields locked.
    register_locked_fields_provider(dedicated_edition_locks)
    # Personal access tokens: a token may be restricted only to an organization its
    # person administers.
    register_organization_check(administers)
    # SEC-1: accounts asks whether a person's administrator roles need a second factor.
    register_requirement_provider(security.admin_needs_second_factor)

    # The anonymization engine's planners and finishers: disband (ORG-11), account
    # deletion (ACC-5, ANON-3; an owner hands over first), the retention sweep
    # (ANON-5, ANON-6) and the person's incident notices (SEC-4).
    register_kind(JobKind.DISBAND, disband.plan_disband, disband.finish_disband)
    register_kind(JobKind.ACCOUNT_DELETION, disband.plan_member_records_of_person)
    register_deletion_blocker(disband.owner_must_hand_over)
    register_kind(JobKind.RETENTION, retention.plan_retention, retention.finish_retention)
    register_kind(JobKind.ACCOUNT_DELETION, plan_incident_rows_of_person)

    # SEC-5: the columns naming encrypted files, for key rotation.
    for column in ("business_licence", "certification_letter"):
        register_file_column("organizations.Certification", column, registration.CERTIFICATION_FILE_PURPOSE)
    # The uploaded file's name is reused for the checked plan once the check is done.
    register_file_column("organizations.RosterImport", "file_ref", import_jobs.FILE_PURPOSE, import_jobs.PLAN_PURPOSE)
    register_file_column("organizations.RosterImport", "report_ref", import_jobs.REPORT_PURPOSE)

    # ORG-7: imports whose worker died (mid-check, mid-write) or whose message was lost.
    liveness.register(
        liveness.RecoverableKind(
            key="roster_import",
            label=_("Roster imports"),
            model=RosterImport,
            needs_worker=import_jobs.needs_worker,
            enqueue=import_jobs.resume,
        )
    )

    # SEC-2 "who accessed my data": name the organizations of administrators' events.
    register_organization_namer(organization_names)
