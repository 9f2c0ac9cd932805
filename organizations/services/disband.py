"""Disbanding an organization (ORG-11, ANON-2).

The owner re-verifies with a fresh SMS code, types the organization's name and confirms
a preview. The organization is frozen (read-only) for the grace window
(``DISBAND_GRACE_DAYS``), during which the owner can cancel. Then the anonymization
engine (``dataprotection.anonymization``) runs the cascade on Celery workers: every
table that holds the organization's personal data, found from the personal-data
declarations, is anonymized in place or emptied, key range by key range. Personal
accounts are never in the plan, and neither is anything of another organization, so a
member's other memberships stay as they are. When verification finds nothing left the
organization is marked disbanded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import CodePurpose
from accounts.services.codes import check_code, consume_code
from dataprotection import anonymization
from dataprotection.anonymization import StageSpec
from dataprotection.audit import record_event
from dataprotection.models import LIVE_JOB_STATUSES, AnonymizationJob, AuditEvent, JobKind, JobStatus, StageAction
from dataprotection.personal_data import declared_models
from dataprotection.tasks import enqueue_drivers
from organizations.models import (
    Administrator,
    Department,
    DepartmentUserObjectPermission,
    Member,
    MemberStatus,
    Organization,
    OrganizationStatus,
    OrganizationUserObjectPermission,
)
from organizations.permissions import OrgAccess

# The engine's own bookkeeping names organizations by id; it is not organization data.
NOT_ORGANIZATION_DATA = {"dataprotection.AnonymizationJob"}


def keep_on_disband(label: str) -> None:
    """Apps above this one name tables that point at an organization but hold the
    person's own records (a data-subject request filed with it), which a disband must
    leave alone (docs/architecture.md: a registry, not an import)."""
    NOT_ORGANIZATION_DATA.add(label)


def _organization_lookup(model: type[models.Model], organization_id: int) -> dict | None:
    """How ``model``'s rows of one organization are found: directly, through one
    foreign key, or (the audit trail) by a plain organization id column."""
    if model is Organization:
        return {"pk": organization_id}
    foreign_keys = [f for f in model._meta.concrete_fields if f.many_to_one]
    for fk in foreign_keys:
        if fk.related_model is Organization:
            return {fk.attname: organization_id}
    for fk in foreign_keys:
        for inner in fk.related_model._meta.concrete_fields:
            if inner.many_to_one and inner.related_model is Organization and not inner.null:
                return {f"{fk.name}__{inner.attname}": organization_id}
    names = {f.attname for f in model._meta.concrete_fields}
    if "organization_id" in names:
        return {"organization_id": organization_id}
    return None


def disband_stages(organization_id: int) -> list[StageSpec]:
    """The cascade of one organization: every declared model with personal data and a
    path to the organization. Anonymized tables first (phase 0, in parallel), then the
    deletes, children before the tables they point at."""
    specs: list[StageSpec] = []
    deletes: dict[type[models.Model], dict] = {}
    for model in sorted(declared_models(), key=lambda m: m._meta.label):
        if model._meta.label in NOT_ORGANIZATION_DATA or not anonymization.has_personal_data(model):
            continue
        lookup = _organization_lookup(model, organization_id)
        if lookup is None:
            continue
        if anonymization.default_action(model) == StageAction.DELETE:
            deletes[model] = lookup
            continue
        extra = {"status": MemberStatus.LEFT} if model is Member else {}
        specs.append(StageSpec(model._meta.label, lookup, phase=0, extra=extra))
    # Phase of a deleted table: one more than every deleted table pointing at it.
    phases = dict.fromkeys(deletes, 1)
    for _round in range(len(deletes)):
        for model in deletes:
            for fk in model._meta.concrete_fields:
                if fk.many_to_one and fk.related_model in deletes and fk.related_model is not model:
                    phases[fk.related_model] = max(phases[fk.related_model], phases[model] + 1)
    for model, lookup in sorted(deletes.items(), key=lambda item: (phases[item[0]], item[0]._meta.label)):
        specs.append(StageSpec(model._meta.label, lookup, phase=phases[model]))
    # Last, the department tree: not personal, but it is the disbanded organization's
    # structure and goes with it (ORG-11); its grants and placements are gone by then.
    last_phase = max(phases.values(), default=0) + 1
    specs.append(
        StageSpec(
            Department._meta.label, {"organization_id": organization_id}, phase=last_phase, action=StageAction.DELETE
        )
    )
    return specs


# Apps above this one add to the preview (consent: the services to be revoked) without
# this module importing them (docs/architecture.md).
_preview_contributors: list[Callable[[Organization], dict]] = []


def register_preview_contributor(contributor: Callable[[Organization], dict]) -> None:
    if contributor not in _preview_contributors:
        _preview_contributors.append(contributor)


def disband_preview(organization: Organization) -> dict:
    """What the cascade will do, for the owner to confirm: rows per kind of record,
    members affected (and how many have a personal account, which stays), administrators
    who lose their rights, services to revoke."""
    members = Member.objects.filter(organization=organization)
    preview = {
        "stages": [row for row in anonymization.count_stages(disband_stages(organization.pk)) if row["rows"]],
        "members": members.count(),
        "members_with_accounts": members.filter(user__isnull=False).count(),
        "administrators": organization.administrators.count(),
        "services": [],
        "grace_days": settings.DISBAND_GRACE_DAYS,
    }
    for contributor in _preview_contributors:
        preview.update(contributor(organization))
    return preview


def live_disband(organization_id: int) -> AnonymizationJob | None:
    return (
        AnonymizationJob.objects.filter(
            kind=JobKind.DISBAND,
            organization_id=organization_id,
            status__in=LIVE_JOB_STATUSES,
        )
        .order_by("-id")
        .first()
    )


def latest_disband(organization_id: int) -> AnonymizationJob | None:
    jobs = AnonymizationJob.objects.filter(kind=JobKind.DISBAND, organization_id=organization_id)
    return jobs.order_by("-id").first()


def request_disband(access: OrgAccess, *, code: str, confirm_name: str, ip: str | None = None) -> AnonymizationJob:
    """ORG-11: only the owner, re-verified, with the organization's name typed out.

    The code is checked before the transaction so that a wrong guess counts even though
    nothing else happens (``accounts.services.codes.check_code``)."""
    access.require_owner(writing=False)
    organization = access.organization
    if organization.status != OrganizationStatus.ACTIVE:
        raise ValidationError(_("This organization is already being disbanded."), code="already_disbanding")
    if confirm_name.strip() != organization.name:
        raise ValidationError(_("Type the organization's name exactly as shown to confirm."), code="name_mismatch")
    otc = check_code(access.user.phone, CodePurpose.REVERIFY, code)
    grace = timedelta(days=settings.DISBAND_GRACE_DAYS)
    try:
        with transaction.atomic():
            consume_code(otc)
            frozen = Organization.objects.filter(pk=organization.pk, status=OrganizationStatus.ACTIVE).update(
                status=OrganizationStatus.FROZEN
            )
            if not frozen:
                raise ValidationError(_("This organization is already being disbanded."), code="already_disbanding")
            job = anonymization.create_job(
                JobKind.DISBAND,
                organization_id=organization.pk,
                requested_by=access.user,
                label=organization.name,
                not_before=timezone.now() + grace,
                preview=disband_preview(organization),
            )
            record_event(
                "organization.disband_requested",
                actor=access.user,
                target=organization,
                organization=organization,
                ip=ip,
                metadata={"job": job.pk, "runs_after": job.not_before.isoformat()},
            )
            if not grace:
                enqueue_drivers(job.pk)
    except IntegrityError:  # a concurrent request won the one-live-disband constraint
        raise ValidationError(_("This organization is already being disbanded."), code="already_disbanding") from None
    organization.status = OrganizationStatus.FROZEN
    return job


def in_grace_window(job: AnonymizationJob, *, now=None) -> bool:
    """ORG-11: the disband can still be cancelled: scheduled, and its grace window has
    not ended (once it has, a worker may start the cascade at any moment)."""
    return job.status == JobStatus.SCHEDULED and job.not_before > (now or timezone.now())


def cancel_disband(access: OrgAccess, ip: str | None = None) -> bool:
    """The owner cancels during the grace window; the organization is active again.
    False once the grace window has ended, even before a worker took the job up (the
    cascade cannot be stopped half-way, and the owner was told when it would start)."""
    access.require_owner(writing=False)
    organization = access.organization
    with transaction.atomic():
        job = live_disband(organization.pk)
        if job is None:
            return False
        now = timezone.now()
        cancelled = AnonymizationJob.objects.filter(pk=job.pk, status=JobStatus.SCHEDULED, not_before__gt=now).update(
            status=JobStatus.CANCELLED, cancelled_at=now
        )
        if not cancelled:
            return False
        Organization.objects.filter(pk=organization.pk, status=OrganizationStatus.FROZEN).update(
            status=OrganizationStatus.ACTIVE
        )
        record_event(
            "organization.disband_cancelled",
            actor=access.user,
            target=organization,
            organization=organization,
            ip=ip,
            metadata={"job": job.pk},
        )
    organization.status = OrganizationStatus.ACTIVE
    return True


def plan_disband(job: AnonymizationJob) -> list[StageSpec]:
    """The stages, with the audit trail bounded to the events recorded before the
    cascade: the event that records the disband itself names no one and must stay."""
    last_event = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    specs = []
    for spec in disband_stages(job.organization_id):
        if spec.model == AuditEvent._meta.label:
            spec = StageSpec(spec.model, {**spec.lookup, "pk__lte": last_event}, spec.phase, spec.action, spec.extra)
        specs.append(spec)
    return specs


def finish_disband(job: AnonymizationJob) -> None:
    """Called by the engine inside its transaction once verification found nothing."""
    Organization.objects.filter(pk=job.organization_id).update(status=OrganizationStatus.DISBANDED)
    record_event(
        "organization.disbanded",
        organization=job.organization_id,
        metadata={
            "job": job.pk,
            "rows": sum(stage.changed for stage in job.stages.all()),
        },
    )


# --------------------------------------------------------------------------- ACC-5, ANON-3


def plan_member_records_of_person(job: AnonymizationJob) -> list[StageSpec]:
    """Account deletion: the person's roster entries in every organization become
    anonymous placeholders (status left), every record pointing at them is anonymized or
    deleted per its declaration, and their administrator rows and grants go."""
    member_ids = list(Member.objects.filter(user_id=job.subject_id).values_list("pk", flat=True))
    specs: list[StageSpec] = []
    for model in sorted(declared_models(), key=lambda m: m._meta.label):
        if not anonymization.has_personal_data(model):
            continue
        action = anonymization.default_action(model)
        phase = 1 if action == StageAction.DELETE else 0
        if model is Member:
            if member_ids:
                specs.append(StageSpec(model._meta.label, {"pk__in": member_ids}, extra={"status": MemberStatus.LEFT}))
            continue
        for fk in model._meta.concrete_fields:
            if fk.many_to_one and fk.related_model is Member and member_ids:
                specs.append(StageSpec(model._meta.label, {f"{fk.attname}__in": member_ids}, phase=phase))
    for model in (Administrator, OrganizationUserObjectPermission, DepartmentUserObjectPermission):
        specs.append(StageSpec(model._meta.label, {"user_id": job.subject_id}, phase=1))
    return specs


def owner_must_hand_over(user) -> list[str]:
    """ACC-5 with ORG-12: an organization always has an owner, so an owner hands it over
    (or disbands it) before deleting their account."""
    names = list(
        Organization.objects.filter(
            administrators__user=user,
            administrators__role="owner",
            status__in=[OrganizationStatus.ACTIVE, OrganizationStatus.FROZEN],
        ).values_list("name", flat=True)
    )
    if not names:
        return []
    return [
        _("You own %(organizations)s. Transfer the ownership or disband it before deleting your account.")
        % {"organizations": ", ".join(names)}
    ]
