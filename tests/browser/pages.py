"""Steps shared by the browser journeys."""

from __future__ import annotations

import time

from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.factories import TEST_PASSWORD


def confirmed_authenticator(user, *, create: bool = True):
    """The person's confirmed TOTP device, made when they have none (and ``create``)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None and create:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    return device


def totp_code(device) -> str:
    """The code the person's app shows now; the next one if this one was used already
    (a TOTP code is accepted once, and one step ahead is within the tolerance)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if totp.t() <= device.last_t:
        totp.time += device.step * (device.last_t - totp.t() + 1)
    return f"{totp.token():0{device.digits}d}"


def sign_in(page, user) -> None:
    """Sign ``user`` in with the test password and land on their profile. Someone whose
    role needs a second factor gets an authenticator first and types its current code
    on the second step (SEC-1)."""
    from accounts.services.two_factor import second_factor_required

    device = confirmed_authenticator(user, create=second_factor_required(user))
    page.goto("/accounts/sign-in/")
    page.get_by_label("Mobile number").fill(user.phone)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if device is not None:
        expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
        page.get_by_label("Authentication code").fill(totp_code(device))
        page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="My profile")).to_be_visible()


def enroll_second_factor(page) -> None:
    """On the enrollment page: type the key into a (computed) authenticator app, confirm
    with its code, and go on past the recovery codes (SEC-1)."""
    from base64 import b32decode

    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    totp = TOTP(b32decode(secret))
    totp.time = time.time()
    page.get_by_label("Code shown by the app").fill(f"{totp.token():06d}")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_test_id("recovery-codes").locator("li").first).to_be_visible()
    page.get_by_role("button", name="I saved my recovery codes").click()
