"""Browser journey through the collection settings and the roster edit (ORG-5, ORG-6,
ORG-10), in Debian's chromium via Playwright: the owner turns on "Home address" with a
purpose, fills in a not-yet-joined member's home address with the consent attestation
ticked, and sees it masked on the member's page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from organizations.models import Member, UploadAttestation
from organizations.services.collection import collection_settings
from tests.browser.pages import sign_in
from tests.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]

ADDRESS = "浙江省杭州市西湖区文三路 90 号"


def test_owner_collects_home_address_and_fills_it_with_the_attestation(cast, page):
    newcomer = MemberFactory(organization=cast.organization, department=cast.sales, name="Newcomer", status="invited")
    sign_in(page, cast.owner)

    page.goto(f"/orgs/{cast.organization.pk}/roster/")
    page.get_by_role("link", name="Data collection").click()
    expect(page.get_by_role("heading", name="Data collection")).to_be_visible()
    page.get_by_label("Home address", exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("State why you collect it.")).to_be_visible()  # a purpose is required
    page.get_by_label("Home address", exact=True).check()
    page.get_by_label("Purpose of Home address").fill("Send payslips and contracts by post")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The collection settings were saved.")).to_be_visible()
    assert collection_settings(cast.organization)["home_address"] == (True, "Send payslips and contracts by post")

    page.goto(f"/orgs/{cast.organization.pk}/roster/{newcomer.pk}/edit/")
    page.get_by_label("Home address").fill(ADDRESS)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("confirm that they gave explicit consent")).to_be_visible()
    assert Member.objects.get(pk=newcomer.pk).home_address == ""

    page.get_by_label("Home address").fill(ADDRESS)
    page.get_by_label("I confirm this member gave explicit consent").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The member's data was saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Newcomer", exact=True)).to_be_visible()
    expect(page.locator("#sensitive-home_address")).to_contain_text("浙江省杭州市")
    expect(page.get_by_text(ADDRESS)).to_have_count(0)
    assert Member.objects.get(pk=newcomer.pk).home_address == ADDRESS
    assert UploadAttestation.objects.get().fields == ["home_address"]

    page.get_by_role("button", name="Reveal Home address").click()
    expect(page.locator("#sensitive-home_address")).to_contain_text(ADDRESS)
