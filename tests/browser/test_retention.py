"""Browser journeys for retention (ANON-5) and service shutdowns (ANON-6) in Debian's
chromium via Playwright: the owner keeps attendance punches six months; a visitor
who is not signed in sees an announced shutdown on the home page and reads the notices
page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dataprotection.models import AuditEvent
from organizations.services.retention import announce_shutdown, retention_settings
from tests.browser.pages import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_owner_keeps_attendance_punches_six_months(page, cast):
    """ANON-5: from the organization menu the owner opens the retention page, reads
    what happens to older records, sets six months for attendance punches and sees it
    saved."""
    sign_in(page, cast.owner)
    page.goto(f"/orgs/{cast.organization.pk}/roster/")
    page.get_by_role("complementary", name="Organization").get_by_role("link", name="Record retention").click()
    expect(page.get_by_role("heading", name="Record retention", level=1)).to_be_visible()
    attendance = page.locator('tr[data-kind="attendance"]')
    expect(attendance).to_contain_text("the date is kept for statistics")
    expect(page.locator('tr[data-kind="drive"]')).to_contain_text("Deleted, together with their stored files.")

    page.get_by_label("Attendance punches").fill("0")
    page.get_by_role("button", name="Save").click()
    expect(attendance.get_by_role("alert")).to_contain_text("greater than or equal to 1")
    assert retention_settings(cast.organization)["attendance"] is None

    page.get_by_label("Attendance punches").fill("6")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The retention settings were saved.")).to_be_visible()
    expect(page.get_by_label("Attendance punches")).to_have_value("6")
    expect(page.get_by_label("Drive files")).to_have_value("")
    assert retention_settings(cast.organization)["attendance"] == 6
    assert AuditEvent.objects.filter(action="organization.retention_changed", actor=cast.owner).count() == 1


def test_visitor_sees_the_shutdown_banner_and_reads_the_notices(page, cast):
    """ANON-6: without signing in, every page announces the shutdown with its date; the
    banner's link opens the public notices page with what happens to the data."""
    shutdown = announce_shutdown(
        cast.staff,
        kind="drive",
        announcement="Drive closes; download what you need.",
        effective_at=timezone.now() + timedelta(days=40),
    )
    date = timezone.localtime(shutdown.effective_at).strftime("%Y-%m-%d")
    page.goto("/")
    banner = page.get_by_test_id("shutdown-notice")
    expect(banner).to_have_count(1)
    expect(banner).to_contain_text(f"Drive files stops on {date}: Drive closes; download what you need.")
    banner.get_by_role("link", name="What happens to the data").click()
    expect(page.get_by_role("heading", name="Service notices", level=1)).to_be_visible()
    notice = page.locator("#current-notices").get_by_test_id("service-notice")
    expect(notice).to_contain_text("Drive files")
    expect(notice).to_contain_text("Drive closes; download what you need.")
    expect(notice).to_contain_text("Deleted, together with their stored files.")
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()  # still a visitor
