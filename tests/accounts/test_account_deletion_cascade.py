"""Account deletion carried out (ACC-5, ANON-3): after the cooling-off period the
account row is gone, the person's records inside organizations are anonymized, their
memberships end, other people's data is untouched, and held data stays (ANON-4)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import TestCase

from accounts.models import AccountDeletionRequest, CodePurpose, DeletionStatus, IdentityVerification, OneTimeCode, User
from accounts.services.codes import send_code
from accounts.services.deletion import cancel_account_deletion, request_account_deletion
from dataprotection.audit import record_event
from dataprotection.models import AnonymizationJob, AuditEvent, JobStatus
from dataprotection.personal_data import ANONYMIZED
from organizations.models import Administrator, AttendancePunch, Member, WorkLog
from tests.anonymization_data import populate
from tests.conftest import last_code
from tests.factories import OrganizationFactory, UserFactory


def code_for(user, outbox) -> str:
    with TestCase.captureOnCommitCallbacks(execute=True):
        send_code(user.phone, CodePurpose.REVERIFY, user=user)
    return last_code(outbox, user.phone)


@pytest.mark.django_db
def test_deletion_removes_the_account_and_anonymizes_the_persons_records(sms_outbox, settings):
    """ACC-5, ANON-3: two organizations each keep an anonymous placeholder with
    de-identified records; the account, its codes and authentication are gone; the
    other members keep everything."""
    settings.ACCOUNT_DELETION_GRACE_DAYS = 0
    person = UserFactory(name="Leaving Person")
    IdentityVerification.objects.create(user=person, legal_name="Leaving Legal", id_number="x", id_number_digest="d")
    first, second = OrganizationFactory(), OrganizationFactory()
    populate(first, members=3, users=[person])
    populate(second, members=3, users=[person], tag="second")
    others_before = sorted(
        Member.objects.exclude(user=person).values_list("pk", "name", "employee_number", "user_id", "status")
    )
    event = record_event("member.viewed", subject=person, ip="10.1.2.3", metadata={"name": "Leaving Person"})
    with TestCase.captureOnCommitCallbacks(execute=True):
        deletion = request_account_deletion(person, code=code_for(person, sms_outbox), reason="moving on")
    job = AnonymizationJob.objects.get(pk=deletion.job_id)
    assert job.status == JobStatus.COMPLETED, job.report
    assert job.report["verified"]
    assert not User.objects.filter(pk=person.pk).exists()
    assert not IdentityVerification.objects.filter(legal_name="Leaving Legal").exists()
    deletion.refresh_from_db()
    assert deletion.status == DeletionStatus.COMPLETED and deletion.user_id is None
    placeholders = Member.objects.filter(employee_number="", organization__in=[first, second])
    assert placeholders.count() == 2
    assert set(placeholders.values_list("name", "status", "user_id")) == {(ANONYMIZED, "left", None)}
    for placeholder in placeholders:
        assert not AttendancePunch.objects.filter(member=placeholder).exclude(address="").exists()
        assert set(WorkLog.objects.filter(member=placeholder).values_list("content", flat=True)) == {ANONYMIZED}
        assert not placeholder.departments.exists()  # the membership ended
    assert not Administrator.objects.filter(user_id=person.pk).exists()
    assert (
        sorted(
            Member.objects.exclude(pk__in=placeholders).values_list(
                "pk", "name", "employee_number", "user_id", "status"
            )
        )
        == others_before
    )
    event = AuditEvent.objects.get(pk=event.pk)
    assert event.subject_user_id is None and event.metadata == ANONYMIZED
    assert event.ip_address == "10.1.2.3"  # service logs are held six months (ANON-4)


@pytest.mark.django_db
def test_an_owner_must_hand_over_first(cast, sms_outbox):
    """ACC-5 with ORG-12: an organization is never left without an owner; nothing is
    recorded and the code is not spent."""
    code = code_for(cast.owner, sms_outbox)
    with pytest.raises(ValidationError, match="Transfer the ownership"):
        request_account_deletion(cast.owner, code=code)
    assert not AccountDeletionRequest.objects.exists()
    assert not AnonymizationJob.objects.exists()


@pytest.mark.django_db
def test_cancel_works_until_the_cascade_starts(sms_outbox, settings):
    """ACC-5: during the cooling-off period the person can cancel; once the cascade has
    started, it runs to the end."""
    settings.ACCOUNT_DELETION_GRACE_DAYS = 7
    person = UserFactory()
    deletion = request_account_deletion(person, code=code_for(person, sms_outbox))
    job = AnonymizationJob.objects.get(pk=deletion.job_id)
    assert job.status == JobStatus.SCHEDULED and job.subject_id == person.pk
    assert cancel_account_deletion(person) is True
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert AccountDeletionRequest.objects.get(pk=deletion.pk).status == DeletionStatus.CANCELLED

    again = request_account_deletion(person, code=code_for_later(person, sms_outbox))
    AnonymizationJob.objects.filter(pk=again.job_id).update(status=JobStatus.RUNNING)
    assert cancel_account_deletion(person) is False
    assert AccountDeletionRequest.objects.get(pk=again.pk).status == DeletionStatus.RECEIVED


def code_for_later(user, outbox) -> str:
    OneTimeCode.objects.filter(phone=user.phone).update(created_at="2000-01-01T00:00:00Z")  # past the resend wait
    return code_for(user, outbox)
