"""Disbanding an organization from the browser-facing pages (ORG-11, ANON-2, ANON-7):
the permission matrix of the disband, status and cancel pages, the preview, refusals
that write nothing, the cascade end to end with eager Celery, the frozen banner and
cancel, the former owner's access to the deletion report, the member's notice, and the
operations console's read-only list of jobs with a pinned query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dataprotection import anonymization
from dataprotection.models import AnonymizationJob, AnonymizationStage, AuditEvent, JobKind, JobStatus
from organizations.context_processors import cached_shutdown_notices
from organizations.models import Administrator, AttendancePunch, Member, Organization, OrganizationStatus
from tests.anonymization_data import populate
from tests.conftest import last_code
from tests.factories import UserFactory
from tests.organizations.matrix import ROLES, client_as, org_url

pytestmark = pytest.mark.django_db


def organization_status(cast) -> str:
    return Organization.objects.values_list("status", flat=True).get(pk=cast.organization.pk)


# --------------------------------------------------------------------------- permission matrix

EXPECTED = {
    # (view, method): owner, in-scope sub-admin, out-of-scope sub-admin, other org's admin, member, anonymous
    ("disband", "get"): (200, 403, 403, 404, 404, 302),
    ("disband", "post"): (200, 403, 403, 404, 404, 302),
    ("disband_status", "get"): (200, 403, 403, 404, 404, 302),
    ("disband_cancel", "post"): (302, 403, 403, 404, 404, 302),
}


@pytest.mark.parametrize(("view", "method"), EXPECTED)
@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
def test_permission_matrix(client, cast, view, method, role_index):
    """ORG-11, ORG-9: the disband pages are the owner's; a sub-administrator gets 403,
    anyone outside the organization 404, and an anonymous visitor is sent to sign in."""
    role = ROLES[role_index]
    client_as(client, cast, role)
    url = org_url(view, cast)
    response = client.get(url) if method == "get" else client.post(url, {"confirm_name": "x", "code": "123456"})
    assert response.status_code == EXPECTED[(view, method)][role_index]
    if role == "anonymous":
        assert response["Location"].startswith(reverse("accounts:login"))
    assert organization_status(cast) == OrganizationStatus.ACTIVE
    assert not AnonymizationJob.objects.exists()


def test_cancel_accepts_posts_only(client, cast):
    client_as(client, cast, "owner")
    assert client.get(org_url("disband_cancel", cast)).status_code == 405


def test_only_the_owner_sees_the_disband_link(client, cast):
    """ORG-11: the organization menu and the overview link to the disband page for the
    owner only."""
    url = org_url("disband", cast)
    assert url in client_as(client, cast, "owner").get(org_url("dashboard", cast)).content.decode()
    client.force_login(cast.sub_admin)
    assert url not in client.get(org_url("dashboard", cast)).content.decode()


# --------------------------------------------------------------------------- preview


def test_preview_shows_what_the_cascade_does(client, cast, settings):
    """ORG-11: the owner confirms a preview: records per kind with what happens to them,
    members affected, those with a personal account (untouched), administrators who lose
    their rights, services to revoke and the grace window."""
    settings.DISBAND_GRACE_DAYS = 5
    joined = UserFactory()
    data = populate(cast.organization, members=4, records_per_member=2, users=[joined])
    page = client_as(client, cast, "owner").get(org_url("disband", cast)).content.decode()
    members = Member.objects.filter(organization=cast.organization)
    assert f'data-testid="preview-members">{members.count()}<' in page
    assert f'data-testid="preview-accounts">{members.filter(user__isnull=False).count()}<' in page
    admins = Administrator.objects.filter(organization=cast.organization).count()
    assert admins == 4
    assert f'data-testid="preview-administrators">{admins}<' in page
    assert 'data-testid="preview-services">None<' in page
    assert 'data-testid="preview-grace">5 days<' in page
    punches = data.counts["organizations.AttendancePunch"]
    assert f'data-testid="rows-organizations.AttendancePunch">{punches}<' in page
    assert "Personal accounts are not touched" in page or "personal accounts are not touched" in page
    assert "memberships in other organizations" in page
    row = page.split('data-model="organizations.BiometricTemplate"')[1].split("</tr>")[0]
    assert "deleted" in row
    row = page.split('data-model="organizations.Member"')[1].split("</tr>")[0]
    assert "anonymized" in row
    assert 'name="send_code"' in page
    assert 'name="confirm_name"' in page
    assert not AnonymizationJob.objects.exists()  # looking changes nothing


# --------------------------------------------------------------------------- refusals


@pytest.fixture
def disband_code(client, cast, sms_outbox, django_capture_on_commit_callbacks):
    """The owner on the disband page, with a fresh re-verification code."""
    client.force_login(cast.owner)
    url = org_url("disband", cast)
    with django_capture_on_commit_callbacks(execute=True):  # the SMS goes out on commit
        response = client.post(url, {"send_code": "1", "confirm_name": "typed so far"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "We sent a six-digit code" in page
    assert 'value="typed so far"' in page  # what was typed survives the send
    assert not AnonymizationJob.objects.exists()
    return url, last_code(sms_outbox, cast.owner.phone)


def assert_nothing_written(cast):
    assert organization_status(cast) == OrganizationStatus.ACTIVE
    assert not AnonymizationJob.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="organization.disband").exists()
    assert Administrator.objects.filter(organization=cast.organization).count() == 3


def test_wrong_code_is_a_field_error_and_writes_nothing(client, cast, disband_code):
    """ORG-11: a wrong re-verification code is refused on the code field."""
    url, code = disband_code
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(url, {"confirm_name": cast.organization.name, "code": wrong})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_code-errors"' in page
    assert "The code is wrong." in page
    assert_nothing_written(cast)


def test_wrong_name_is_refused_and_writes_nothing(client, cast, disband_code):
    """ORG-11: the organization's name must be typed exactly."""
    url, code = disband_code
    response = client.post(url, {"confirm_name": "Hangzhou Example", "code": code})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="errors form-errors"' in page
    assert "Type the organization&#x27;s name exactly as shown to confirm." in page
    assert_nothing_written(cast)


