"""Browser journeys for privacy settings (CON-1, CON-3, CON-4, CON-7) in Debian's
chromium via Playwright: a person turns contact matching on, finds a contact who allows
it (and not one who does not), turns it off and the function stops; a visitor whose
browser sends the Global Privacy Control signal is told they are opted out; a visitor
answers the cookie banner and it goes away."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from playwright.sync_api import expect

from consent.models import Channel, ConsentRecord, Purpose
from consent.services import ledger
from consent.services.privacy import set_findable_by_phone
from tests.browser.pages import sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]

POST_MATCH = """async () => {
  const token = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const response = await fetch("/privacy/contacts/match", {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRFToken": token},
    body: JSON.stringify({digests: []}),
  });
  return [response.status, await response.json()];
}"""


@contextmanager
def visitor_page(browser, live_server, **options):
    context = browser.new_context(locale="en-US", base_url=live_server.url, **options)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_contact_matching_works_while_consented_and_stops_when_withdrawn(page, db):
    """CON-4, CON-1: the browser hashes pasted numbers (WebCrypto on 127.0.0.1) and
    finds only the person who allows being found; after withdrawing on the privacy
    page, the contacts page says the function is off and the endpoint refuses."""
    findable = UserFactory(phone="+8613911112222", nickname="Lanlan")
    set_findable_by_phone(findable, True)
    UserFactory(phone="+8613933334444", nickname="Hidden")  # never allowed being found
    person = UserFactory()
    sign_in(page, person)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Privacy", exact=True).click()
    expect(page.get_by_role("heading", name="Privacy settings", level=1)).to_be_visible()
    expect(page.get_by_test_id("state-contact_matching")).to_contain_text("Off (not decided)")
    page.get_by_role("button", name="Grant consent to Contact matching").click()
    expect(page.get_by_text("Contact matching is on.")).to_be_visible()
    expect(page.get_by_test_id("state-contact_matching")).to_contain_text("On")

    page.get_by_role("link", name="Find my contacts on Custodia").click()
    expect(page.get_by_role("heading", name="Find my contacts")).to_be_visible()
    page.get_by_label("Phone numbers").fill("139 1111 2222\n+86 139-3333-4444\nnot a number")
    page.get_by_role("button", name="Find contacts").click()
    matches = page.get_by_test_id("contact-matches")
    expect(matches.get_by_role("listitem")).to_have_count(1)
    expect(matches).to_contain_text("Lanlan (+8613911112222)")
    expect(matches).not_to_contain_text("Hidden")
    expect(page.get_by_test_id("contact-status")).to_contain_text("not a number")

    page.get_by_role("main").get_by_role("link", name="Privacy settings").click()
    page.get_by_role("button", name="Withdraw consent to Contact matching").click()
    expect(page.get_by_text("Contact matching is off. Nothing more is processed for it.")).to_be_visible()
    assert not ledger.has_consent(person, Purpose.CONTACT_MATCHING)

    page.goto("/privacy/contacts/")
    expect(page.get_by_role("heading", name="Contact matching is off")).to_be_visible()
    expect(page.get_by_role("link", name="Open privacy settings")).to_be_visible()
    status, body = page.evaluate(POST_MATCH)
    assert status == 403 and "Contact matching is off" in body["error"]


def test_a_visitor_with_global_privacy_control_is_opted_out(browser, live_server, db):
    """CON-7: the banner tells the visitor that their browser's signal opted them out;
    the ledger has one gpc withdrawal per purpose, however many pages they open."""
    with visitor_page(browser, live_server, extra_http_headers={"Sec-GPC": "1"}) as page:
        page.goto("/")
        note = page.get_by_test_id("gpc-note")
        expect(note).to_contain_text("Your browser's Global Privacy Control signal opted you out of")
        expect(note).to_contain_text("Product news and offers")
        expect(page.get_by_label("Marketing cookies")).to_be_disabled()
        page.goto("/service-notices/")
        page.goto("/")
        expect(page.get_by_test_id("gpc-note")).to_be_visible()
    records = ConsentRecord.objects.filter(user=None)
    assert sorted(records.values_list("purpose", "decision", "channel")) == [
        ("marketing", "withdrawn", Channel.GPC),
        ("optional_sharing", "withdrawn", Channel.GPC),
    ]
    assert len({record.visitor_key for record in records}) == 1


def test_a_visitor_answers_the_cookie_banner_and_it_goes_away(browser, live_server, db):
    """CON-3 (EN II): one visitor keeps only preference cookies, another rejects the
    optional ones; each answer is in the ledger and the banner is gone afterwards."""
    with visitor_page(browser, live_server) as page:
        page.goto("/service-notices/")
        banner = page.get_by_test_id("cookie-banner")
        expect(banner).to_contain_text("Strictly necessary cookies")
        banner.get_by_label("Preference cookies").check()
        banner.get_by_role("button", name="Confirm my cookie choices").click()
        expect(page.get_by_text("Your cookie choices were recorded.")).to_be_visible()
        expect(page.get_by_role("heading", name="Service notices", level=1)).to_be_visible()  # back where it was
        expect(page.get_by_test_id("cookie-banner")).to_have_count(0)
        page.goto("/")
        expect(page.get_by_test_id("cookie-banner")).to_have_count(0)
    (first,) = set(ConsentRecord.objects.values_list("visitor_key", flat=True))
    assert ledger.visitor_has_consent(first, Purpose.PERSONALIZATION)
    assert not ledger.visitor_has_consent(first, Purpose.MARKETING)

    with visitor_page(browser, live_server) as page:
        page.goto("/")
        page.get_by_test_id("cookie-banner").get_by_role("button", name="Reject optional cookies").click()
        expect(page.get_by_test_id("cookie-banner")).to_have_count(0)
    (second,) = set(ConsentRecord.objects.values_list("visitor_key", flat=True)) - {first}
    assert sorted(ConsentRecord.objects.filter(visitor_key=second).values_list("purpose", "decision")) == [
        ("marketing", "withdrawn"),
        ("personalization", "withdrawn"),
    ]
    assert set(ConsentRecord.objects.values_list("channel", flat=True)) == {Channel.COOKIE_BANNER}
