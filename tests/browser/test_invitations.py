"""Browser journey of an invitation (ORG-6, ORG-8), in Debian's chromium via Playwright:
the owner invites a roster member from the member's page; the person registers with the
invited number, opens the link from the SMS (signing in on the way), reads what the
organization keeps and why, accepts, and finds the organization on "My data in
organizations"."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from organizations.models import Invitation, InvitationStatus, MemberStatus
from organizations.services.lookups import mobile_digest
from tests.browser.pages import sign_in as sign_in_as
from tests.conftest import last_code
from tests.factories import TEST_PASSWORD, MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]

MOBILE = "+8613912345678"
PASSWORD = "Blue-Lantern-2026"
LINK = re.compile(r"(https?://\S+/orgs/invitations/[\w-]+/)")


def sign_in(page, phone: str, password: str = TEST_PASSWORD) -> None:
    page.get_by_label("Mobile number").fill(phone)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def invitation_link(outbox) -> str:
    for message in reversed(outbox):
        if message["to"] == MOBILE:
            return LINK.search(message["body"]).group(1)
    raise AssertionError("no invitation SMS was sent")


def test_owner_invites_and_the_person_registers_and_accepts(cast, page, sms_outbox):
    invitee = MemberFactory(
        organization=cast.organization,
        department=cast.sales_east,
        name="Zhang Wei",
        status=MemberStatus.INVITED,
        mobile=MOBILE,
        mobile_digest=mobile_digest(MOBILE),
    )

    # the owner invites from the member's page
    sign_in_as(page, cast.owner)  # with the owner's second factor (SEC-1)
    page.goto(f"/orgs/{cast.organization.pk}/roster/{invitee.pk}/")
    page.get_by_role("link", name="Invite").click()
    expect(page.get_by_role("heading", name="Invite Zhang Wei")).to_be_visible()
    expect(page.locator("#terms-controller")).to_contain_text("Hangzhou Example Co. is the controller")
    page.get_by_label("Personal message").fill("Welcome to Sales East!")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("An invitation was sent to Zhang Wei at +86139****5678.")).to_be_visible()
    row = page.locator("#invitations tbody tr").first
    expect(row).to_contain_text("Zhang Wei")
    expect(row).to_contain_text("Pending")
    link = invitation_link(sms_outbox)
    assert "Welcome to Sales East!" in next(m["body"] for m in sms_outbox if m["to"] == MOBILE)
    page.get_by_role("button", name="Sign out").click()

    # the person has no account yet: register with the invited number
    page.goto("/accounts/register/")
    page.get_by_label("Mobile number").fill("139 1234 5678")
    page.get_by_role("button", name="Send code").click()
    page.get_by_label("SMS code").fill(last_code(sms_outbox, MOBILE))
    page.get_by_label("Name").fill("张伟 Zhang Wei")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="My profile")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # opening the link signed out leads through sign-in and back to the invitation
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/accounts/sign-in/\?next="))
    sign_in(page, MOBILE, PASSWORD)
    expect(page.get_by_role("heading", name="Hangzhou Example Co. invites you to join")).to_be_visible()
    expect(page.locator("#invitation-message")).to_have_text("Welcome to Sales East!")
    expect(page.locator("#terms-purpose")).to_contain_text("daily operation and management")
    fields = page.locator("#terms-fields")
    expect(fields.locator("tr[data-field=position]")).to_contain_text("Show the organization chart")
    expect(fields.locator("tr[data-field=mobile]")).to_be_visible()
    expect(fields.locator("tr[data-field=bank_card]")).to_have_count(0)  # not collected
    expect(page.locator("#terms-controller")).to_contain_text("Hangzhou Example Co. is the controller")
    page.get_by_role("button", name="Accept and join").click()

    expect(page.get_by_role("heading", name="My data in organizations")).to_be_visible()
    expect(page.get_by_text("You joined Hangzhou Example Co.")).to_be_visible()
    expect(page.get_by_role("heading", name="Hangzhou Example Co.")).to_be_visible()
    invitee.refresh_from_db()
    assert invitee.user.phone == MOBILE and invitee.status == MemberStatus.ACTIVE
    assert Invitation.objects.get().status == InvitationStatus.ACCEPTED

    # the link cannot be used again
    page.goto(link)
    expect(page.get_by_role("heading", name="This invitation cannot be answered")).to_be_visible()
    expect(page.locator("#refusal")).to_contain_text("already been answered")