def test_missing_fields_are_refused_and_write_nothing(client, cast, disband_code):
    url, _code = disband_code
    response = client.post(url, {"confirm": "1"})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert_nothing_written(cast)


def test_a_second_disband_is_refused_while_one_is_pending(client, cast, disband_code, sms_outbox):
    """ORG-11: one live disband per organization; asking again writes nothing more."""
    url, code = disband_code
    assert client.post(url, {"confirm_name": cast.organization.name, "code": code}).status_code == 302
    job = AnonymizationJob.objects.get()
    page = client.get(url).content.decode()
    assert "This organization is already being disbanded." in page
    assert 'id="disband-form"' not in page
    response = client.post(url, {"confirm_name": cast.organization.name, "code": code})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="errors form-errors"' in page
    assert "This organization is already being disbanded." in page
    assert list(AnonymizationJob.objects.values_list("pk", flat=True)) == [job.pk]
    assert AuditEvent.objects.filter(action="organization.disband_requested").count() == 1
    assert organization_status(cast) == OrganizationStatus.FROZEN


# --------------------------------------------------------------------------- grace window, banner, cancel


def test_default_grace_freezes_shows_the_banner_and_cancel_reactivates(client, cast, disband_code, settings):
    """ORG-11: during the grace window the organization is read-only (a scoped
    sub-administrator's roster edit is refused), every page says when it is disbanded,
    and the owner's cancel makes it active again."""
    settings.DISBAND_GRACE_DAYS = 7
    edit = reverse("organizations:member_edit", args=[cast.organization.pk, cast.member.pk])
    url, code = disband_code
    response = client.post(url, {"confirm_name": cast.organization.name, "code": code})
    assert response.status_code == 302
    assert response["Location"] == org_url("disband_status", cast)
    job = AnonymizationJob.objects.get()
    assert job.status == JobStatus.SCHEDULED
    assert job.not_before > timezone.now() + timedelta(days=6)
    assert organization_status(cast) == OrganizationStatus.FROZEN
    when = timezone.localtime(job.not_before).strftime("%Y-%m-%d %H:%M")

    status_page = client.get(response["Location"]).content.decode()
    assert f"will be disbanded on {when}" in status_page  # the success message
    assert 'data-testid="job-status">Scheduled (grace window)<' in status_page
    assert f'data-testid="runs-after">{when}<' in status_page
    assert 'action="{}"'.format(org_url("disband_cancel", cast)) in status_page
    assert 'data-auto-refresh="60"' in status_page  # slow while nothing moves; the person may stop it
    assert "http-equiv" not in status_page and "/static/js/auto-refresh.js" in status_page
    assert f"This organization is being disbanded on {when}; it is read-only until then." in status_page

    dashboard = client.get(org_url("dashboard", cast)).content.decode()
    assert f"This organization is being disbanded on {when}; it is read-only until then." in dashboard
    assert org_url("disband_status", cast) in dashboard

    client.force_login(cast.sub_admin)
    roster = client.get(org_url("roster", cast)).content.decode()
    assert f"This organization is being disbanded on {when}" in roster
    assert org_url("disband_status", cast) not in roster  # the status page is the owner's
    assert client.get(edit).status_code == 403
    assert client.post(edit, {"name": "Changed"}).status_code == 403

    client.force_login(cast.owner)
    response = client.post(org_url("disband_cancel", cast))
    assert response.status_code == 302
    assert response["Location"] == org_url("dashboard", cast)
    dashboard = client.get(response["Location"]).content.decode()
    assert "was cancelled. The organization is active again." in dashboard
    assert "being disbanded" not in dashboard
    assert organization_status(cast) == OrganizationStatus.ACTIVE
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert AuditEvent.objects.filter(action="organization.disband_cancelled").count() == 1

    client.force_login(cast.sub_admin)
    assert client.get(edit).status_code == 200

    client.force_login(cast.owner)
    response = client.post(org_url("disband_cancel", cast), follow=True)  # nothing left to cancel
    assert "There is no disband to cancel" in response.content.decode()


