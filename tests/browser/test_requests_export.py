"""Browser journey of a person asking for a copy of their data (REQ-3, REQ-7) in
Debian's chromium via Playwright: they file an access request, enter the SMS code, wait
for the archive on the request page and download the ZIP, which holds their profile."""

from __future__ import annotations

import json
import zipfile
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from dataprotection.models import AuditEvent
from requests.models import DataSubjectRequest, ExportArchive, ExportStatus, RequestKind
from tests.browser.pages import sign_in
from tests.conftest import last_code
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_a_person_files_an_access_request_and_downloads_the_archive(page, settings, sms_outbox, tmp_path):
    """REQ-7: a verified access request for operations staff is answered by an archive
    built in the background; only the person downloads it, and it holds their data."""
    settings.SMS_CODE_RESEND_INTERVAL = timedelta(0)
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    person = UserFactory(name="Li Na Export", work_region="Suzhou")
    sign_in(page, person)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My requests").click()
    page.get_by_role("link", name="New request").click()
    page.locator("#kinds").get_by_role("link", name="Access to my data or a copy of it").click()
    expect(page.get_by_role("heading", name="Access to my data or a copy of it")).to_be_visible()
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_text("We sent a six-digit code")).to_be_visible()
    page.get_by_label("SMS code").fill(last_code(sms_outbox, person.phone))
    page.get_by_role("button", name="File the request").click()

    request = DataSubjectRequest.objects.get()
    assert request.kind == RequestKind.ACCESS and request.organization_id is None
    expect(page.get_by_role("heading", name=f"Request {request.reference}")).to_be_visible()
    panel = page.get_by_test_id("export-panel")
    expect(panel).to_be_visible()
    # The archive is built right after the request commits; the panel polls until then.
    if not panel.get_by_test_id("export-download").count():
        page.wait_for_timeout(2500)
        page.reload()
    download_link = page.get_by_test_id("export-download")
    expect(download_link).to_be_visible(timeout=15_000)
    expect(panel).to_contain_text("Available until")

    with page.expect_download() as info:
        download_link.click()
    path = info.value.path()
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert {"profile.json", "manifest.json", "README.txt", "requests.json", "requests.csv"} <= names
        profile = json.loads(archive.read("profile.json"))
    assert profile["name"] == "Li Na Export" and profile["work_region"] == "Suzhou"
    archive_row = ExportArchive.objects.get(request=request)
    assert archive_row.status == ExportStatus.READY and archive_row.downloads == 1
    assert AuditEvent.objects.filter(action="request.export_downloaded", actor=person).count() == 1


def test_the_panel_follows_the_build_until_the_download_appears(page, settings, tmp_path):
    """REQ-7: while the archive is being built the panel shows a progress bar and asks
    for its status every 2 seconds; when it is ready the download link appears without
    reloading the page."""
    from django.utils import timezone

    from requests.tasks import exports as export_tasks

    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    person = UserFactory(name="Polling Person")
    today = timezone.localdate()
    request = DataSubjectRequest.objects.create(
        kind=RequestKind.ACCESS,
        jurisdiction="mainland",
        subject=person,
        status="in_progress",
        verified_at=timezone.now(),
        original_due_on=today + timedelta(days=15),
        due_on=today + timedelta(days=15),
    )
    archive = ExportArchive.objects.create(request=request, sections_total=4)
    sign_in(page, person)
    page.goto(f"/requests/{request.reference}/")
    panel = page.get_by_test_id("export-panel")
    expect(panel.get_by_test_id("export-building")).to_be_visible()
    expect(panel.locator("progress")).to_be_visible()
    live_link = panel.locator("[data-export-ready] a")
    expect(live_link).to_be_hidden()

    assert export_tasks.build(archive.pk) == "ready"

    expect(live_link).to_be_visible(timeout=10_000)
    expect(panel.locator("[data-export-status-url]")).to_have_attribute("data-export-status", "ready")
    with page.expect_download() as info:
        live_link.click()
    with zipfile.ZipFile(info.value.path()) as zipped:
        assert json.loads(zipped.read("profile.json"))["name"] == "Polling Person"


def test_the_panel_says_when_the_archive_waits_for_a_worker(page, settings, tmp_path):
    """REQ-7 (recovery): an archive queued with no live worker on it -- its message was
    lost, its worker killed -- does not leave a frozen bar: the panel says since when it
    waits for a worker; when a worker takes it up and builds it, the notice goes and the
    download appears, without reloading the page."""
    from django.utils import timezone

    from requests.tasks import exports as export_tasks

    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    person = UserFactory(name="Waiting Person")
    today = timezone.localdate()
    request = DataSubjectRequest.objects.create(
        kind=RequestKind.ACCESS,
        jurisdiction="mainland",
        subject=person,
        status="in_progress",
        verified_at=timezone.now(),
        original_due_on=today + timedelta(days=15),
        due_on=today + timedelta(days=15),
    )
    last_sign_of_life = timezone.now() - timedelta(minutes=4)
    archive = ExportArchive.objects.create(request=request, sections_total=4, heartbeat_at=last_sign_of_life)
    sign_in(page, person)
    page.goto(f"/requests/{request.reference}/")
    panel = page.get_by_test_id("export-panel")
    waiting = panel.get_by_test_id("waiting-for-worker")
    since = timezone.localtime(last_sign_of_life).strftime("%H:%M")
    expect(waiting).to_be_visible()
    expect(waiting).to_contain_text(f"Waiting for a worker since {since}.")

    assert export_tasks.build(archive.pk) == "ready"  # a worker is back and builds it

    expect(panel.locator("[data-export-ready] a")).to_be_visible(timeout=10_000)
    expect(waiting).to_be_hidden()
