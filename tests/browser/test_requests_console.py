"""Browser journey in Debian's chromium via Playwright (REQ-6): operations staff open the
request queue in the console, open a request, refuse it with a ground and an
explanation; the person signs in and reads the reason on their request page."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dataprotection.models import AuditEvent
from requests.models import DataSubjectRequest, Jurisdiction, RefusalGround, RequestKind, RequestStatus
from requests.services.deadlines import initial_due_on
from requests.services.filing import VERIFIED_BY_CODE
from tests.browser.pages import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_staff_refuse_and_the_person_reads_why(page, browser, live_server, cast):
    """REQ-6: refusal on a recorded ground; the requester gets the reason."""
    now = timezone.now()
    due = initial_due_on(Jurisdiction.MAINLAND, now)
    request = DataSubjectRequest.objects.create(
        subject=cast.member_user,
        kind=RequestKind.ACCESS,
        jurisdiction=Jurisdiction.MAINLAND,
        status=RequestStatus.IN_PROGRESS,
        received_at=now,
        verified_at=now,
        verification_method=VERIFIED_BY_CODE,
        original_due_on=due,
        due_on=due,
    )

    sign_in(page, cast.staff)
    page.goto("/ops/requests/datasubjectrequest/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("data-subject request")
    row = page.locator("#result_list tbody tr", has_text=request.reference)
    expect(row).to_contain_text("Operations staff")
    expect(row).to_contain_text("15 days left")
    row.get_by_role("link", name=request.reference).click()

    expect(page.locator("#timeline")).to_be_visible()
    refuse = page.locator("#act-refuse")
    refuse.get_by_label("Ground").select_option(RefusalGround.REPEATED.value)
    refuse.get_by_label("Explanation").fill("You received the same archive two days ago.")
    refuse.get_by_role("button", name="Refuse").click()
    expect(page.get_by_text("The request was refused; the person was told why.")).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("You received the same archive two days ago.")
    expect(page.locator("#act-refuse")).to_have_count(0)  # closed: no more handling forms

    request.refresh_from_db()
    assert request.status == RequestStatus.REFUSED
    assert AuditEvent.objects.get(action="request.refused").actor == cast.staff

    # The person, in a browser of their own.
    context = browser.new_context(locale="en-US", base_url=live_server.url)
    person = context.new_page()
    try:
        sign_in(person, cast.member_user)
        person.goto(f"/requests/{request.reference}/")
        refusal = person.locator("#refusal")
        expect(refusal.get_by_role("heading", name="Why the request was refused")).to_be_visible()
        expect(person.get_by_test_id("refusal-ground")).to_have_text(str(RefusalGround.REPEATED.label))
        expect(person.get_by_test_id("refusal-explanation")).to_have_text("You received the same archive two days ago.")
    finally:
        context.close()
