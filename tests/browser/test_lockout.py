"""Browser journey for brute-force protection (SEC-1), in Debian's chromium via
Playwright: repeated wrong codes lock out. A person (or someone guessing) enters wrong
passwords and wrong SMS codes until the sign-in page says the account is locked and
when to try again; while locked even the right password is refused; the owner gets an
SMS about the lock."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from dataprotection.models import AuditEvent
from tests.conftest import last_code
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]

LOCKED = "Too many failed attempts. This account is locked for security; try again in 15 minutes."


def test_repeated_wrong_codes_lock_out(page, sms_outbox):
    """SEC-1: wrong passwords and SMS codes count together; at the threshold the page
    says the account is locked and for how long; the right password is then refused."""
    user = UserFactory(phone="+8613700002222", name="Locked Out")
    page.goto("/accounts/sign-in/")
    for _attempt in range(2):
        page.get_by_label("Mobile number").fill(user.phone)
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("The mobile number or password is wrong.")).to_be_visible()

    page.goto("/accounts/sign-in/?method=sms")
    page.get_by_label("Mobile number").fill(user.phone)
    page.get_by_role("button", name="Send code").click()
    code = last_code(sms_outbox, user.phone)
    wrong = "000000" if code != "000000" else "111111"
    locked = page.get_by_text(LOCKED)
    for _attempt in range(settings.SIGN_IN_LOCKOUT_THRESHOLD):
        page.get_by_label("SMS code").fill(wrong)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_label("SMS code")).to_be_visible()
        if locked.count():
            break
        expect(page.get_by_text("The code is wrong.")).to_be_visible()
    expect(locked).to_be_visible()

    # While locked, the right code and the right password are refused with the same words.
    page.get_by_label("SMS code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(LOCKED)).to_be_visible()
    page.goto("/accounts/sign-in/")
    page.get_by_label("Mobile number").fill(user.phone)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(LOCKED)).to_be_visible()
    expect(page.get_by_role("heading", name="My profile")).to_have_count(0)

    assert AuditEvent.objects.filter(action="account.locked_out", subject_user=user).count() == 1
    assert not AuditEvent.objects.filter(action="account.signed_in", subject_user=user).exists()
    assert "your account is locked for 15 minutes" in sms_outbox[-1]["body"]
    assert sms_outbox[-1]["to"] == user.phone
