"""Browser journey of the cookie banner across signing in (CON-3), in Debian's chromium
via Playwright: a visitor answers the banner, signs in, and is not asked again -- not on
this sign-in, not after signing out and in again."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from consent.models import ConsentRecord, Purpose
from consent.services import ledger
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def password_sign_in(page, person) -> None:
    page.goto("/accounts/sign-in/")
    page.get_by_label("Mobile number").fill(person.phone)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My profile")).to_be_visible()


def test_the_visitors_cookie_choice_holds_after_signing_in(page, db):
    person = UserFactory()
    page.goto("/")
    banner = page.get_by_test_id("cookie-banner")
    banner.get_by_label("Preference cookies").check()
    banner.get_by_role("button", name="Confirm my cookie choices").click()
    expect(page.get_by_text("Your cookie choices were recorded.")).to_be_visible()

    password_sign_in(page, person)
    expect(page.get_by_test_id("cookie-banner")).to_have_count(0)
    assert ledger.has_consent(person, Purpose.PERSONALIZATION)
    assert not ledger.has_consent(person, Purpose.MARKETING)

    page.get_by_role("button", name="Sign out").click()
    password_sign_in(page, person)
    expect(page.get_by_test_id("cookie-banner")).to_have_count(0)
    assert ConsentRecord.objects.filter(user=person).count() == 2
