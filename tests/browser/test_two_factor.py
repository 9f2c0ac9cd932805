"""Browser journey of two-factor authentication (SEC-1), in Debian's chromium via
Playwright: an organization owner signs in, is sent to enrollment, sets up an
authenticator from the key on the page, confirms it with a computed code, sees the
recovery codes; signing in again needs a code on the second step before the
organization's pages open."""

from __future__ import annotations

import re
import time
from base64 import b32decode

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.browser.pages import totp_code
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def app_code(secret_groups: str) -> str:
    """What an authenticator app shows for the key typed in by hand."""
    totp = TOTP(b32decode(secret_groups.replace(" ", "")))
    totp.time = time.time()
    return f"{totp.token():06d}"


def password_step(page, user, url: str = "/accounts/sign-in/") -> None:
    page.goto(url)
    page.get_by_label("Mobile number").fill(user.phone)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_admin_enrolls_totp_and_is_required_to_use_it(page, cast):
    """SEC-1: TOTP required for organization admins, with single-use recovery codes."""
    roster = f"/orgs/{cast.organization.pk}/roster/"
    password_step(page, cast.owner, f"/accounts/sign-in/?next={roster}")
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    expect(page.get_by_text("Your role requires two-factor authentication. Set it up now.")).to_be_visible()
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text()
    assert re.fullmatch(r"([A-Z2-7]{4} ?)+", secret)

    page.get_by_label("Code shown by the app").fill("000000" if app_code(secret) != "000000" else "111111")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("The code does not match")).to_be_visible()
    page.get_by_label("Code shown by the app").fill(app_code(secret))
    page.get_by_role("button", name="Turn on").click()

    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    page.get_by_role("button", name="I saved my recovery codes").click()
    expect(page).to_have_url(re.compile(re.escape(roster) + "$"))  # back where the owner was going
    assert TOTPDevice.objects.get(user=cast.owner).confirmed

    page.get_by_role("button", name="Sign out").click()
    password_step(page, cast.owner, f"/accounts/sign-in/?next={roster}")
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    page.goto(roster)  # not signed in yet: the organization stays closed
    expect(page).to_have_url(re.compile(r"/accounts/sign-in/\?next="))

    password_step(page, cast.owner, f"/accounts/sign-in/?next={roster}")
    page.get_by_label("Authentication code").fill(totp_code(TOTPDevice.objects.get(user=cast.owner)))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(re.escape(roster) + "$"))
    expect(page.get_by_role("heading", name="Roster")).to_be_visible()
