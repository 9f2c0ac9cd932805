"""Browser journey for services (SVC-2, SVC-3) in Debian's chromium via Playwright: the
owner opens a third-party app after reading exactly what it receives, then closes it
and watches the deletion notice reach the provider's real HTTP endpoint (started by the
test on 127.0.0.1) and become acknowledged on the page."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from consent.models.sharing import DeletionNotice, GrantStatus, NoticeStatus, SharingGrant
from tests.browser.pages import sign_in
from tests.consent.test_notices import NoticeReceiver, signature_ok
from tests.consent.test_sharing import third_party

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_owner_opens_and_closes_a_third_party_app(page, cast):
    with NoticeReceiver() as receiver:
        service = third_party(scopes=["name", "departments"], notice_url=receiver.url)
        sign_in(page, cast.owner)
        page.goto(f"/orgs/{cast.organization.pk}/roster/")
        page.get_by_role("complementary", name="Organization").get_by_role("link", name="Services").click()
        expect(page.get_by_role("heading", name="Services", level=1)).to_be_visible()
        row = page.locator(f'tr[data-service="{service.code}"]')
        expect(row.get_by_test_id("service-state")).to_contain_text("Not open")
        row.get_by_role("link", name="Open").click()

        # What will be shared: the basic information and each declared scope.
        shared = page.locator("#shared-data")
        expect(shared).to_contain_text("Nickname")
        expect(shared.locator('[data-scope="departments"]')).to_have_text("Departments")
        expect(page.get_by_test_id("provider")).to_have_text("Acme Ltd.")
        page.get_by_role("button", name="Open the service").click()
        expect(page.get_by_text("Tick the box to confirm what will be shared.")).to_be_visible()
        assert not SharingGrant.objects.exists()
        page.get_by_label("I have read what will be shared").check()
        page.get_by_role("button", name="Open the service").click()
        expect(page.get_by_text(f"{service.name} is open for the organization.")).to_be_visible()
        expect(page.get_by_test_id("service-state")).to_contain_text("opened by Owner")
        assert SharingGrant.objects.get().status == GrantStatus.ACTIVE

        # Close: the page explains the consequences, then the notice goes out.
        page.get_by_role("link", name="Close the service").click()
        expect(page.locator("#close-consequences")).to_contain_text("revoked at once")
        page.get_by_label("Close the service: the provider's access stops now").check()
        page.get_by_role("button", name="Close the service").click()
        expect(page.get_by_text("a deletion notice was sent to the provider")).to_be_visible()
        status = page.get_by_test_id("deletion-notice").get_by_test_id("notice-status")
        for _ in range(20):  # delivery runs right after the close commits; poll by reloading
            if "Acknowledged" in status.inner_text():
                break
            page.wait_for_timeout(250)
            page.reload()
        expect(status).to_contain_text("Acknowledged")
        expect(page.get_by_test_id("notice-attempts")).to_have_text("1")

    assert SharingGrant.objects.get().status == GrantStatus.REVOKED
    notice = DeletionNotice.objects.get()
    assert notice.status == NoticeStatus.ACKNOWLEDGED
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert signature_ok(request)
    assert request["headers"]["Custodia-Notice-Id"] == str(notice.uuid)
    assert json.loads(request["body"])["scope"] == "all"
