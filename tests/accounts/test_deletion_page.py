"""The account deletion page (ACC-5): when a pending request will be carried out and
until when it can be cancelled, that a started one can no longer be, and the refusal
of an organization's owner shown as a form-wide error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountDeletionRequest, CodePurpose
from accounts.services import deletion as deletion_service
from dataprotection.models import AnonymizationJob, AuditEvent, JobStatus
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"
DELETE_URL = reverse("accounts:delete")


def test_pending_request_shows_when_it_is_carried_out(client, issue_code, settings):
    """ACC-5: after a verified request the page says on which date the account is
    deleted (the end of the cooling-off period) and that it can be cancelled until
    then."""
    settings.ACCOUNT_DELETION_GRACE_DAYS = 7
    user = UserFactory(phone=PHONE)
    deletion = deletion_service.request_account_deletion(user, code=issue_code(PHONE, CodePurpose.REVERIFY))
    job = AnonymizationJob.objects.get(pk=deletion.job_id)
    assert timedelta(days=6, hours=23) < job.not_before - timezone.now() <= timedelta(days=7)
    client.force_login(user)
    content = client.get(DELETE_URL).content.decode()
    date = timezone.localtime(job.not_before).strftime("%Y-%m-%d %H:%M")
    assert f"Your account will be deleted on <strong>{date}</strong>. Until then you can cancel the request." in content
    assert "Cancel my deletion request" in content
    assert "can no longer be cancelled" not in content


def test_started_deletion_says_it_can_no_longer_be_cancelled(client, issue_code):
    """ACC-5: once the cascade runs, the page says the account is being deleted and
    offers no cancel button."""
    user = UserFactory(phone=PHONE)
    deletion = deletion_service.request_account_deletion(user, code=issue_code(PHONE, CodePurpose.REVERIFY))
    AnonymizationJob.objects.filter(pk=deletion.job_id).update(status=JobStatus.RUNNING)
    client.force_login(user)
    content = client.get(DELETE_URL).content.decode()
    assert "Your account is being deleted now; the request can no longer be cancelled." in content
    assert "Cancel my deletion request" not in content
    assert "Until then you can cancel" not in content


def test_owner_is_refused_with_a_form_wide_error(client, cast, issue_code):
    """ACC-5 with ORG-12: an owner asked to hand the organization over first sees it as
    an error of the whole form, not of the SMS code field; nothing is recorded."""
    code = issue_code(cast.owner.phone, CodePurpose.REVERIFY, user=cast.owner)
    client.force_login(cast.owner)
    response = client.post(DELETE_URL, {"code": code, "confirm": "1"})
    assert response.status_code == 200
    form = response.context["form"]
    assert "code" not in form.errors
    (error,) = form.non_field_errors()
    assert "Transfer the ownership" in error
    content = response.content.decode()
    assert '<div role="alert"><ul class="errors form-errors"><li>' in content and "Transfer the ownership" in content
    assert not AccountDeletionRequest.objects.exists()
    assert not AnonymizationJob.objects.exists()
    assert not AuditEvent.objects.filter(action="account.deletion_requested").exists()


def test_a_wrong_code_stays_on_the_code_field(client, issue_code):
    """ACC-5: a code refusal is still shown next to the code field."""
    user = UserFactory(phone=PHONE)
    code = issue_code(PHONE, CodePurpose.REVERIFY, user=user)
    client.force_login(user)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    form = client.post(DELETE_URL, {"code": wrong, "confirm": "1"}).context["form"]
    assert form.errors["code"] and not form.non_field_errors()