def test_banner_costs_one_query_and_only_when_frozen(client, cast, django_assert_num_queries):
    """ORG-11: the banner reads the live job once; an active organization pays nothing."""
    client_as(client, cast, "owner")
    url = org_url("dashboard", cast)
    cached_shutdown_notices()  # the ANON-6 banners' list is cached for a minute: warm, as in steady state
    with django_assert_num_queries(4):
        assert client.get(url).status_code == 200
    anonymization.create_job(
        JobKind.DISBAND, organization_id=cast.organization.pk, not_before=timezone.now() + timedelta(days=7)
    )
    Organization.objects.filter(pk=cast.organization.pk).update(status=OrganizationStatus.FROZEN)
    with django_assert_num_queries(5):
        page = client.get(url).content.decode()
    assert 'data-testid="frozen-banner"' in page


def test_members_are_told_when_their_data_will_be_anonymized(client, cast):
    """ORG-11: a member's own page says when a frozen organization anonymizes their data,
    and that their account and other memberships stay."""
    client_as(client, cast, "member_user")
    url = reverse("organizations:my_data")
    assert "is being disbanded" not in client.get(url).content.decode()
    job = anonymization.create_job(
        JobKind.DISBAND, organization_id=cast.organization.pk, not_before=timezone.now() + timedelta(days=7)
    )
    Organization.objects.filter(pk=cast.organization.pk).update(status=OrganizationStatus.FROZEN)
    when = timezone.localtime(job.not_before).strftime("%Y-%m-%d %H:%M")
    page = client.get(url).content.decode()
    notice = f"Hangzhou Example Co. is being disbanded. The data it holds about you will be anonymized after {when}."
    assert notice in page
    assert "Your personal account and your memberships in other organizations are not affected." in page


