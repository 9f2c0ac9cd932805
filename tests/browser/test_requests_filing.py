"""Browser journey of a person filing a data-subject request (REQ-1, REQ-3, REQ-4) in
Debian's chromium via Playwright: a correction of a profile field, verified with a code
from the SMS outbox, listed with its due date, opened and withdrawn."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from requests.models import DataSubjectRequest, RequestKind, RequestStatus
from tests.browser.pages import sign_in
from tests.conftest import last_code
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_a_person_files_a_correction_sees_it_listed_and_withdraws_it(page, settings, sms_outbox, tmp_path):
    """REQ-1, REQ-3, REQ-4: structured correction, fresh SMS code, due date on the list."""
    settings.SMS_CODE_RESEND_INTERVAL = timedelta(0)
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    person = UserFactory(name="Wang Fang", work_region="Hangzhou")
    sign_in(page, person)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My requests").click()
    expect(page.get_by_role("heading", name="My requests")).to_be_visible()
    expect(page.get_by_text("You have not filed any request.")).to_be_visible()
    page.get_by_role("link", name="New request").click()
    expect(page.get_by_label("Where do you live?")).to_have_value("mainland")
    page.locator("#kinds").get_by_role("link", name="Correction of my data").click()
    expect(page.get_by_role("heading", name="Correction of my data")).to_be_visible()

    page.get_by_label("Which data?").select_option(label="My profile: work region")
    page.get_by_label("What should it be?").fill("Shanghai")
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_text("We sent a six-digit code")).to_be_visible()
    expect(page.get_by_label("What should it be?")).to_have_value("Shanghai")  # kept while the code was sent
    page.get_by_label("SMS code").fill(last_code(sms_outbox, person.phone))
    page.get_by_role("button", name="File the request").click()

    request = DataSubjectRequest.objects.get()
    assert (request.kind, request.field, request.proposed_value) == (RequestKind.CORRECTION, "work_region", "Shanghai")
    expect(page.get_by_role("heading", name=f"Request {request.reference}")).to_be_visible()
    expect(page.get_by_test_id("request-status")).to_have_text("Received")
    expect(page.get_by_test_id("request-field")).to_have_text("My profile: work region")

    page.get_by_role("link", name="My requests").first.click()
    row = page.locator(f'#request-list tr[data-reference="{request.reference}"]')
    expect(row).to_contain_text("Correction of my data")
    expect(page.get_by_test_id(f"due-{request.reference}")).to_have_text(request.due_on.isoformat())

    row.get_by_role("link", name=request.reference).click()
    page.get_by_role("button", name="Withdraw the request").click()
    expect(page.get_by_text("The request was withdrawn.")).to_be_visible()
    expect(page.get_by_test_id("request-status")).to_have_text("Withdrawn")
    request.refresh_from_db()
    assert request.status == RequestStatus.WITHDRAWN
