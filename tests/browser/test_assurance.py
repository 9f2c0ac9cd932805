"""Browser journeys of the sign-in assurance policy (SEC-1), in Debian's chromium via
Playwright: an owner without a second factor cannot get an API token until enrolled;
operations staff reach the console only through the portal's two steps."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import ApiToken
from tests.browser.pages import confirmed_authenticator, enroll_second_factor, totp_code
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def password_step(page, user) -> None:
    page.get_by_label("Mobile number").fill(user.phone)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_owner_gets_a_token_only_after_enrolling(page, cast):
    """SEC-1: signed in with the password only, the owner is sent to enrollment from
    the tokens page; after enrolling, the token is made."""
    page.goto("/accounts/sign-in/?next=/accounts/profile/tokens/")
    password_step(page, cast.owner)
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    page.goto("/accounts/profile/tokens/")  # straight to the tokens page: back to enrollment
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/enroll/\?next="))
    assert not ApiToken.objects.exists()

    enroll_second_factor(page)
    expect(page).to_have_url(re.compile(r"/accounts/profile/tokens/$"))  # where the owner was going
    page.get_by_label("Name").fill("Payroll sync")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_test_id("token-secret")).to_contain_text("cst_")
    token = ApiToken.objects.get(user=cast.owner)
    assert token.minted_with_second_factor and token.minted_with_fresh_proof


def test_staff_sign_in_to_the_console_through_the_portal(page, db):
    """SEC-1: /ops/ hands over to the portal's sign-in, asks for the authenticator's
    code, then opens the console."""
    staff = UserFactory(phone="+8613900139009", name="Operations", is_staff=True, is_superuser=True)
    device = confirmed_authenticator(staff)
    page.goto("/ops/")
    expect(page).to_have_url(re.compile(r"/accounts/sign-in/\?next=%2Fops%2F$"))
    password_step(page, staff)
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    page.get_by_label("Authentication code").fill(totp_code(device))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/ops/$"))
    expect(page.locator("#site-name")).to_be_visible()
