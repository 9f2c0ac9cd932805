"""Disbanding an organization through its service (ORG-11): who may, the grace window,
the freeze, cancelling, and which tables the cascade covers (ANON-2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import TestCase
from django.utils import timezone

from accounts.models import CodePurpose
from accounts.services.codes import send_code
from dataprotection import anonymization
from dataprotection.models import AnonymizationJob, AuditEvent, JobStatus
from dataprotection.tasks import recover_jobs
from organizations.models import Invitation, Member, Organization, OrganizationStatus, Right
from organizations.permissions import org_access
from organizations.services import disband
from organizations.services.invitations import InvitationRefused, check_answerable
from tests.anonymization_data import populate
from tests.conftest import last_code
from tests.factories import UserFactory


def fresh_code(user, outbox) -> str:
    with TestCase.captureOnCommitCallbacks(execute=True):  # the SMS leaves after commit
        send_code(user.phone, CodePurpose.REVERIFY, user=user)
    return last_code(outbox, user.phone)


def assert_nothing_written(organization):
    assert Organization.objects.get(pk=organization.pk).status == OrganizationStatus.ACTIVE
    assert not AnonymizationJob.objects.filter(organization_id=organization.pk).exists()


@pytest.mark.django_db
def test_only_the_owner_may_disband(cast, sms_outbox):
    """ORG-9, ORG-11: a sub-administrator, even with every right, is refused."""
    access = org_access(cast.sub_admin, cast.organization.pk)
    with pytest.raises(PermissionDenied):
        disband.request_disband(
            access, code=fresh_code(cast.sub_admin, sms_outbox), confirm_name=cast.organization.name
        )
    assert_nothing_written(cast.organization)


@pytest.mark.django_db
def test_a_wrong_code_or_name_writes_nothing(cast, sms_outbox):
    """ORG-11: re-verification with a fresh code and the name typed out are both needed."""
    access = org_access(cast.owner, cast.organization.pk)
    code = fresh_code(cast.owner, sms_outbox)
    with pytest.raises(ValidationError, match="code"):
        disband.request_disband(
            access, code="000000" if code != "000000" else "111111", confirm_name=cast.organization.name
        )
    with pytest.raises(ValidationError, match="name exactly"):
        disband.request_disband(access, code=code, confirm_name="Hangzhou Example")
    assert_nothing_written(cast.organization)


@pytest.mark.django_db
def test_a_second_disband_is_refused(cast, sms_outbox):
    """ORG-11: an organization already disbanding gets a clear refusal, not a second job."""
    access = org_access(cast.owner, cast.organization.pk)
    disband.request_disband(access, code=fresh_code(cast.owner, sms_outbox), confirm_name=cast.organization.name)
    access = org_access(cast.owner, cast.organization.pk)
    with pytest.raises(ValidationError, match="already being disbanded"):
        disband.request_disband(access, code="123456", confirm_name=cast.organization.name)
    assert AnonymizationJob.objects.filter(organization_id=cast.organization.pk).count() == 1


@pytest.mark.django_db
def test_the_grace_window_freezes_and_cancel_restores(cast, sms_outbox, settings):
    """ORG-11: during the grace window the organization is read-only (no roster edits,
    no administrators appointed, nobody joins) and the owner can cancel."""
    settings.DISBAND_GRACE_DAYS = 7
    job = disband.request_disband(
        org_access(cast.owner, cast.organization.pk),
        code=fresh_code(cast.owner, sms_outbox),
        confirm_name=cast.organization.name,
    )
    assert job.status == JobStatus.SCHEDULED
    assert job.not_before > timezone.now() + timedelta(days=6)
    assert job.preview["members"] == 1
    frozen = org_access(cast.sub_admin, cast.organization.pk)
    assert frozen.is_frozen and not frozen.has(Right.EDIT_ROSTER) and frozen.has(Right.VIEW_ROSTER)
    with pytest.raises(PermissionDenied):
        frozen.get_member(cast.member.pk, Right.EDIT_ROSTER)
    owner = org_access(cast.owner, cast.organization.pk)
    assert Right.MANAGE_ADMINS not in owner.rights
    with pytest.raises(PermissionDenied):
        owner.require_owner()  # owner-only writes (transfer, certification) wait too
    invitation = Invitation.objects.create(
        organization=cast.organization,
        member=cast.member,
        token_digest="x" * 64,
        expires_at=timezone.now() + timedelta(days=1),
    )
    invitation = Invitation.objects.select_related("organization").get(pk=invitation.pk)
    with pytest.raises(InvitationRefused, match="being disbanded"):
        check_answerable(invitation, cast.member_user)
    assert recover_jobs() == "enqueued 0 jobs"  # not due yet

    assert disband.cancel_disband(owner) is True
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert Organization.objects.get(pk=cast.organization.pk).status == OrganizationStatus.ACTIVE
    assert org_access(cast.sub_admin, cast.organization.pk).has(Right.EDIT_ROSTER)
    actions = list(AuditEvent.objects.filter(organization_id=cast.organization.pk).values_list("action", flat=True))
    assert "organization.disband_requested" in actions and "organization.disband_cancelled" in actions


@pytest.mark.django_db
def test_the_cascade_starts_when_the_grace_window_ends(cast, sms_outbox, settings):
    """ORG-11: the beat sweep starts a due job; the cascade completes and cannot be
    cancelled any more."""
    settings.DISBAND_GRACE_DAYS = 7
    populate(cast.organization, members=4, users=[UserFactory()])
    job = disband.request_disband(
        org_access(cast.owner, cast.organization.pk),
        code=fresh_code(cast.owner, sms_outbox),
        confirm_name=cast.organization.name,
    )
    AnonymizationJob.objects.filter(pk=job.pk).update(not_before=timezone.now() - timedelta(minutes=1))
    assert recover_jobs() == "enqueued 1 jobs, 1 anonymization"  # eager in tests: runs now
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.report["verified"]
    assert Organization.objects.get(pk=cast.organization.pk).status == OrganizationStatus.DISBANDED
    assert not Member.objects.filter(organization=cast.organization, user__isnull=False).exists()
    assert AuditEvent.objects.filter(organization_id=cast.organization.pk, action="organization.disbanded").exists()


@pytest.mark.django_db
def test_without_grace_the_cascade_runs_after_commit(cast, sms_outbox, settings, django_capture_on_commit_callbacks):
    """ORG-11: a grace window of 0 days starts the workers once the request commits."""
    settings.DISBAND_GRACE_DAYS = 0
    with django_capture_on_commit_callbacks(execute=True):
        job = disband.request_disband(
            org_access(cast.owner, cast.organization.pk),
            code=fresh_code(cast.owner, sms_outbox),
            confirm_name=cast.organization.name,
        )
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED


def test_the_plan_covers_every_table_with_organization_data():
    """ANON-2: the plan is derived from the declarations; this list makes a table that
    silently dropped out of it (or a new one that joined) visible in review."""
    labels = {spec.model: spec for spec in disband.disband_stages(1)}
    assert set(labels) == {
        "accounts.ApiToken",  # an organization's integration tokens go with it
        "consent.ChildSharing",
        "consent.Disclosure",
        "consent.ProviderToken",
        "consent.Service",
        "consent.SharingGrant",
        "dataprotection.AuditEvent",
        "organizations.Administrator",
        "organizations.ApprovalRecord",
        "organizations.AttendancePunch",
        "organizations.BiometricTemplate",
        "organizations.Certification",
        "organizations.Department",
        "organizations.DepartmentUserObjectPermission",
        "organizations.DriveFile",
        "organizations.ExternalContactCard",
        "organizations.FamilyContact",
        "organizations.GuardianConsent",
        "organizations.Invitation",
        "organizations.Member",
        "organizations.MemberDepartment",
        "organizations.Organization",
        "organizations.OrganizationUserObjectPermission",
        "organizations.RetentionSetting",
        "organizations.RosterImport",
        "organizations.ScheduleEntry",
        "organizations.UploadAttestation",
        "organizations.WorkLog",
        "requests.AutomatedDecision",
    }
    assert labels["organizations.Member"].extra == {"status": "left"}
    assert labels["organizations.MemberDepartment"].lookup == {"member__organization_id": 1}
    deletes = {label: spec.phase for label, spec in labels.items() if spec.phase}
    assert labels["organizations.Department"].phase == max(deletes.values())  # the tree goes last
    assert labels["organizations.Department"].action == "delete"
    deletes.pop("organizations.Department")
    assert all(anonymization.default_action(anonymization.model_of(label)) == "delete" for label in deletes)
    anonymized = [
        spec
        for label, spec in labels.items()
        if (spec.action or anonymization.default_action(anonymization.model_of(label))) == "anonymize"
    ]
    assert anonymized and all(spec.phase == 0 for spec in anonymized)  # in place first, in parallel
