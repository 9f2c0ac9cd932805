"""Browser journeys through the roster and audit log (ORG-7, ORG-10, SEC-2), in Debian's
chromium via Playwright: the owner searches, reveals an ID number and finds the reveal in
the audit log; a Sales-scoped sub-administrator sees only the Sales subtree and gets a
404 page for an Engineering member."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dataprotection.identifiers import id_number_check_digit
from dataprotection.models import AuditEvent
from organizations.lookups import id_number_digest, mobile_digest
from organizations.models import CollectionSetting, Member
from tests.browser.pages import sign_in
from tests.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]

MOBILE = "+8613912345678"
ID_NUMBER = "33010619880512345" + id_number_check_digit("33010619880512345")


def shown_member_ids(page) -> set[int]:
    return {
        int(value) for value in page.locator("#roster tbody tr").evaluate_all("rows => rows.map(r => r.dataset.member)")
    }


def test_owner_searches_reveals_and_finds_the_reveal_in_the_audit_log(page, cast):
    CollectionSetting.objects.create(organization=cast.organization, field="id_number", enabled=True, purpose="Payroll")
    Member.objects.filter(pk=cast.member.pk).update(
        mobile=MOBILE,
        mobile_digest=mobile_digest(MOBILE),
        id_number=ID_NUMBER,
        id_number_digest=id_number_digest(ID_NUMBER),
        employee_number="S-1001",
    )
    MemberFactory(organization=cast.organization, department=cast.engineering, name="Engineer")
    sign_in(page, cast.owner)

    page.goto(f"/orgs/{cast.organization.pk}/roster/")
    expect(page.get_by_role("heading", name="Roster")).to_be_visible()
    expect(page.locator("#roster tbody tr")).to_have_count(2)
    page.get_by_label("Search").fill("139 1234 5678")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#roster tbody tr")).to_have_count(1)
    row = page.locator("#roster tbody tr").first
    expect(row).to_contain_text("+86139****5678")
    expect(row).not_to_contain_text(ID_NUMBER)

    row.get_by_role("link", name="Member").click()
    expect(page.get_by_role("heading", name="Member", exact=True)).to_be_visible()
    expect(page.locator("#sensitive-id_number")).to_contain_text(ID_NUMBER[:4] + "*" * 10 + ID_NUMBER[-4:])
    expect(page.get_by_text(ID_NUMBER)).to_have_count(0)
    page.get_by_role("button", name="Reveal ID card number").click()
    expect(page.locator("#sensitive-id_number")).to_contain_text(ID_NUMBER)
    expect(page.locator("#sensitive-mobile")).to_contain_text("+86139****5678")

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    event_row = page.locator("#audit tbody tr", has_text="member.revealed")
    expect(event_row).to_have_count(1)
    expect(event_row).to_contain_text("Owner")
    expect(event_row).to_contain_text("Member")
    expect(event_row).to_contain_text("Sensitive field revealed")
    expect(event_row).to_contain_text("ID card number")  # the field's label, never its value
    expect(page.locator("#audit")).not_to_contain_text(ID_NUMBER)
    page.get_by_label("Action").select_option("member.revealed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit tbody tr")).to_have_count(1)
    assert AuditEvent.objects.filter(action="member.revealed", metadata={"field": "id_number"}).count() == 1


def test_scoped_sub_admin_sees_only_the_sales_subtree(page, cast):
    sales_lead = MemberFactory(organization=cast.organization, department=cast.sales, name="Sales Lead")
    engineer = MemberFactory(organization=cast.organization, department=cast.engineering, name="Engineer")
    MemberFactory(organization=cast.organization, department=cast.root, name="Head Office")
    sign_in(page, cast.sub_admin)

    page.goto(f"/orgs/{cast.organization.pk}/roster/")
    expect(page.locator("#roster tbody tr")).to_have_count(2)
    assert shown_member_ids(page) == {cast.member.pk, sales_lead.pk}
    expect(page.locator("#roster")).not_to_contain_text("Engineer")
    expect(page.get_by_role("link", name="Audit log")).to_have_count(0)  # owner only

    page.get_by_label("Department").select_option(label="\u2003Sales East")
    page.get_by_role("button", name="Search").click()
    assert shown_member_ids(page) == {cast.member.pk}

    response = page.goto(f"/orgs/{cast.organization.pk}/roster/{engineer.pk}/")
    assert response.status == 404
    expect(page.get_by_text("Engineer")).to_have_count(0)
