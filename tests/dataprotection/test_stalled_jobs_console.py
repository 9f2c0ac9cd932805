"""The operations console lists the background jobs waiting for a worker (ANON-2; the
roster import, ORG-7; export archives, REQ-7; deletion notices, SVC-3; SMS, ACC-1): by
kind, since when, with attempts and the last worker, only the kinds a staff member may
view, never an error text, and a count on the console's home page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from accounts.models import SMSMessage, SMSStatus
from dataprotection import anonymization
from dataprotection.models import AnonymizationJob, JobKind, JobStatus
from dataprotection.staff_roles import ROLES, sync_staff_roles
from organizations.models import ImportStatus, RosterImport
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/ops/stalled-jobs/"


def long_ago(minutes: int = 10):
    return timezone.now() - timedelta(minutes=minutes)


def test_staff_see_every_job_that_waits_for_a_worker(client, cast):
    """A cascade and an import without a live worker are listed with since when they
    wait, their attempts and the last worker, and a link to the job's console page where
    there is one; a job whose worker is alive and a finished one are not; a roster
    import's error text (it can echo roster values) is never shown."""
    stalled = anonymization.create_job(JobKind.DISBAND, organization_id=cast.organization.pk, not_before=long_ago())
    AnonymizationJob.objects.filter(pk=stalled.pk).update(
        status=JobStatus.RUNNING, heartbeat_at=long_ago(), attempts=2, worker="host-a:4242:ab12"
    )
    alive = anonymization.create_job(JobKind.DISBAND, organization_id=999, not_before=long_ago())
    AnonymizationJob.objects.filter(pk=alive.pk).update(status=JobStatus.RUNNING, heartbeat_at=timezone.now())
    finished = anonymization.create_job(JobKind.DISBAND, organization_id=998, not_before=long_ago())
    AnonymizationJob.objects.filter(pk=finished.pk).update(status=JobStatus.COMPLETED, heartbeat_at=long_ago())
    waiting_import = RosterImport.objects.create(
        organization=cast.organization, file_name="x.csv", file_format="csv", status=ImportStatus.IMPORTING,
        heartbeat_at=long_ago(3), last_error="Row 7: 13900000007 is taken",
    )  # fmt: skip
    client.force_login(cast.staff)
    page = client.get(URL, headers={"accept-language": "en"}).content.decode()
    assert 'id="stalled-anonymization"' in page and 'id="stalled-roster_import"' in page
    assert reverse("admin:dataprotection_anonymizationjob_change", args=[stalled.pk]) in page
    assert reverse("admin:dataprotection_anonymizationjob_change", args=[alive.pk]) not in page
    assert reverse("admin:dataprotection_anonymizationjob_change", args=[finished.pk]) not in page
    assert "host-a:4242:ab12" in page
    assert f'<th scope="row">{waiting_import.pk}</th>' in page  # no console page of its own
    assert "13900000007" not in page
    home = client.get(reverse("admin:index"), headers={"accept-language": "en"}).content.decode()
    assert "2 background jobs are waiting for a worker." in home and URL in home


def test_nothing_waiting_says_so(client, cast):
    SMSMessage.objects.create(phone="+8613800000000", body="x", status=SMSStatus.SENT, heartbeat_at=long_ago())
    client.force_login(cast.staff)
    page = client.get(URL, headers={"accept-language": "en"}).content.decode()
    assert 'data-testid="no-stalled-jobs"' in page
    home = client.get(reverse("admin:index"), headers={"accept-language": "en"}).content.decode()
    assert "No background job is waiting for a worker." in home


def test_a_role_sees_only_the_kinds_it_may_view(client, cast):
    """SEC-1 least privilege: a staff member whose role views none of the job tables
    (the auditor: the audit trail only) gets 403 and no notice; one allowed to view SMS
    messages sees those only."""
    sync_staff_roles()
    auditor = UserFactory(is_staff=True)
    auditor.groups.add(Group.objects.get(name=next(role.group for role in ROLES if role.key == "auditor")))
    job = anonymization.create_job(JobKind.DISBAND, organization_id=cast.organization.pk, not_before=long_ago())
    AnonymizationJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, heartbeat_at=long_ago())
    client.force_login(auditor)
    assert client.get(URL).status_code == 403
    assert "waiting for a worker" not in client.get(reverse("admin:index")).content.decode()
    from django.contrib.auth.models import Permission

    sms_reader = UserFactory(is_staff=True)
    sms_reader.user_permissions.add(Permission.objects.get(codename="view_smsmessage"))
    SMSMessage.objects.create(phone="+8613800000000", body="x", heartbeat_at=long_ago())
    client.force_login(sms_reader)
    page = client.get(URL, headers={"accept-language": "en"}).content.decode()
    assert 'id="stalled-sms"' in page and 'id="stalled-anonymization"' not in page


def test_the_console_requires_staff(client, cast):
    client.force_login(cast.owner)
    response = client.get(URL)
    assert response.status_code == 302 and "/ops/login/" in response["Location"]
