"""Retention settings (ANON-5) and service shutdowns (ANON-6), carried out by the daily
retention sweep through the anonymization engine."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from dataprotection.anonymization import base_queryset, months_before
from dataprotection.models import AnonymizationJob, AuditEvent, JobStatus
from dataprotection.tasks import sweep_retention
from organizations.models import AttendancePunch, DriveFile, RetentionSetting, ServiceShutdown, ShutdownStatus
from organizations.permissions import org_access
from organizations.services import retention
from tests.anonymization_data import populate
from tests.factories import OrganizationFactory, UserFactory


def age(model, queryset, field: str, when) -> None:
    base_queryset(model).filter(pk__in=queryset.values("pk")).update(**{field: when})


def run_sweep(capture) -> AnonymizationJob:
    with capture(execute=True):
        assert sweep_retention().startswith("retention job")
    job = AnonymizationJob.objects.filter(kind="retention").latest("pk")
    assert job.status == JobStatus.COMPLETED and job.report["verified"], job.report
    return job


@pytest.mark.django_db
def test_only_the_owner_sets_retention_and_bad_values_write_nothing(cast):
    """ANON-5: the owner sets months per kind of record; a sub-administrator cannot;
    an out-of-range value is refused and nothing changes."""
    with pytest.raises(PermissionDenied):
        retention.update_retention_settings(org_access(cast.sub_admin, cast.organization.pk), {"attendance": 12})
    owner = org_access(cast.owner, cast.organization.pk)
    with pytest.raises(ValidationError, match="between 1 and"):
        retention.update_retention_settings(owner, {"attendance": 12, "work_logs": 0})
    assert not RetentionSetting.objects.exists()
    assert retention.update_retention_settings(owner, {"attendance": 12, "drive": 24}) == ["attendance", "drive"]
    assert retention.retention_settings(cast.organization)["attendance"] == 12
    assert retention.update_retention_settings(owner, {"attendance": None, "drive": 24}) == ["attendance"]
    assert retention.retention_settings(cast.organization) == {
        "attendance": None,
        "approvals": None,
        "work_logs": None,
        "schedule": None,
        "drive": 24,
    }
    event = AuditEvent.objects.filter(action="organization.retention_changed").latest("pk")
    assert event.changes == ["attendance"] and event.metadata == {"attendance": {"before": 12, "after": None}}


@pytest.mark.django_db
def test_the_sweep_enforces_each_organizations_retention(cast, settings, django_capture_on_commit_callbacks):
    """ANON-5: records older than the organization keeps them are anonymized (punches)
    or deleted with their files (drive files); younger ones, and other organizations'
    records, stay; a second sweep has nothing left to do."""
    target, other = OrganizationFactory(), OrganizationFactory()
    data = populate(target, members=4)
    populate(other, members=4)
    owner = UserFactory()
    from organizations.models import Administrator

    Administrator.objects.create(organization=target, user=owner, role="owner")
    retention.update_retention_settings(org_access(owner, target.pk), {"attendance": 6, "drive": 12})
    old_time = months_before(timezone.now(), 6) - timedelta(days=1)
    old_punches = AttendancePunch.objects.filter(organization=target, member__in=data.members[:2])
    age(AttendancePunch, old_punches, "punched_at", old_time)
    age(AttendancePunch, AttendancePunch.objects.filter(organization=other), "punched_at", old_time)
    old_drive = DriveFile.objects.filter(organization=target, owner=data.members[0])
    old_file = old_drive.get().storage_ref
    age(DriveFile, old_drive, "uploaded_at", months_before(timezone.now(), 12) - timedelta(days=1))
    old_ids = set(old_punches.values_list("pk", flat=True))

    job = run_sweep(django_capture_on_commit_callbacks)
    for punch in AttendancePunch.objects.filter(organization=target):
        if punch.pk in old_ids:
            assert (punch.address, punch.photo_ref, punch.latitude) == ("", "", None)
        else:
            assert punch.address.startswith("Punch place")
    assert all(p.address.startswith("Punch place") for p in AttendancePunch.objects.filter(organization=other))
    assert not DriveFile.objects.filter(storage_ref=old_file).exists()
    assert not (Path(settings.PRIVATE_MEDIA_ROOT) / old_file).exists()
    assert DriveFile.objects.filter(organization=target).count() == 3
    changed = {stage.model_label: stage.changed for stage in job.stages.all()}
    assert changed["organizations.AttendancePunch"] == len(old_ids)

    again = run_sweep(django_capture_on_commit_callbacks)
    assert sum(stage.total for stage in again.stages.all()) == 0  # nothing pending


@pytest.mark.django_db
def test_a_service_shutdown_needs_thirty_days_notice_then_erases_its_records(cast, django_capture_on_commit_callbacks):
    """ANON-6: announced at least 30 days ahead (refused otherwise); the sweep leaves the
    records alone until it takes effect, then anonymizes them in every organization."""
    first, second = OrganizationFactory(), OrganizationFactory()
    populate(first, members=2)
    populate(second, members=2)
    with pytest.raises(ValidationError, match="at least 30 days"):
        retention.announce_shutdown(
            cast.staff, kind="attendance", announcement="Attendance ends.", effective_at=timezone.now()
        )
    with pytest.raises(PermissionDenied):
        retention.announce_shutdown(
            cast.owner, kind="attendance", announcement="x", effective_at=timezone.now() + timedelta(days=40)
        )
    shutdown = retention.announce_shutdown(
        cast.staff,
        kind="attendance",
        announcement="Attendance ends.",
        effective_at=retention.earliest_effective_at() + timedelta(minutes=1),
    )
    with pytest.raises(ValidationError, match="already announced"):
        retention.announce_shutdown(
            cast.staff, kind="attendance", announcement="Again", effective_at=timezone.now() + timedelta(days=31)
        )
    assert list(retention.shutdown_notices()) == [shutdown]

    run_sweep(django_capture_on_commit_callbacks)
    assert AttendancePunch.objects.exclude(address="").count() == 12  # not yet

    ServiceShutdown.objects.filter(pk=shutdown.pk).update(effective_at=timezone.now() - timedelta(seconds=1))
    job = run_sweep(django_capture_on_commit_callbacks)
    assert not AttendancePunch.objects.exclude(address="").exists()
    shutdown.refresh_from_db()
    assert shutdown.status == ShutdownStatus.DONE and shutdown.job_id == job.pk
    assert list(retention.shutdown_notices()) == []
