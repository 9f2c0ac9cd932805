"""Browser journeys for personal accounts, in Debian's chromium via Playwright:
register with an SMS code (ACC-1), sign in by password and by code (ACC-4), edit the
profile (ACC-2), switch language, and the clear errors for bad input."""

from __future__ import annotations

import io
import os
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from accounts.models import User
from dataprotection.models import AuditEvent
from tests.browser.pages import sign_in
from tests.conftest import last_code
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]

NEW_PASSWORD = "Blue-Lantern-2026"


def png_bytes(size=(32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (31, 111, 92)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_register_with_sms_code(page, sms_outbox):
    """ACC-1: no account exists until the number is proven with a code."""
    page.goto("/accounts/register/")
    page.get_by_label("Mobile number").fill("139 1234 5678")
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_text("We sent a six-digit code to +8613912345678")).to_be_visible()
    assert not User.objects.filter(phone="+8613912345678").exists()

    page.get_by_label("SMS code").fill(last_code(sms_outbox, "+8613912345678"))
    page.get_by_label("Name").fill("李雷 Li Lei")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Register").click()

    expect(page.get_by_role("heading", name="My profile")).to_be_visible()
    expect(page.get_by_text("李雷 Li Lei").first).to_be_visible()
    user = User.objects.get(phone="+8613912345678")
    assert user.check_password(NEW_PASSWORD)


def test_register_rejects_malformed_number_and_wrong_code(page, sms_outbox):
    page.goto("/accounts/register/")
    page.get_by_label("Mobile number").fill("12345")
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_text("is not a valid mobile number")).to_be_visible()
    assert sms_outbox == []

    page.get_by_label("Mobile number").fill("13912345670")
    page.get_by_role("button", name="Send code").click()
    code = last_code(sms_outbox, "+8613912345670")
    wrong = "000000" if code != "000000" else "111111"
    page.get_by_label("SMS code").fill(wrong)
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("The code is wrong. 4 attempts left.")).to_be_visible()
    assert not User.objects.filter(phone="+8613912345670").exists()


def test_sign_in_with_password_and_with_code(page, sms_outbox):
    """ACC-4: sign in by password or by SMS code; sign out."""
    user = UserFactory(phone="+8613700001111", name="韩梅梅 Han Meimei")
    page.goto("/accounts/sign-in/")
    page.get_by_label("Mobile number").fill("137 0000 1111")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("The mobile number or password is wrong.")).to_be_visible()
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My profile")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")).to_be_visible()

    page.goto("/accounts/sign-in/?method=sms")
    page.get_by_label("Mobile number").fill(user.phone)
    page.get_by_role("button", name="Send code").click()
    page.get_by_label("SMS code").fill(last_code(sms_outbox, user.phone))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My profile")).to_be_visible()
    assert AuditEvent.objects.filter(action="account.signed_in", subject_user=user).exists()


def test_edit_profile_and_avatar_errors(page, settings, tmp_path):
    """ACC-2: the person corrects and supplements their profile; an oversized or fake
    picture gets a clear error and nothing is saved."""
    user = UserFactory(phone="+8613700002222", name="Wang Fang")
    sign_in(page, user)
    page.get_by_role("link", name="Edit profile").click()
    page.get_by_label("Nickname").fill("Fangfang")
    page.get_by_label("Birthday").fill("1990-03-07")
    page.get_by_label("Work region").fill("Hangzhou")
    avatar = tmp_path / "me.png"
    avatar.write_bytes(png_bytes())
    page.get_by_label("Avatar").set_input_files(str(avatar))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your profile was saved.")).to_be_visible()
    # The profile shows the new nickname (the header shows the person's name too).
    expect(page.get_by_role("main").get_by_text("Fangfang")).to_be_visible()
    expect(page.get_by_text("1990-03-07")).to_be_visible()
    user.refresh_from_db()
    assert user.avatar.name.startswith("avatars/")

    settings.AVATAR_MAX_BYTES = 2048
    big = tmp_path / "big.png"
    Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3)).save(big, format="PNG")
    page.get_by_role("link", name="Edit profile").click()
    page.get_by_label("Nickname").fill("Changed")
    page.get_by_label("Avatar").set_input_files(str(big))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(re.compile("the largest allowed is"))).to_be_visible()

    fake = tmp_path / "fake.png"
    fake.write_text("this is not a picture")
    page.get_by_label("Avatar").set_input_files(str(fake))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(re.compile("Upload a valid image|Upload a JPEG, PNG"))).to_be_visible()
    user.refresh_from_db()
    assert user.nickname == "Fangfang"


def test_switch_language(page):
    """Chinese and English throughout: the switcher changes every string on the page."""
    page.goto("/accounts/sign-in/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Language").select_option("zh-hans")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.get_by_label("语言").select_option("en")
    page.get_by_role("button", name="切换").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
