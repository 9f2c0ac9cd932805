"""Browser journey for a transfer out of the data region (SEC-6) in Debian's chromium via
Playwright: a person authorizing a mini-program hosted abroad reads where it is hosted,
is refused with a clear message without the cross-border consent, and authorizes it
once the consent is ticked."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from consent.models import PersonalAuthorization, Purpose, Service
from consent.services import ledger
from dataprotection.models import AuditEvent
from tests.browser.pages import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_a_mini_program_hosted_abroad_needs_the_cross_border_consent(page, cast, settings):
    """SEC-6: without the box ticked, the refusal names the app, where it is hosted and
    the region the data is kept in; with it, the app is authorized and the consent is
    in the ledger."""
    settings.DATA_REGION = "cn"
    Service.objects.create(
        code="lion-notes",
        name="Lion Notes",
        kind="mini_program",
        provider_name="Merlion Apps Pte. Ltd.",
        privacy_policy_url="https://merlion.example/privacy",
        notice_url="http://127.0.0.1:9/unreachable",
        hosting_region="sg",
    )
    sign_in(page, cast.member_user)
    page.goto("/privacy/apps/")
    expect(page.locator("#available-apps")).to_contain_text("hosted in Singapore")
    page.get_by_role("link", name="Lion Notes").click()
    expect(page.get_by_test_id("hosting-region")).to_have_text("Singapore")
    expect(page.get_by_test_id("cross-border-notice")).to_contain_text("outside the Mainland China region")

    page.get_by_label("I authorize this mini-program to receive my basic information.").check()
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Lion Notes is hosted in Singapore, outside the Mainland China region where your data is kept."
    )
    assert not PersonalAuthorization.objects.exists()
    assert AuditEvent.objects.filter(action="cross_border.refused", subject_user=cast.member_user).exists()

    page.get_by_label("I authorize this mini-program to receive my basic information.").check()
    page.get_by_label("I explicitly consent to the transfer of my basic information to Lion Notes").check()
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_text("Lion Notes can now receive your basic information.")).to_be_visible()
    row = page.locator('#authorizations tr[data-app="lion-notes"]')
    expect(row).to_have_attribute("data-status", "active")
    expect(row.get_by_test_id("hosted-abroad")).to_have_text("hosted in Singapore")
    assert ledger.has_consent(cast.member_user, Purpose.CROSS_BORDER)
    assert AuditEvent.objects.filter(action="cross_border.consented", subject_user=cast.member_user).exists()
