"""What a disband or an account deletion does to services and recipients (ORG-11, ACC-5,
SVC-3, REQ-8): open grants are closed with tokens revoked inside the cascade's start,
each third party that received data is sent a deletion notice, and the consent app's
tables lose the person while consents stay as anonymized evidence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from accounts.models import CodePurpose
from accounts.services.codes import send_code
from accounts.services.deletion import request_account_deletion
from consent.models import (
    ConsentRecord,
    Decision,
    DeletionNotice,
    Disclosure,
    GrantStatus,
    NoticeReason,
    PersonalAuthorization,
    PrivacySettings,
    ProviderToken,
    Purpose,
    Service,
    ServiceKind,
    SharingGrant,
)
from consent.services import personal_apps, tokens
from consent.services.open_ids import member_open_id, organization_open_id, user_open_id
from dataprotection.models import AnonymizationJob, JobStatus
from dataprotection.tasks import recover_jobs
from organizations.models import Member
from organizations.permissions import org_access
from organizations.services import disband
from tests.conftest import last_code
from tests.factories import MemberFactory, OrganizationFactory, UserFactory


def fresh_code(user, outbox) -> str:
    with TestCase.captureOnCommitCallbacks(execute=True):
        send_code(user.phone, CodePurpose.REVERIFY, user=user)
    return last_code(outbox, user.phone)


def third_party(code: str, kind=ServiceKind.THIRD_PARTY) -> Service:
    return Service.objects.create(
        code=code,
        name=code.title(),
        kind=kind,
        provider_name="Provider",
        privacy_policy_url="https://provider.example/privacy",
        notice_url="http://127.0.0.1:9/unreachable",  # nothing listens: notices stay pending
        data_scopes=["mobile"],
    )


@pytest.mark.django_db
def test_disband_closes_every_open_service_and_notifies_each_provider(cast, sms_outbox, settings):
    """ORG-11, SVC-3: the preview names the services; the cascade revokes the grants
    and their tokens and queues one organization-wide notice per third party; first-party
    services are closed without a notice; other organizations' grants stay open."""
    settings.DISBAND_GRACE_DAYS = 1
    hr_app = third_party("hr-sync")
    # The first-party catalog comes with a migration (a transactional test may have wiped it).
    mail = Service.objects.get_or_create(code="mail", defaults={"name": "Mail", "kind": ServiceKind.FIRST_PARTY})[0]
    grant = SharingGrant.objects.create(organization=cast.organization, service=hr_app, opened_by=cast.owner)
    SharingGrant.objects.create(organization=cast.organization, service=mail, opened_by=cast.owner)
    other_org = OrganizationFactory()
    other_grant = SharingGrant.objects.create(organization=other_org, service=hr_app)
    raw, _token = tokens.issue_token(grant=grant)
    other_raw, _other = tokens.issue_token(grant=other_grant)
    assert disband.disband_preview(cast.organization)["services"] == ["Hr-Sync", "Mail"]

    job = disband.request_disband(
        org_access(cast.owner, cast.organization.pk),
        code=fresh_code(cast.owner, sms_outbox),
        confirm_name=cast.organization.name,
    )
    assert tokens.authenticate_token(raw) is not None  # the grace window changes nothing yet
    AnonymizationJob.objects.filter(pk=job.pk).update(not_before=timezone.now() - timedelta(minutes=1))
    recover_jobs()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.report

    assert set(SharingGrant.objects.filter(organization=cast.organization).values_list("status", "close_reason")) == {
        (GrantStatus.REVOKED, NoticeReason.ORGANIZATION_DISBANDED)
    }
    assert not SharingGrant.objects.filter(organization=cast.organization, opened_by__isnull=False).exists()
    assert tokens.authenticate_token(raw) is None
    assert not ProviderToken.objects.filter(grant__organization=cast.organization).exists()
    notice = DeletionNotice.objects.get(organization=cast.organization)
    assert notice.service == hr_app and notice.reason == NoticeReason.ORGANIZATION_DISBANDED
    assert notice.payload["scope"] == "all"
    assert notice.payload["organization"] == organization_open_id(hr_app.code, cast.organization.pk)
    assert tokens.authenticate_token(other_raw) is not None
    assert SharingGrant.objects.get(pk=other_grant.pk).status == GrantStatus.ACTIVE


