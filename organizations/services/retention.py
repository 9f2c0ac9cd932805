"""Retention of activity records (ANON-5) and service shutdowns (ANON-6).

The owner sets, per kind of activity record, how many months the organization keeps it;
the daily retention sweep (``dataprotection.tasks.sweep_retention``) anonymizes or
deletes older records, as each table's personal-data declaration says, through the same
chunked engine as a disband. Operations staff announce the shutdown of a first-party
service at least ``SERVICE_SHUTDOWN_NOTICE_DAYS`` ahead; once it takes effect the sweep
erases that service's records in every organization.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dataprotection.anonymization import StageSpec, model_of, months_before
from dataprotection.audit import record_event
from dataprotection.models import AnonymizationJob, JobKind, JobStatus
from organizations.models import (
    RECORD_TABLES,
    Organization,
    OrganizationStatus,
    RecordKind,
    RetentionSetting,
    ServiceShutdown,
    ShutdownStatus,
)
from organizations.permissions import OrgAccess

MAX_RETENTION_MONTHS = 600


def retention_settings(organization: Organization) -> dict[str, int | None]:
    """Months kept per kind (``None``: kept as long as the organization exists)."""
    stored = dict(RetentionSetting.objects.filter(organization=organization).values_list("kind", "months"))
    return {kind: stored.get(kind) for kind in RecordKind.values}


@transaction.atomic
def update_retention_settings(
    access: OrgAccess, months_by_kind: dict[str, int | None], ip: str | None = None
) -> list[str]:
    """ANON-5: only the owner sets retention. Returns the kinds that changed."""
    access.require_owner()
    organization = access.organization
    unknown = set(months_by_kind) - set(RecordKind.values)
    if unknown:
        raise ValidationError(_("Unknown kind of record: %(kinds)s.") % {"kinds": ", ".join(sorted(unknown))})
    for months in months_by_kind.values():
        if months is not None and not 1 <= months <= MAX_RETENTION_MONTHS:
            raise ValidationError(
                _("Keep records between 1 and %(max)d months, or leave it empty to keep them.")
                % {"max": MAX_RETENTION_MONTHS},
                code="months_range",
            )
    current = retention_settings(organization)
    changed = [kind for kind, months in months_by_kind.items() if current[kind] != months]
    for kind in changed:
        months = months_by_kind[kind]
        if months is None:
            RetentionSetting.objects.filter(organization=organization, kind=kind).delete()
        else:
            RetentionSetting.objects.update_or_create(
                organization=organization, kind=kind, defaults={"months": months, "updated_by": access.user}
            )
    if changed:
        record_event(
            "organization.retention_changed",
            actor=access.user,
            target=organization,
            organization=organization,
            ip=ip,
            changes=changed,
            metadata={kind: {"before": current[kind], "after": months_by_kind[kind]} for kind in changed},
        )
    return changed


# --------------------------------------------------------------------------- shutdowns (ANON-6)


def earliest_effective_at(now=None):
    return (now or timezone.now()) + timedelta(days=settings.SERVICE_SHUTDOWN_NOTICE_DAYS)


def check_shutdown(staff, *, kind: str, announcement: str, effective_at, now=None) -> None:
    """Why a shutdown cannot be announced (ValidationError), checked before anything is
    written: not staff, unknown service, no text, less notice than the policy promises,
    or one already announced for the service."""
    if not getattr(staff, "is_staff", False):
        raise PermissionDenied
    if kind not in RecordKind.values:
        raise ValidationError(_("Choose a service."), code="kind")
    if not announcement.strip():
        raise ValidationError(_("Write the announcement people will read."), code="announcement")
    earliest = earliest_effective_at(now)
    if effective_at < earliest:
        raise ValidationError(
            _("A shutdown is announced at least %(days)d days before it takes effect (on or after %(date)s).")
            % {"days": settings.SERVICE_SHUTDOWN_NOTICE_DAYS, "date": earliest.strftime("%Y-%m-%d")},
            code="notice",
        )
    if ServiceShutdown.objects.filter(
        kind=kind, status__in=[ShutdownStatus.ANNOUNCED, ShutdownStatus.RUNNING]
    ).exists():
        raise ValidationError(_("A shutdown of this service is already announced."), code="duplicate")


def announce_shutdown(staff, *, kind: str, announcement: str, effective_at, ip: str | None = None) -> ServiceShutdown:
    """ANON-6: operations staff announce that a first-party service stops, at least
    ``SERVICE_SHUTDOWN_NOTICE_DAYS`` ahead (``check_shutdown``)."""
    now = timezone.now()
    check_shutdown(staff, kind=kind, announcement=announcement, effective_at=effective_at, now=now)
    try:
        with transaction.atomic():
            shutdown = ServiceShutdown.objects.create(
                kind=kind,
                announcement=announcement.strip(),
                announced_at=now,
                effective_at=effective_at,
                announced_by=staff,
            )
            record_event(
                "service.shutdown_announced",
                actor=staff,
                target=shutdown,
                ip=ip,
                metadata={"kind": kind, "effective_at": effective_at.isoformat()},
            )
    except IntegrityError:  # announced concurrently: the partial unique constraint decides
        raise ValidationError(_("A shutdown of this service is already announced."), code="duplicate") from None
    return shutdown


@transaction.atomic
def cancel_shutdown(staff, shutdown: ServiceShutdown, ip: str | None = None) -> bool:
    """Until it takes effect, a shutdown can be called off."""
    if not getattr(staff, "is_staff", False):
        raise PermissionDenied
    cancelled = ServiceShutdown.objects.filter(pk=shutdown.pk, status=ShutdownStatus.ANNOUNCED).update(
        status=ShutdownStatus.CANCELLED
    )
    if cancelled:
        record_event("service.shutdown_cancelled", actor=staff, target=shutdown, ip=ip)
    return bool(cancelled)


def shutdown_notices():
    """What every page announces: shutdowns not yet carried out."""
    return ServiceShutdown.objects.filter(status__in=[ShutdownStatus.ANNOUNCED, ShutdownStatus.RUNNING]).order_by(
        "effective_at"
    )


# --------------------------------------------------------------------------- the sweep's plan


def _record_stage(kind: str, lookup: dict) -> StageSpec:
    label, _field = RECORD_TABLES[kind]
    return StageSpec(label, {**lookup, "__pending__": True})


def plan_retention(job: AnonymizationJob) -> list[StageSpec]:
    """ANON-5 and ANON-6, in the transaction that starts the sweep: records older than
    their organization keeps them, and every record of a service whose shutdown has taken
    effect (that shutdown is marked running with this job, so it runs once)."""
    now = timezone.now()
    specs = []
    settings_rows = RetentionSetting.objects.filter(organization__status=OrganizationStatus.ACTIVE).order_by("pk")
    for setting in settings_rows:
        label, since = RECORD_TABLES[setting.kind]
        cutoff = months_before(now, setting.months)
        model_field = model_of(label)._meta.get_field(since)
        value = cutoff.isoformat() if isinstance(model_field, models.DateTimeField) else cutoff.date().isoformat()
        specs.append(_record_stage(setting.kind, {"organization_id": setting.organization_id, f"{since}__lt": value}))
    failed_jobs = AnonymizationJob.objects.filter(kind=JobKind.RETENTION, status=JobStatus.FAILED).values("pk")
    due = ServiceShutdown.objects.filter(
        models.Q(status=ShutdownStatus.ANNOUNCED, effective_at__lte=now)
        | models.Q(status=ShutdownStatus.RUNNING, job_id__in=failed_jobs)  # a failed sweep is taken up again
    )
    for shutdown in due:
        ServiceShutdown.objects.filter(pk=shutdown.pk).update(status=ShutdownStatus.RUNNING, job_id=job.pk)
        specs.append(_record_stage(shutdown.kind, {}))
    return specs


def finish_retention(job: AnonymizationJob) -> None:
    for shutdown in ServiceShutdown.objects.filter(job_id=job.pk, status=ShutdownStatus.RUNNING):
        ServiceShutdown.objects.filter(pk=shutdown.pk).update(status=ShutdownStatus.DONE)
        record_event("service.shutdown_done", target=shutdown, metadata={"job": job.pk, "kind": shutdown.kind})
