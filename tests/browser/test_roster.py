"""Browser journeys through the roster and audit log (ORG-7, ORG-10, SEC-2), in Debian's
chromium via Playwright: the owner searches, reveals an ID number and finds the reveal in
the audit log; a Sales-scoped sub-administrator sees only the Sales subtree and gets a
404 page for an Engineering member; the roster's total, page numbers and sortable
columns; and each bulk action on a selection -- move, remove, export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dataprotection.identifiers import id_number_check_digit
from dataprotection.models import AuditEvent
from organizations.models import CollectionSetting, Member
from organizations.services.lookups import id_number_digest, mobile_digest
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
    expect(page.locator("#roster tbody tr")).to_have_count(1)  # the filtered page has loaded
    assert shown_member_ids(page) == {cast.member.pk}

    response = page.goto(f"/orgs/{cast.organization.pk}/roster/{engineer.pk}/")
    assert response.status == 404
    expect(page.get_by_text("Engineer")).to_have_count(0)


# --------------------------------------------------------------------------- sorting, pages, bulk actions (ORG-7)


def shown_names(page) -> list[str]:
    return page.locator("#roster tbody tr td:nth-child(2) a").all_inner_texts()


def test_owner_sorts_and_pages_through_the_roster(page, cast):
    for index in range(120):
        MemberFactory(
            organization=cast.organization,
            department=cast.sales,
            name=f"Person {index:03d}",
            employee_number=f"E-{(119 - index):03d}",
        )
    sign_in(page, cast.owner)
    page.goto(f"/orgs/{cast.organization.pk}/roster/")
    expect(page.get_by_test_id("roster-total")).to_contain_text("121 members")
    expect(page.get_by_test_id("roster-total")).to_contain_text("Showing 1–50")
    assert shown_names(page)[:2] == ["Member", "Person 000"]

    pages = page.get_by_role("navigation", name="Pages")
    pages.get_by_role("link", name="Page 3").click()
    expect(page.locator("#roster tbody tr")).to_have_count(21)
    expect(pages.locator("[aria-current=page]")).to_have_text("3")
    assert shown_names(page)[-1] == "Person 119"

    page.get_by_role("link", name="Name").click()  # by name, the other way round
    expect(page.get_by_role("columnheader", name="Name")).to_have_attribute("aria-sort", "descending")
    assert shown_names(page)[:2] == ["Person 119", "Person 118"]
    pages.get_by_role("link", name="Next").click()
    expect(pages.locator("[aria-current=page]")).to_have_text("2")
    assert shown_names(page)[0] == "Person 069"  # the sort stays while paging

    page.get_by_role("link", name="Employee number").click()
    expect(page.get_by_role("columnheader", name="Employee number")).to_have_attribute("aria-sort", "ascending")
    assert shown_names(page)[:3] == ["Member", "Person 119", "Person 118"]  # blank first, then E-000, E-001
    expect(pages.locator("[aria-current=page]")).to_have_text("1")  # a new order starts on page 1


def test_sub_admin_moves_selected_members_to_a_department(page, cast):
    first = MemberFactory(organization=cast.organization, department=cast.sales, name="Amy Sales")
    second = MemberFactory(organization=cast.organization, department=cast.sales, name="Bob Sales")
    sign_in(page, cast.sub_admin)
    page.goto(f"/orgs/{cast.organization.pk}/roster/")
    move = page.get_by_role("button", name="Move selected")
    expect(move).to_be_disabled()  # nothing selected yet
    page.get_by_label("Select Amy Sales").check()
    page.get_by_label("Select Bob Sales").check()
    expect(page.get_by_text("Selected: 2")).to_be_visible()
    page.get_by_label("Move to").select_option(label="\u2003Sales East")
    move.click()
    expect(page.get_by_role("status")).to_contain_text("2 members were moved to Sales East.")
    for row in (
        page.locator(f"#roster tr[data-member='{first.pk}']"),
        page.locator(f"#roster tr[data-member='{second.pk}']"),
    ):
        expect(row).to_contain_text("Sales East")
    assert AuditEvent.objects.get(action="roster.members_moved").metadata["member_ids"] == sorted([first.pk, second.pk])


def test_owner_removes_selected_members_after_confirming(page, cast):
    MemberFactory(organization=cast.organization, department=cast.sales, name="Leaving One")
    MemberFactory(organization=cast.organization, department=cast.engineering, name="Leaving Two")
    sign_in(page, cast.owner)
    page.goto(f"/orgs/{cast.organization.pk}/roster/")
    page.get_by_label("Select Leaving One").check()
    page.get_by_label("Select Leaving Two").check()
    page.get_by_role("button", name="Remove from roster").click()
    expect(page.get_by_role("heading", name="Remove 2 members from the roster?")).to_be_visible()
    expect(page.get_by_test_id("remove-list")).to_contain_text("Leaving One")
    page.get_by_role("button", name="Remove from the roster").click()
    expect(page.get_by_role("status")).to_contain_text("2 members were removed from the roster (marked as left).")
    expect(page.locator("#roster")).not_to_contain_text("Leaving")
    page.get_by_label("Show").select_option(label="Former members (left)")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#roster tbody tr")).to_have_count(2)
    assert sorted(shown_names(page)) == ["Leaving One", "Leaving Two"]
    assert Member.objects.filter(name__startswith="Leaving", status="left").count() == 2


def test_owner_exports_the_selected_members(page, cast):
    MemberFactory(organization=cast.organization, department=cast.sales, name="Exported One")
    MemberFactory(organization=cast.organization, department=cast.engineering, name="Exported Two")
    sign_in(page, cast.owner)
    page.goto(f"/orgs/{cast.organization.pk}/roster/?q=Exported")
    page.get_by_label("Select every member on this page").check()
    expect(page.get_by_text("Selected: 2")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export selected").click()
    text = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert sorted(row[0] for row in rows[1:]) == ["Exported One", "Exported Two"]
    event = AuditEvent.objects.get(action="roster.selection_exported")
    assert event.metadata["count"] == 2
