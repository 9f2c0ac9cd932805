"""Browser journey for administrators (ORG-9) and the department tree (ORG-3), in
Debian's chromium via Playwright: the owner appoints a registered person as a
sub-administrator with "View roster" on Sales only; signed in, that person sees only
Sales and its sub-departments, and another department's page is 404."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from organizations.models import Administrator, DepartmentUserObjectPermission
from tests.browser.pages import sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_owner_appoints_a_scoped_sub_admin(cast, live_server, page):
    person = UserFactory(phone="+8613955556666", name="Zhou Min")
    org = cast.organization.pk

    sign_in(page, cast.owner)
    page.goto(f"/orgs/{org}/admins/")
    page.get_by_role("link", name="Appoint a sub-administrator").click()
    page.get_by_label("Mobile number").fill("139 0000 0000")
    page.get_by_label("View roster").check()
    page.get_by_label("Selected departments").check()
    page.get_by_label("Sales", exact=True).check()
    page.get_by_role("button", name="Appoint").click()
    expect(page.get_by_text("No account uses this number; ask them to register first.")).to_be_visible()
    assert not Administrator.objects.filter(user=person).exists()

    page.get_by_label("Mobile number").fill("139 5555 6666")
    page.get_by_role("button", name="Appoint").click()
    expect(page.get_by_text("Zhou Min is now a sub-administrator.")).to_be_visible()
    row = page.locator("#administrators tr", has_text="Zhou Min")
    expect(row).to_contain_text("View roster — Sales")
    expect(row).not_to_contain_text("Sales East")
    grants = DepartmentUserObjectPermission.objects.filter(user=person)
    assert [(grant.permission.codename, grant.content_object) for grant in grants] == [("view_roster", cast.sales)]

    # The new sub-administrator, in a browser of their own.
    context = page.context.browser.new_context(locale="en-US", base_url=live_server.url)
    context.set_default_timeout(15_000)
    try:
        theirs = context.new_page()
        sign_in(theirs, person)
        theirs.goto(f"/orgs/{org}/departments/")
        tree = theirs.locator("#department-tree")
        expect(tree.get_by_text("Sales", exact=True)).to_be_visible()
        expect(tree.get_by_text("Sales East", exact=True)).to_be_visible()
        expect(tree).not_to_contain_text("Engineering")
        expect(tree).not_to_contain_text(cast.root.name)
        expect(theirs.get_by_role("link", name="New department")).to_have_count(0)  # view only
        expect(theirs.get_by_role("link", name="Administrators")).to_have_count(0)
        response = theirs.goto(f"/orgs/{org}/departments/{cast.engineering.pk}/edit/")
        assert response.status == 404
        response = theirs.goto(f"/orgs/{org}/departments/{cast.sales.pk}/edit/")
        assert response.status == 403  # in scope, but no edit_roster
    finally:
        context.close()