# --------------------------------------------------------------------------- the cascade end to end


def test_no_grace_runs_the_cascade_and_the_former_owner_reads_the_report(
    client, cast, disband_code, settings, django_capture_on_commit_callbacks
):
    """ORG-11, ANON-2, ANON-7: without a grace window the cascade runs at once (eager
    Celery here), the organization is disbanded, and its former owner, whose
    administrator row is gone, still reaches the status page and the verified deletion
    report; nobody else does."""
    settings.DISBAND_GRACE_DAYS = 0
    settings.ANONYMIZATION_CHUNK_ROWS = 5
    joined = UserFactory()
    data = populate(cast.organization, members=6, records_per_member=2, users=[joined])
    url, code = disband_code
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"confirm_name": cast.organization.name, "code": code})
    assert response.status_code == 302
    assert response["Location"] == org_url("disband_status", cast)
    job = AnonymizationJob.objects.get()
    assert job.status == JobStatus.COMPLETED, job.last_error
    assert organization_status(cast) == OrganizationStatus.DISBANDED
    assert not Administrator.objects.filter(organization=cast.organization).exists()
    assert not Member.objects.filter(organization=cast.organization, user__isnull=False).exists()
    assert not Member.objects.filter(organization=cast.organization, name__in=data.values).exists()
    assert not AttendancePunch.objects.filter(organization=cast.organization, address__in=data.values).exists()
    assert joined.__class__.objects.filter(pk=joined.pk).exists()  # personal accounts stay

    response = client.get(response["Location"])
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="job-status">Completed<' in page
    assert 'id="deletion-report"' in page
    assert 'data-testid="report-verified">yes<' in page
    assert 'data-testid="report-rows-left">0<' in page
    scan = job.report["value_scan"]  # ANON-7: the value scan is part of the report
    assert scan["values"] > 0 and scan["matches"] == []
    assert f"{scan['values']} distinct values, in {scan['columns']} kept columns" in page
    assert 'data-testid="report-values-found">none<' in page
    assert "data-auto-refresh" not in page and "auto-refresh.js" not in page
    assert "disband_cancel" not in page and 'id="disband-cancel"' not in page
    punches = data.counts["organizations.AttendancePunch"]
    assert f'<td class="num">{punches}</td>' in page
    total = sum(stage["planned"] for stage in job.report["stages"])
    assert 'data-testid="overall-progress"' in page
    assert f'max="{total}" value="{total}"' in page

    listing = client.get(reverse("organizations:list")).content.decode()
    assert "Organizations you disbanded" in listing
    assert org_url("disband_status", cast) in listing

    for role in ("sub_admin", "out_of_scope_sub_admin", "other_org_admin", "member_user"):
        client.force_login(getattr(cast, role))
        assert client.get(org_url("disband_status", cast)).status_code == 404, role
    client.force_login(joined)
    assert client.get(org_url("disband_status", cast)).status_code == 404
    client.logout()
    assert client.get(org_url("disband_status", cast)).status_code == 302


def test_status_page_shows_progress_while_running(client, cast, settings):
    """ORG-11, ANON-2: while the cascade runs, the status page shows processed of total
    overall and per stage, the current stage and that a step failed, and refreshes itself."""
    settings.ANONYMIZATION_CHUNK_ROWS = 4
    populate(cast.organization, members=6, records_per_member=1)
    job = anonymization.create_job(
        JobKind.DISBAND, organization_id=cast.organization.pk, requested_by=cast.owner, not_before=timezone.now()
    )
    Organization.objects.filter(pk=cast.organization.pk).update(status=OrganizationStatus.FROZEN)
    assert anonymization.start(job.pk)
    first = AnonymizationStage.objects.filter(job=job).order_by("position").first()
    AnonymizationStage.objects.filter(pk=first.pk).update(processed=first.total)
    AnonymizationJob.objects.filter(pk=job.pk).update(last_error="chunk 3 failed once")
    total = sum(AnonymizationStage.objects.filter(job=job).values_list("total", flat=True))
    page = client_as(client, cast, "owner").get(org_url("disband_status", cast)).content.decode()
    assert 'data-testid="job-status">Running<' in page
    assert 'data-auto-refresh="2"' in page
    assert f'max="{total}" value="{first.total}"' in page
    assert f"{first.total} of {total} records processed" in page
    assert "Now working on:" in page
    assert page.count('class="progress-cell"') == AnonymizationStage.objects.filter(job=job).count()
    # The worker's error is technical English: the owner reads a translated line, the
    # console keeps the detail.
    assert "chunk 3 failed once" not in page
    assert "A step of the cascade failed and is being tried again." in page
    assert 'id="disband-cancel"' not in page  # too late to cancel
    response = client.post(org_url("disband_cancel", cast), follow=True)
    assert "There is no disband to cancel" in response.content.decode()
    assert AnonymizationJob.objects.get(pk=job.pk).status == JobStatus.RUNNING