@pytest.mark.django_db
def test_a_retried_start_closes_nothing_twice(cast):
    """Idempotent planning: a second plan of the same job finds no open grant."""
    hr_app = third_party("hr-sync")
    SharingGrant.objects.create(organization=cast.organization, service=hr_app)
    from consent.services.lifecycle import plan_disband_sharing

    job = AnonymizationJob(kind="disband", organization_id=cast.organization.pk)
    assert plan_disband_sharing(job) == [] and plan_disband_sharing(job) == []
    assert DeletionNotice.objects.filter(service=hr_app).count() == 1


@pytest.mark.django_db
def test_account_deletion_tells_every_recipient_and_keeps_consents_as_evidence(sms_outbox, settings):
    """ACC-5, REQ-8, SVC-4: the person's mini-program authorization is revoked, each
    third party that received their data (through an organization or directly) gets a
    notice naming them by its own pseudonymous ID; consent records stay without the
    person; settings, authorizations and tokens are gone; others are untouched."""
    settings.ACCOUNT_DELETION_GRACE_DAYS = 0
    person, other = UserFactory(), UserFactory()
    organization = OrganizationFactory()
    member = MemberFactory(organization=organization, user=person)
    other_member = MemberFactory(organization=organization, user=other)
    hr_app, weather = third_party("hr-sync"), third_party("weather", kind=ServiceKind.MINI_PROGRAM)
    grant = SharingGrant.objects.create(organization=organization, service=hr_app)
    Disclosure.objects.create(service=hr_app, organization=organization, member=member, user=person, scopes=["mobile"])
    Disclosure.objects.create(service=hr_app, organization=organization, member=other_member, user=other, scopes=[])
    authorization = personal_apps.authorize_mini_program(person, weather)
    raw, _token = tokens.issue_token(authorization=authorization)
    Disclosure.objects.create(service=weather, user=person, scopes=[])
    granted_at = timezone.now() - timedelta(days=3)
    ConsentRecord.objects.create(
        user=person, purpose=Purpose.MARKETING, decision=Decision.GRANTED, channel="web", recorded_at=granted_at
    )
    PrivacySettings.objects.create(user=person, findable_by_phone=True, discovery_digest="a" * 64)
    grant_token, _grant_token = tokens.issue_token(grant=grant)

    with TestCase.captureOnCommitCallbacks(execute=True):
        deletion = request_account_deletion(person, code=fresh_code(person, sms_outbox), reason="")
    job = AnonymizationJob.objects.get(pk=deletion.job_id)
    assert job.status == JobStatus.COMPLETED, job.report

    assert tokens.authenticate_token(raw) is None
    assert not PersonalAuthorization.objects.filter(pk=authorization.pk).exists()
    assert not PrivacySettings.objects.exists()
    notices = {notice.service.code: notice for notice in DeletionNotice.objects.all()}
    assert set(notices) == {"hr-sync", "weather"}
    assert notices["hr-sync"].reason == NoticeReason.ACCOUNT_DELETED
    assert notices["hr-sync"].payload["members"] == [member_open_id("hr-sync", member.pk)]
    assert notices["weather"].payload["users"] == [user_open_id("weather", person.pk)]
    record = ConsentRecord.objects.get(purpose=Purpose.MARKETING)
    assert record.user_id is None and record.decision == Decision.GRANTED and record.recorded_at == granted_at
    assert not Disclosure.objects.filter(member=member).exists()
    assert Disclosure.objects.filter(member=other_member, user=other).exists()
    assert Member.objects.get(pk=other_member.pk).user_id == other.pk
    assert tokens.authenticate_token(grant_token) is not None  # the organization's grant stays open


@pytest.mark.django_db
def test_the_account_deletion_plan_covers_every_table_about_a_person():
    """ACC-5, ANON-2: every declared table whose rows are about a person (a ``subject``
    path) is in the account-deletion plan, so a new table cannot slip past it. The
    exceptions are listed with the reason."""
    from dataprotection import anonymization
    from dataprotection.personal_data import declaration_for, declared_models

    person = UserFactory()
    MemberFactory(organization=OrganizationFactory(), user=person)
    job = AnonymizationJob(kind="account_deletion", subject_id=person.pk, created_at=timezone.now())
    planned = {spec.model for spec in anonymization.stages_for(job)}
    about_a_person = {
        model._meta.label
        for model in declared_models()
        if declaration_for(model).subject and anonymization.has_personal_data(model)
    }
    not_planned = {
        "sessions.Session": "sessions end with the account's sign-out; expired ones are purged",
        "accounts.AccountDeletionRequest": "the record that the deletion was carried out; the account row's "
        "deletion sets its user to NULL",
    }
    assert about_a_person - planned - set(not_planned) == set()
