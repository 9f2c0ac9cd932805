"""Browser journey in Debian's chromium via Playwright (REQ-5, REQ-6): an organization's
owner and operations staff handle a request with the same forms. Both pages show the
note field with the same limit, and a note over it (the browser's own limit taken off,
as a hand-made request would) is refused with a clear error and nothing is written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from requests.models import DataSubjectRequest, Jurisdiction, RequestEvent, RequestKind, RequestStatus
from requests.services.filing import VERIFIED_BY_CODE
from requests.services.workflow import NOTE_MAX_LENGTH
from tests.browser.pages import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def open_request(**routing) -> DataSubjectRequest:
    today = timezone.localdate()
    return DataSubjectRequest.objects.create(
        kind=RequestKind.ACCESS,
        jurisdiction=Jurisdiction.MAINLAND,
        status=RequestStatus.IN_PROGRESS,
        verified_at=timezone.now(),
        verification_method=VERIFIED_BY_CODE,
        original_due_on=today + timedelta(days=10),
        due_on=today + timedelta(days=10),
        **routing,
    )


def refuse_an_overlong_note(page) -> None:
    note = page.locator("#id_note-text")
    expect(note).to_have_attribute("maxlength", str(NOTE_MAX_LENGTH))
    note.evaluate("element => element.removeAttribute('maxlength')")
    note.fill("x" * (NOTE_MAX_LENGTH + 1))
    page.locator("form", has=note).get_by_role("button").click()
    expect(page.get_by_text(f"at most {NOTE_MAX_LENGTH} characters")).to_be_visible()


def test_the_same_note_limit_on_the_organization_page_and_in_the_console(page, browser, live_server, cast):
    """REQ-5, REQ-6: the organization's request page and the console's request page
    share the handlers' forms and their limits."""
    theirs = open_request(subject=cast.member_user, organization=cast.organization, member=cast.member)
    ours = open_request(subject=cast.member_user)

    sign_in(page, cast.owner)
    page.goto(f"/orgs/{cast.organization.pk}/requests/{theirs.pk}/")
    refuse_an_overlong_note(page)

    context = browser.new_context(locale="en-US", base_url=live_server.url)
    console = context.new_page()
    try:
        sign_in(console, cast.staff)
        console.goto(f"/ops/requests/datasubjectrequest/{ours.pk}/change/")
        refuse_an_overlong_note(console)
    finally:
        context.close()
    assert not RequestEvent.objects.exists()
