"""Browser journey of an organization handling a member's request (REQ-5) in Debian's
chromium via Playwright: the owner opens the queue, opens a correction about control
data, applies it and sees it completed; the roster shows the new value."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from requests.models import DataSubjectRequest, RequestKind, RequestStatus
from tests.browser.pages import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_owner_applies_a_correction_of_control_data(page, cast):
    """REQ-5: a correction of a roster field goes to the organization; applying it
    writes the roster through the normal service and completes the request."""
    today = timezone.localdate()
    data_request = DataSubjectRequest.objects.create(
        kind=RequestKind.CORRECTION,
        jurisdiction="mainland",
        subject=cast.member_user,
        organization=cast.organization,
        member=cast.member,
        field="position",
        proposed_value="Head of Sales East",
        details="I was promoted in March.",
        verified_at=timezone.now(),
        verification_method="sms",
        original_due_on=today + timedelta(days=2),
        due_on=today + timedelta(days=2),
    )
    sign_in(page, cast.owner)
    page.goto(f"/orgs/{cast.organization.pk}/")
    page.get_by_role("complementary", name="Organization").get_by_role("link", name="Requests").click()
    expect(page.get_by_role("heading", name="Members' requests", level=1)).to_be_visible()
    row = page.locator(f'tr[data-request="{data_request.pk}"]')
    expect(row).to_contain_text("Correction of my data")
    expect(row).to_contain_text("Member")
    expect(row.get_by_test_id("due-soon")).to_be_visible()

    row.get_by_role("link", name=data_request.reference).click()
    expect(page.get_by_test_id("request-field")).to_have_text("Position")
    expect(page.get_by_test_id("proposed-value")).to_have_text("Head of Sales East")
    apply_form = page.get_by_test_id("apply-form")
    apply_form.get_by_label("I have checked the request and want to go ahead").check()
    apply_form.get_by_role("button", name="Apply the correction").click()

    expect(page.get_by_text("The correction was applied and the request completed.")).to_be_visible()
    expect(page.get_by_test_id("request-status")).to_have_text("Completed")
    expect(page.get_by_test_id("outcome")).to_contain_text("“Position” was corrected as you asked.")
    data_request.refresh_from_db()
    assert data_request.status == RequestStatus.COMPLETED

    page.goto(f"/orgs/{cast.organization.pk}/roster/{cast.member.pk}/")
    expect(page.locator("#field-position")).to_have_text("Head of Sales East")
