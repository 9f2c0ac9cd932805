"""Browser journey for a person's apps (SVC-4, SVC-5) in Debian's chromium via
Playwright: the person sees which app received their data through their organization,
authorizes a mini-program for basic information only, and revokes it again."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from consent.models import DeletionNotice, Disclosure, GrantStatus, NoticeReason, PersonalAuthorization, Service
from tests.browser.pages import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_person_authorizes_and_revokes_a_mini_program(page, cast):
    """SVC-4: explicit confirmation, basic information only; revoking asks the app to
    delete what it received. SVC-5: the organization's app is listed with its source."""
    hr_app = Service.objects.create(code="hr-sync", name="HR Sync", kind="third_party", provider_name="HR Co.")
    Disclosure.objects.create(
        service=hr_app, organization=cast.organization, member=cast.member, user=cast.member_user, scopes=["mobile"]
    )
    Service.objects.create(
        code="weather",
        name="Weather",
        kind="mini_program",
        provider_name="Sky Apps",
        privacy_policy_url="https://sky.example/privacy",
        notice_url="http://127.0.0.1:9/unreachable",
        data_scopes=["mobile"],
    )
    sign_in(page, cast.member_user)
    page.goto("/privacy/apps/")
    received = page.locator('#recipients tr[data-app="hr-sync"]')
    expect(received).to_contain_text(cast.organization.name)
    expect(received).to_contain_text("Mobile number")

    page.get_by_role("link", name="Weather").click()
    expect(page.locator("#shared-data")).to_have_text("User ID, Avatar, Nickname")
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_text("Tick the box to confirm the authorization.")).to_be_visible()
    page.get_by_label("I authorize this mini-program to receive my basic information.").check()
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_text("Weather can now receive your basic information.")).to_be_visible()
    row = page.locator('#authorizations tr[data-app="weather"]')
    expect(row).to_have_attribute("data-status", "active")

    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("has been asked to delete what it received")).to_be_visible()
    expect(row).to_have_attribute("data-status", "revoked")
    authorization = PersonalAuthorization.objects.get(user=cast.member_user)
    assert authorization.status == GrantStatus.REVOKED
    assert DeletionNotice.objects.get(service__code="weather").reason == NoticeReason.AUTHORIZATION_REVOKED
