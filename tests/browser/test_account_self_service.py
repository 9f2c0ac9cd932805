"""Browser journeys for the rest of account self-service: password reset by SMS (ACC-4),
real-person authentication (ACC-3), account deletion with re-verification and its
cancellation (ACC-5), and the member's view of organization data (ORG-7)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import AccountDeletionRequest, IdentityVerification
from consent.models import ConsentRecord, Purpose
from dataprotection.identifiers import id_number_check_digit
from tests.browser.pages import sign_in
from tests.conftest import last_code
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_password_reset_by_sms(page, sms_outbox):
    user = UserFactory(phone="+8613700003333")
    page.goto("/accounts/sign-in/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Mobile number").fill("137 0000 3333")
    page.get_by_role("button", name="Send code").click()
    page.get_by_label("SMS code").fill(last_code(sms_outbox, user.phone))
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Repeat password").fill("short")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("This password is too short")).to_be_visible()
    page.get_by_label("Password", exact=True).fill("Silver-Kettle-88")
    page.get_by_label("Repeat password").fill("Silver-Kettle-88")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("Your password was changed.")).to_be_visible()
    user.refresh_from_db()
    assert user.check_password("Silver-Kettle-88")


def test_real_person_authentication(page):
    """ACC-3 with CON-5: the ID number is checked, and stored only with the person's
    own explicit consent, which the consent ledger records."""
    user = UserFactory(phone="+8613700004444")
    sign_in(page, user)
    page.get_by_role("link", name="Add real-person authentication").click()
    page.get_by_label("Legal name (as on the ID card)").fill("王芳")
    page.get_by_label("ID card number", exact=True).fill("110105199003071234")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("wrong length, date or check digit")).to_be_visible()
    expect(page.get_by_text("Checking your identity needs your explicit consent.")).to_be_visible()
    first17 = "11010519900307123"
    page.get_by_label("ID card number", exact=True).fill(first17 + id_number_check_digit(first17))
    page.get_by_label("I explicitly consent to Custodia processing my legal name and ID card number").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("saved, encrypted")).to_be_visible()
    expect(page.get_by_text("1101**********123")).to_be_visible()
    assert IdentityVerification.objects.get(user=user).id_number.startswith(first17)
    assert ConsentRecord.objects.get(user=user).purpose == Purpose.IDENTITY_CHECK


def test_account_deletion_with_fresh_code_then_cancel(page, sms_outbox):
    user = UserFactory(phone="+8613700005555")
    sign_in(page, user)
    page.get_by_role("link", name="Account deletion").click()
    page.get_by_role("button", name="Send code").click()
    page.get_by_label("SMS code").fill("000000" if last_code(sms_outbox, user.phone) != "000000" else "111111")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("The code is wrong")).to_be_visible()
    assert not AccountDeletionRequest.objects.exists()

    page.get_by_label("SMS code").fill(last_code(sms_outbox, user.phone))
    page.get_by_label("Why are you leaving? (optional)").fill("Moving on")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("Your account deletion request was recorded.")).to_be_visible()
    assert AccountDeletionRequest.objects.get(user=user).status == "received"

    page.get_by_role("button", name="Cancel my deletion request").click()
    expect(page.get_by_text("Your account deletion request was cancelled.")).to_be_visible()
    assert AccountDeletionRequest.objects.get(user=user).status == "cancelled"


def test_member_sees_their_organization_data(page, cast):
    cast.member.position = "Account manager"
    cast.member.save(update_fields=["position"])
    sign_in(page, cast.member_user)
    page.get_by_role("link", name="My data in organizations").click()
    expect(page.get_by_role("heading", name="Hangzhou Example Co.")).to_be_visible()
    expect(page.get_by_text("Account manager")).to_be_visible()


def test_account_deletion_carried_out_at_once_without_cooling_off(page, sms_outbox, settings):
    """ACC-5, ANON-3: with no cooling-off period the cascade runs right after the
    confirmation: the person is signed out, cannot sign in again, and their roster entry
    in the organization is an anonymous placeholder."""
    from organizations.models import Member
    from tests.factories import MemberFactory, OrganizationFactory

    settings.ACCOUNT_DELETION_GRACE_DAYS = 0
    user = UserFactory(phone="+8613700006666", name="Leaving Browser")
    organization = OrganizationFactory()
    entry = MemberFactory(organization=organization, user=user, name="Leaving Browser")
    sign_in(page, user)
    page.get_by_role("link", name="Account deletion").click()
    page.get_by_role("button", name="Send code").click()
    page.get_by_label("SMS code").fill(last_code(sms_outbox, user.phone))
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("Your account was deleted.")).to_be_visible()
    assert not type(user).objects.filter(pk=user.pk).exists()
    entry = Member.objects.get(pk=entry.pk)
    assert entry.user_id is None and entry.name != "Leaving Browser" and entry.status == "left"
    assert AccountDeletionRequest.objects.get().status == "completed"
    page.goto("/accounts/sign-in/")
    page.get_by_label("Mobile number").fill(user.phone)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("The mobile number or password is wrong.")).to_be_visible()
