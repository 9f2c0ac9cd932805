"""Browser journeys in Debian's chromium via Playwright for three pages a person reaches
from others: the consent history (CON-2), the automated decisions about them with the
appeal (REQ-11), and the public security announcements (SEC-4)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from playwright.sync_api import expect

from organizations.services.incidents import save_incident
from requests.models import RequestKind
from requests.services.decisions import record_automated_decision
from tests.browser.pages import sign_in
from tests.factories import UserFactory
from tests.organizations.test_incidents import make_incident

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_a_withdrawal_is_added_to_the_consent_history_never_erasing_the_grant(page, db):
    """CON-1, CON-2: the person turns marketing on and off on the privacy page, follows
    "Consent history" and reads both decisions, newest first, made on this page."""
    sign_in(page, UserFactory())
    page.goto("/privacy/")
    page.get_by_role("button", name="Grant consent to Product news and offers").click()
    expect(page.get_by_text("Product news and offers is on.")).to_be_visible()
    page.get_by_role("button", name="Withdraw consent to Product news and offers").click()
    expect(page.get_by_text("Product news and offers is off. Nothing more is processed for it.")).to_be_visible()

    page.get_by_role("link", name="Consent history").click()
    expect(page.get_by_role("heading", name="Consent history", level=1)).to_be_visible()
    rows = page.get_by_test_id("ledger-row").and_(page.locator("[data-purpose=marketing]"))
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-decision", "withdrawn")
    expect(rows.nth(1)).to_have_attribute("data-decision", "granted")
    expect(rows.nth(0)).to_contain_text("withdrawn")
    expect(rows.nth(1)).to_contain_text("granted")


def test_a_person_reads_an_automated_decision_and_opens_the_appeal(page, db):
    """REQ-11: from "My requests" the person reaches the decisions made about them, reads
    how one was made, and the appeal opens an automated-decision request about it."""
    person = UserFactory()
    decision = record_automated_decision(
        person,
        system="Attendance scoring",
        decision="Late-arrival warning",
        explanation="Three punches after 09:15 in one week trigger a warning.",
    )
    record_automated_decision(UserFactory(), system="Other", decision="Someone else's", explanation="Not yours.")
    sign_in(page, person)
    page.goto("/requests/")
    page.get_by_role("link", name="Automated decisions about me").click()
    expect(page.get_by_role("heading", name="Automated decisions about me", level=1)).to_be_visible()
    section = page.locator(f"[data-decision='{decision.pk}']")
    expect(section.get_by_role("heading", name="Late-arrival warning")).to_be_visible()
    expect(section).to_contain_text("Three punches after 09:15 in one week trigger a warning.")
    expect(page.get_by_text("Someone else's")).to_have_count(0)

    section.get_by_role("link", name="Ask for an explanation / appeal").click()
    page.wait_for_url("**/requests/new/**")
    assert f"/{RequestKind.AUTOMATED_DECISION}/" in page.url and f"decision={decision.pk}" in page.url
    # The request form names the decision, already chosen.
    expect(page.locator("#request-form")).to_contain_text("Which decision?")
    expect(page.locator("#request-form select[name=automated_decision]")).to_have_value(str(decision.pk))


@contextmanager
def visitor(browser, live_server):
    context = browser.new_context(locale="en-US", base_url=live_server.url)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_visitor_reads_the_published_security_announcement_only(browser, live_server, db):
    """SEC-4: without signing in, a visitor follows the footer link to the public
    announcements and reads the published incident's announcement; an incident whose
    announcement is not published is not there."""
    published = make_incident(title="Exposed attendance export", announcement="Change your portal password.")
    published.announcement_published = True
    save_incident(published, actor=None, created=False)
    make_incident(title="Internal near miss", announcement="Not for the public yet.")
    with visitor(browser, live_server) as page:
        page.goto("/")
        page.get_by_role("link", name="Security announcements").click()
        expect(page.get_by_role("heading", name="Security announcements", level=1)).to_be_visible()
        announcement = page.get_by_test_id("security-announcement")
        expect(announcement).to_have_count(1)
        expect(announcement.get_by_role("heading", name="Exposed attendance export")).to_be_visible()
        expect(announcement).to_contain_text("Change your portal password.")
        expect(announcement).to_contain_text(published.reference)
        expect(page.get_by_text("Internal near miss")).to_have_count(0)