# --------------------------------------------------------------------------- operations console


def make_jobs(count: int, start: int = 0) -> None:
    for index in range(start, start + count):
        job = anonymization.create_job(JobKind.DISBAND, organization_id=10_000 + index, label=f"Org {index}")
        AnonymizationStage.objects.create(
            job=job, position=0, model_label="organizations.Member", action="anonymize", total=10, processed=index
        )
        AnonymizationStage.objects.create(
            job=job, position=1, model_label="organizations.WorkLog", action="delete", total=10, processed=0
        )
        AnonymizationJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)


def test_operations_console_lists_jobs_with_a_constant_query_count(client, cast, django_assert_max_num_queries):
    """ORG-11, ANON-7: staff read the cascades with their progress; the list's queries do
    not grow with the number of jobs (progress sums are annotated)."""
    client.force_login(cast.staff)
    url = reverse("admin:dataprotection_anonymizationjob_changelist")
    make_jobs(1)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    make_jobs(9, start=1)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(url)
    page = response.content.decode()
    assert page.count("<progress") == 10
    assert '<progress max="100" value="45"' in page  # 9 of 20
    assert "10009" in page


def test_operations_console_job_detail_is_read_only(client, cast):
    """ORG-11, ANON-7: the job's detail shows its stages and the report, formatted; no
    one adds, changes or deletes a job there."""
    make_jobs(1)
    job = AnonymizationJob.objects.get()
    AnonymizationJob.objects.filter(pk=job.pk).update(
        status=JobStatus.COMPLETED, report={"verified": True, "rows_left": 0, "stages": []}
    )
    client.force_login(cast.staff)
    change = reverse("admin:dataprotection_anonymizationjob_change", args=[job.pk])
    page = client.get(change).content.decode()
    assert "organizations.WorkLog" in page
    assert "<dt>Personal values left</dt><dd>0</dd>" in page and "<dt>Verified</dt><dd>Yes</dd>" in page
    assert 'name="_save"' not in page
    assert client.get(reverse("admin:dataprotection_anonymizationjob_add")).status_code == 403
    assert client.post(reverse("admin:dataprotection_anonymizationjob_delete", args=[job.pk])).status_code == 403
    assert client.post(change, {"status": "cancelled"}).status_code == 403
    assert AnonymizationJob.objects.get(pk=job.pk).status == JobStatus.COMPLETED


