"""Every demo role's main task, in Debian's chromium via Playwright, starting from
``manage.py seed_demo`` as a newcomer runs it (``make run`` passes the portal's address;
nothing else is set up): the logins and password of the README, the second factor
enrolled at the first sign-in through the real two steps (SEC-1), then

- the owner opens and closes the third-party service and sees the deletion notice
  acknowledged by the development receiver (SVC-2, SVC-3);
- the sub-administrator edits a Sales member's roster entry (ORG-6, ORG-9);
- the member turns an additional function on in their privacy settings (CON-1);
- the certification reviewer approves the organization's certification (ORG-2);
- the request handler answers the member's complaint (REQ-6);
- the incident manager registers a security incident (SEC-4);
- the auditor reads the audit trail and verifies its hash chain (SEC-2).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from organizations.services.demo_data.logins import (
    AUDITOR,
    DEMO_PASSWORD,
    INCIDENT_MANAGER,
    MEMBER,
    OWNER,
    REQUEST_HANDLER,
    REVIEWER,
    SUB_ADMIN,
    DemoLogin,
)
from organizations.services.demo_data.seeding import DEMO_ORGANIZATION_NAME
from tests.browser.pages import enroll_second_factor

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


@pytest.fixture
def demo(live_server, settings, tmp_path):
    """The development portal as ``make run`` serves it (DEBUG on, files under a
    throwaway var/), seeded by the command itself."""
    settings.DEBUG = True
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.DEV_DELETION_NOTICES_PATH = tmp_path / "deletion-notices.jsonl"
    call_command("seed_demo", portal_url=live_server.url)
    return live_server


def sign_in_demo(page, login: DemoLogin, *, next_url: str = "", second_factor: bool = True) -> None:
    """The README's login and password; an owner, sub-administrator or staff member
    sets up an authenticator at the first sign-in and lands where they were going."""
    page.goto("/accounts/sign-in/" + (f"?next={next_url}" if next_url else ""))
    page.get_by_label("Mobile number").fill(login.phone)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if second_factor:
        enroll_second_factor(page)
    if next_url:
        expect(page).to_have_url(re.compile(re.escape(next_url) + "$"))
    else:
        expect(page.get_by_role("heading", name="My profile")).to_be_visible()


def open_demo_organization(page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Organizations", exact=True).click()
    page.get_by_role("link", name=DEMO_ORGANIZATION_NAME).click()
    expect(page.get_by_role("heading", name=DEMO_ORGANIZATION_NAME, level=1)).to_be_visible()


def organization_menu(page):
    return page.get_by_role("complementary", name="Organization")


def test_owner_opens_and_closes_the_third_party_service_and_sees_the_notice_acknowledged(page, demo):
    sign_in_demo(page, OWNER)
    open_demo_organization(page)
    organization_menu(page).get_by_role("link", name="Services").click()
    page.get_by_role("link", name="差旅通 TravelDesk").click()
    page.get_by_role("link", name="Open the service").click()
    shared = page.locator("#shared-data")  # exactly what the provider will receive
    expect(shared.locator("[data-scope=name]")).to_have_text("Name")
    expect(shared.locator("[data-scope=departments]")).to_have_text("Departments")
    page.get_by_label("I have read what will be shared and confirm it for the whole organization.").check()
    page.get_by_role("button", name="Open the service").click()
    expect(page.get_by_text("差旅通 TravelDesk is open for the organization.")).to_be_visible()

    page.get_by_role("link", name="Close the service").click()
    expect(page.locator("#close-consequences")).to_contain_text("A deletion notice is sent to the provider")
    page.get_by_label("Close the service: the provider's access stops now").check()
    page.get_by_role("button", name="Close the service").click()
    expect(page.get_by_text("a deletion notice was sent to the provider")).to_be_visible()
    notice = page.get_by_test_id("deletion-notice")
    expect(notice).to_have_attribute("data-status", "acknowledged")
    expect(notice.get_by_test_id("notice-status")).to_contain_text("Acknowledged")

    # The stand-in provider received it, signed, once.
    page.goto("/dev/deletion-notices/")
    received = page.get_by_test_id("received-notice")
    expect(received).to_have_count(1)
    expect(received).to_contain_text("差旅通 TravelDesk")
    expect(received).to_contain_text("the organization closed the service")


def test_sub_administrator_edits_a_sales_members_roster_entry(page, demo):
    sign_in_demo(page, SUB_ADMIN)
    open_demo_organization(page)
    expect(page.get_by_text("You hold no rights in this organization yet")).to_have_count(0)
    organization_menu(page).get_by_role("link", name="Roster").click()
    expect(page.get_by_role("heading", name="Roster")).to_be_visible()
    page.get_by_label("Search").fill("陈静")
    page.get_by_role("button", name="Search").click()
    page.locator("#roster tbody tr").first.get_by_role("link", name=MEMBER.name).click()
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Position").fill("高级客户经理 Senior Account Manager")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The member's data was saved.")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("高级客户经理 Senior Account Manager")


def test_member_turns_on_an_additional_function(page, demo):
    sign_in_demo(page, MEMBER, second_factor=False)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Privacy", exact=True).click()
    expect(page.get_by_role("heading", name="Privacy settings", level=1)).to_be_visible()
    page.get_by_role("button", name="Grant consent to Contact matching").click()
    expect(page.get_by_text("Contact matching is on.")).to_be_visible()
    expect(page.get_by_test_id("state-contact_matching")).to_contain_text("On")


def test_certification_reviewer_approves_the_organizations_certification(page, demo):
    sign_in_demo(page, REVIEWER, next_url="/ops/")
    page.goto("/ops/organizations/certification/")
    page.locator("#result_list tbody tr").filter(has_text=DEMO_ORGANIZATION_NAME).get_by_role("link").first.click()
    page.get_by_role("link", name="Approve or reject").click()
    page.get_by_label("Approve").check()
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator(".messagelist")).to_contain_text("The organization is certified.")


def test_request_handler_answers_the_members_complaint(page, demo):
    sign_in_demo(page, REQUEST_HANDLER, next_url="/ops/")
    page.goto("/ops/requests/datasubjectrequest/")
    row = page.locator("#result_list tbody tr").filter(has_text="Complaint")
    expect(row).to_contain_text("Operations staff")
    row.get_by_role("link").first.click()
    page.get_by_role("button", name="Start work (in progress)").click()
    expect(page.get_by_text("The request is in progress.")).to_be_visible()
    complete = page.locator("#act-complete")
    complete.get_by_label("Answer to the person").fill(
        "We removed your number from the marketing list and found how it got there."
    )
    complete.get_by_role("button").click()
    expect(page.get_by_text("The request was completed.")).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("We removed your number from the marketing list")


def test_incident_manager_registers_an_incident(page, demo):
    sign_in_demo(page, INCIDENT_MANAGER, next_url="/ops/")
    page.goto("/ops/organizations/securityincident/add/")
    page.get_by_label("Title:").fill("Attendance export shared by link")
    page.get_by_label("What happened:").fill("An attendance export was readable through a shared link for a day.")
    discovered = timezone.localtime() - timedelta(days=1)
    page.locator("#id_discovered_at_0").fill(discovered.strftime("%Y-%m-%d"))
    page.locator("#id_discovered_at_1").fill("10:00:00")
    page.get_by_label("Activity records (attendance, approvals, work logs)").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    expect(page.locator("#result_list")).to_contain_text("Attendance export shared by link")


def test_auditor_reads_the_audit_trail_and_verifies_its_chain(page, demo):
    sign_in_demo(page, AUDITOR, next_url="/ops/")
    page.goto("/ops/dataprotection/auditevent/")
    expect(page.locator("#result_list")).to_contain_text("demo.seeded")
    page.get_by_role("button", name="Verify the audit chain now").click()
    expect(page.locator(".messagelist")).to_contain_text("The verification of the audit chain was started")
    page.reload()
    expect(page.locator(".messagelist")).to_contain_text(re.compile(r"Audit chain verified on .*events intact"))
