"""Browser journeys through disbanding an organization (ORG-11, ANON-2, ANON-7) in
Debian's chromium via Playwright: the owner reads the preview, re-verifies with an SMS
code, types the name and confirms; without a grace window the cascade runs at once and
the status page shows the verified deletion report. With the default grace window the
organization is frozen, every page says so, and the owner cancels."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dataprotection.models import AnonymizationJob, JobStatus
from organizations.models import Administrator, Member, Organization, OrganizationStatus
from tests.anonymization_data import populate
from tests.browser.pages import sign_in
from tests.conftest import last_code
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def confirm_disband(page, cast, sms_outbox) -> None:
    """From the overview: open the disband page, send the code, type the name, confirm."""
    page.goto(f"/orgs/{cast.organization.pk}/")
    page.get_by_role("complementary", name="Organization").get_by_role("link", name="Disband").click()
    expect(page.get_by_role("heading", name="Disband the organization", level=1)).to_be_visible()
    page.get_by_label("Type the organization's name to confirm").fill(cast.organization.name)
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_text("We sent a six-digit code")).to_be_visible()
    expect(page.get_by_label("Type the organization's name to confirm")).to_have_value(cast.organization.name)
    page.get_by_label("SMS code").fill(last_code(sms_outbox, cast.owner.phone))
    page.get_by_role("button", name="Disband the organization").click()


def test_owner_disbands_and_reads_the_verified_deletion_report(page, cast, settings, sms_outbox):
    """ORG-11, ANON-7: the preview counts what the cascade touches; once confirmed (no
    grace window here) the progress page reaches "completed" with a verified report."""
    settings.DISBAND_GRACE_DAYS = 0
    joined = UserFactory()
    data = populate(cast.organization, members=5, records_per_member=2, users=[joined])
    members = Member.objects.filter(organization=cast.organization).count()
    sign_in(page, cast.owner)

    page.goto(f"/orgs/{cast.organization.pk}/disband/")
    expect(page.get_by_test_id("preview-members")).to_have_text(str(members))
    expect(page.get_by_test_id("preview-accounts")).to_have_text("2")  # the cast's member and `joined`
    expect(page.get_by_test_id("preview-administrators")).to_have_text("4")
    expect(page.get_by_test_id("preview-grace")).to_have_text("0 days")
    punches = str(data.counts["organizations.AttendancePunch"])
    expect(page.get_by_test_id("rows-organizations.AttendancePunch")).to_have_text(punches)
    expect(page.get_by_text("Members' personal accounts are not touched")).to_be_visible()

    confirm_disband(page, cast, sms_outbox)
    expect(page.get_by_role("heading", name="Disband status")).to_be_visible()
    expect(page.get_by_test_id("job-status")).to_have_text("Completed")
    expect(page.get_by_role("heading", name="Deletion report")).to_be_visible()
    expect(page.get_by_test_id("report-verified")).to_have_text("yes")
    expect(page.get_by_test_id("report-rows-left")).to_have_text("0")
    expect(page.get_by_test_id("report-values-found")).to_have_text("none")
    expect(page.locator("#report-stages tbody tr").first).to_be_visible()

    job = AnonymizationJob.objects.get()
    assert job.status == JobStatus.COMPLETED and job.report["verified"]
    assert Organization.objects.get(pk=cast.organization.pk).status == OrganizationStatus.DISBANDED
    assert not Administrator.objects.filter(organization=cast.organization).exists()

    # The former owner finds the report again from "My organizations".
    page.goto("/orgs/")
    page.locator("#disbanded-organizations").get_by_role("link", name="Deletion report").click()
    expect(page.get_by_test_id("report-verified")).to_have_text("yes")


def test_owner_confirms_sees_the_frozen_banner_and_cancels(page, cast, settings, sms_outbox):
    """ORG-11: with the default grace window the organization is read-only and says when
    it is disbanded; the owner cancels and it is active again."""
    settings.DISBAND_GRACE_DAYS = 7
    sign_in(page, cast.owner)
    confirm_disband(page, cast, sms_outbox)

    expect(page.get_by_test_id("job-status")).to_have_text("Scheduled (grace window)")
    banner = page.get_by_test_id("frozen-banner")
    expect(banner).to_contain_text("This organization is being disbanded on")
    expect(banner).to_contain_text("it is read-only until then")
    job = AnonymizationJob.objects.get()
    assert job.status == JobStatus.SCHEDULED
    assert Organization.objects.get(pk=cast.organization.pk).status == OrganizationStatus.FROZEN

    page.goto(f"/orgs/{cast.organization.pk}/roster/")
    expect(page.get_by_test_id("frozen-banner")).to_be_visible()
    page.get_by_test_id("frozen-banner").get_by_role("link", name="Disband status").click()
    page.get_by_role("button", name="Cancel the disband").click()

    expect(page.get_by_text("The organization is active again.")).to_be_visible()
    expect(page.get_by_role("heading", name=cast.organization.name, level=1)).to_be_visible()
    expect(page.get_by_test_id("frozen-banner")).to_have_count(0)
    assert Organization.objects.get(pk=cast.organization.pk).status == OrganizationStatus.ACTIVE
    assert AnonymizationJob.objects.get().status == JobStatus.CANCELLED


def test_the_status_page_says_when_the_cascade_waits_for_a_worker(page, cast, settings):
    """ANON-2 (recovery): a running cascade nobody beats any more shows, in the owner's
    language (English, then Chinese after switching), since when it waits for a worker;
    it is gone once a worker is back."""
    from datetime import timedelta

    from django.utils import timezone

    from dataprotection import anonymization

    settings.ANONYMIZATION_CHUNK_ROWS = 50
    populate(cast.organization, members=3, records_per_member=1)
    Organization.objects.filter(pk=cast.organization.pk).update(status=OrganizationStatus.FROZEN)
    job = anonymization.create_job("disband", organization_id=cast.organization.pk, requested_by=cast.owner)
    assert anonymization.start(job.pk)
    last_beat = timezone.now() - timedelta(minutes=6)
    AnonymizationJob.objects.filter(pk=job.pk).update(heartbeat_at=last_beat, not_before=last_beat)
    since = timezone.localtime(last_beat).strftime("%H:%M")
    sign_in(page, cast.owner)
    page.goto(f"/orgs/{cast.organization.pk}/disband/status/")
    waiting = page.get_by_test_id("waiting-for-worker")
    expect(waiting).to_contain_text(f"Waiting for a worker since {since}.")
    page.get_by_label("Language").select_option("zh-hans")
    page.get_by_role("button", name="Switch").click()
    expect(waiting).to_contain_text(f"自 {since} 起正在等待后台进程处理")

    AnonymizationJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())  # a worker is back
    page.reload()
    expect(page.get_by_test_id("job-status")).to_be_visible()
    expect(waiting).to_have_count(0)