def test_status_page_says_since_when_the_cascade_waits_for_a_worker(client, cast, settings):
    """ANON-2: a running cascade that no worker beats (its workers died, its messages
    were lost) does not show a frozen bar only: the page says since when it waits for a
    worker, in the owner's language and time zone; once a worker beats again it is gone."""
    settings.ANONYMIZATION_CHUNK_ROWS = 50
    populate(cast.organization, members=2, records_per_member=1)
    job = anonymization.create_job(
        JobKind.DISBAND, organization_id=cast.organization.pk, requested_by=cast.owner, not_before=timezone.now()
    )
    Organization.objects.filter(pk=cast.organization.pk).update(status=OrganizationStatus.FROZEN)
    assert anonymization.start(job.pk)
    client_as(client, cast, "owner")
    page = client.get(org_url("disband_status", cast), headers={"accept-language": "en"}).content.decode()
    assert 'data-testid="waiting-for-worker"' not in page  # just started
    last_beat = timezone.now() - timedelta(minutes=7)
    AnonymizationJob.objects.filter(pk=job.pk).update(heartbeat_at=last_beat, not_before=last_beat)
    since = timezone.localtime(last_beat).strftime("%H:%M")
    page = client.get(org_url("disband_status", cast), headers={"accept-language": "en"}).content.decode()
    assert f"Waiting for a worker since {since}." in page
    assert 'data-auto-refresh="2"' in page  # and it keeps looking
    page = client.get(org_url("disband_status", cast), headers={"accept-language": "zh-hans"}).content.decode()
    assert f"自 {since} 起正在等待后台进程处理" in page
    AnonymizationJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
    page = client.get(org_url("disband_status", cast), headers={"accept-language": "en"}).content.decode()
    assert 'data-testid="waiting-for-worker"' not in page


def test_a_scheduled_cascade_waits_for_a_worker_only_once_due(client, cast):
    """ORG-11: during the grace window nothing waits for a worker; once the window has
    ended and no driver took the job up, the page says since when (the window's end)."""
    job = anonymization.create_job(
        JobKind.DISBAND,
        organization_id=cast.organization.pk,
        requested_by=cast.owner,
        not_before=timezone.now() + timedelta(days=3),
    )
    Organization.objects.filter(pk=cast.organization.pk).update(status=OrganizationStatus.FROZEN)
    client_as(client, cast, "owner")
    assert 'data-testid="waiting-for-worker"' not in client.get(org_url("disband_status", cast)).content.decode()
    ended = timezone.now() - timedelta(minutes=2)
    AnonymizationJob.objects.filter(pk=job.pk).update(not_before=ended)
    page = client.get(org_url("disband_status", cast), headers={"accept-language": "en"}).content.decode()
    assert f"Waiting for a worker since {timezone.localtime(ended).strftime('%H:%M')}." in page


def test_once_the_grace_window_ends_cancel_is_neither_offered_nor_accepted(client, cast, disband_code, settings):
    """ORG-11: when the grace window has ended (the job is due, a worker has not taken
    it up yet) the status page no longer offers "Cancel", and a cancel posted from a
    page loaded earlier is refused: the organization stays frozen, the job scheduled."""
    settings.DISBAND_GRACE_DAYS = 7
    url, code = disband_code
    client.post(url, {"confirm_name": cast.organization.name, "code": code})
    job = AnonymizationJob.objects.get()
    AnonymizationJob.objects.filter(pk=job.pk).update(not_before=timezone.now() - timedelta(seconds=1))

    page = client.get(org_url("disband_status", cast)).content.decode()
    assert "The grace window has ended" in page
    assert 'action="{}"'.format(org_url("disband_cancel", cast)) not in page
    assert "Cancel the disband" not in page

    response = client.post(org_url("disband_cancel", cast), follow=True)
    assert "There is no disband to cancel" in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.SCHEDULED
    assert organization_status(cast) == OrganizationStatus.FROZEN
    assert not AuditEvent.objects.filter(action="organization.disband_cancelled").exists()


def test_the_deletion_report_names_its_tables_in_the_readers_language():
    """A worker running in Chinese wrote the report; an English reader (page or API)
    reads the tables' English names, a Chinese reader the Chinese ones."""
    from django.utils import translation

    written = {"verified": True, "stages": [{"model": "organizations.Member", "name": "成员", "changed": 3}]}
    with translation.override("en"):
        (stage,) = anonymization.localized_report(written)["stages"]
        assert stage["name"] == "members" and stage["changed"] == 3
    with translation.override("zh-hans"):
        assert anonymization.localized_report(written)["stages"][0]["name"] != "members"
    assert anonymization.localized_report(None) == {}
