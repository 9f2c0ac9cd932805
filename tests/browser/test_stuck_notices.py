"""Browser journey of a deletion notice stuck on a missing signing secret (SVC-3), in
Debian's chromium via Playwright: the owner's service page says operations must act
(not the worker's raw reason); operations staff find the notice under "waiting on:
operations", follow "Set up the service", type the secret and save; the notice goes out
at once and the owner's page shows it acknowledged."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from consent.models.sharing import DeletionNotice, NoticeStatus, Service, SharingGrant
from consent.services import notices, sharing
from tests.browser.pages import sign_in
from tests.consent.test_notices import NoticeReceiver
from tests.consent.test_sharing import open_for, owner_access, third_party

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_operations_fix_a_notice_stuck_on_a_missing_secret(page, cast):
    with NoticeReceiver() as receiver:
        service = third_party(notice_url=receiver.url)
        open_for(cast, service)
        # Entered before the console refused it: an endpoint without a secret.
        Service.objects.filter(pk=service.pk).update(notice_secret="")
        sharing.close_service(owner_access(cast), SharingGrant.objects.get())
        notice = DeletionNotice.objects.get()
        notices.deliver_notice(notice.pk)
        assert receiver.requests == []  # nothing can be sent without the secret

        sign_in(page, cast.owner)
        page.goto(f"/orgs/{cast.organization.pk}/services/{service.pk}/")
        problem = page.get_by_test_id("notice-problem")
        expect(problem).to_contain_text("Operations must act")
        expect(page.get_by_role("main")).not_to_contain_text("no notice signing secret is configured")
        page.get_by_role("button", name="Sign out").click()

        sign_in(page, cast.staff)
        page.goto("/ops/consent/deletionnotice/?waiting_on=operations")
        row = page.locator("#result_list tbody tr", has_text=str(notice.uuid))
        row.get_by_role("link", name="Set up the service").click()
        page.get_by_label("New notice signing secret").fill("a-secret-shared-with-acme-0123")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

        assert len(receiver.requests) == 1  # sent at once, not after its backoff
        notice.refresh_from_db()
        assert notice.status == NoticeStatus.ACKNOWLEDGED
        page.goto("/ops/consent/deletionnotice/?waiting_on=operations")
        expect(page.locator("#result_list")).to_have_count(0)
        page.context.clear_cookies()  # another person at the same browser

    sign_in(page, cast.owner)
    page.goto(f"/orgs/{cast.organization.pk}/services/{service.pk}/")
    expect(page.get_by_test_id("deletion-notice")).to_have_attribute("data-status", "acknowledged")
    expect(page.get_by_test_id("notice-problem")).to_have_text("—")
