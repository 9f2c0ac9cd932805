"""Browser journey for security incidents (SEC-4) in Debian's chromium via Playwright:
operations staff register an incident in the console, send the notices with the
console's action, and a member follows the SMS link, signs in and reads the notice."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from organizations.models.incidents import IncidentNotice, SecurityIncident
from tests.browser.pages import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_staff_register_an_incident_send_notices_and_a_member_reads_it(page, cast, sms_outbox):
    """SEC-4: the add form in /ops/ registers the incident with its categories and the
    affected organization; "Send notices" tells the organization's member by SMS and in
    the portal; the member signs in, opens the notices page and reads what happened and
    what to do, and the read time is recorded."""
    sign_in(page, cast.staff)
    page.goto("/ops/organizations/securityincident/add/")
    page.get_by_label("Title:").fill("Exposed attendance export")
    page.get_by_label("What happened:").fill("An attendance export was readable through a shared link.")
    discovered = timezone.localtime() - timedelta(days=2)
    page.locator("#id_discovered_at_0").fill(discovered.strftime("%Y-%m-%d"))
    page.locator("#id_discovered_at_1").fill("09:30:00")
    page.get_by_label("Contact details (mobile number, email, address)").check()
    page.get_by_label("Activity records (attendance, approvals, work logs)").check()
    page.locator("#id_organizations").fill(str(cast.organization.pk))
    page.get_by_label("Measures taken:").fill("The link was revoked and the export deleted.")
    page.get_by_label("Advice for people:").fill("Be wary of calls that quote your attendance.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    incident = SecurityIncident.objects.get()
    assert incident.data_categories == ["contact", "activity"]
    notify_by = timezone.localtime(incident.notify_by).strftime("%Y-%m-%d %H:%M")
    row = page.locator("#result_list tbody tr").filter(has_text=incident.reference)
    expect(row).to_contain_text(notify_by)

    row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("send_notices")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text(f"{incident.reference}: 1 in-app notices and 1 SMS sent")
    assert IncidentNotice.objects.filter(user=cast.member_user).count() == 2

    (sms,) = [message for message in sms_outbox if message["to"] == cast.member_user.phone]
    assert incident.reference in sms["body"]
    link = re.search(r"https?://\S+", sms["body"]).group(0)
    page.context.clear_cookies()
    page.goto(link)  # signed out: the sign-in page first
    page.get_by_label("Mobile number").fill(cast.member_user.phone)
    page.get_by_label("Password").fill("Correct-Horse-42")
    page.get_by_role("button", name="Sign in").click()
    page.goto(link)
    expect(page.get_by_role("heading", name="Security notices", level=1)).to_be_visible()
    notice = page.get_by_test_id("security-notice")
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("Exposed attendance export")
    expect(notice).to_contain_text("An attendance export was readable through a shared link.")
    expect(notice).to_contain_text("Be wary of calls that quote your attendance.")
    expect(notice).to_contain_text("Activity records (attendance, approvals, work logs)")
    assert IncidentNotice.objects.get(user=cast.member_user, channel="in_app").read_at is not None
