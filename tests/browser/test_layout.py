"""The layout on a phone and on a laptop, in Debian's chromium via Playwright:
at 375 px the pages need no horizontal scrolling and the navigation opens from a menu
button; at 1366 px the operations console needs none either; the device permissions are
a grid of checkboxes. Both languages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.pages import sign_in
from tests.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]

PHONE = {"width": 375, "height": 800}
LAPTOP = {"width": 1366, "height": 800}


def use_language(page, live_server, language: str) -> None:
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])


def horizontal_overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_pages_fit_a_phone_and_the_menu_opens(page, cast, live_server, language):
    for index in range(3):
        MemberFactory(organization=cast.organization, department=cast.sales, name=f"Phone Person {index}")
    use_language(page, live_server, language)
    page.set_viewport_size(PHONE)
    for path in ("/", "/accounts/sign-in/", "/accounts/register/", "/no-such-page/"):  # a visitor's header
        page.goto(path)
        assert horizontal_overflow(page) <= 0, f"{path} scrolls sideways at 375 px ({language}, signed out)"
    page.set_viewport_size({"width": 1280, "height": 720})
    use_language(page, live_server, "en")  # the sign-in steps read English labels
    sign_in(page, cast.owner)
    use_language(page, live_server, language)
    page.set_viewport_size(PHONE)
    organization = cast.organization.pk
    for path in (
        "/accounts/profile/",
        "/privacy/",
        "/requests/",
        "/accounts/profile/access-log/",
        f"/orgs/{organization}/",
        f"/orgs/{organization}/roster/",
        f"/orgs/{organization}/roster/import/",
        f"/orgs/{organization}/audit/",
        "/no-such-page/",
    ):
        page.goto(path)
        assert horizontal_overflow(page) <= 0, f"{path} scrolls sideways at 375 px ({language})"

    page.goto(f"/orgs/{organization}/roster/")
    menu = page.locator("[data-nav-toggle]")
    sidebar = page.locator("#sidebar")
    expect(sidebar).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(sidebar).to_be_visible()
    expect(sidebar.locator("[aria-current=page]").first).to_be_visible()
    assert horizontal_overflow(page) <= 0
    page.keyboard.press("Escape")
    expect(sidebar).to_be_hidden()
    expect(menu).to_be_focused()


def test_the_navigation_is_always_there_on_a_laptop(page, cast):
    sign_in(page, cast.owner)
    page.set_viewport_size(LAPTOP)
    page.goto(f"/orgs/{cast.organization.pk}/roster/")
    expect(page.locator("[data-nav-toggle]")).to_be_hidden()
    organization_nav = page.get_by_role("complementary", name="Organization")
    expect(organization_nav.get_by_role("link", name="Roster")).to_have_attribute("aria-current", "page")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Organizations", exact=True)
    ).to_have_attribute("aria-current", "page")
    assert horizontal_overflow(page) <= 0


def test_device_permissions_are_a_grid_of_checkboxes(page, cast):
    sign_in(page, cast.member_user)
    page.set_viewport_size(LAPTOP)
    page.goto("/privacy/")
    grid = page.get_by_test_id("device-permissions-grid")
    assert grid.evaluate("element => getComputedStyle(element).display") == "grid"
    boxes = grid.get_by_role("checkbox")
    tops = {round(boxes.nth(index).bounding_box()["y"]) for index in range(boxes.count())}
    assert boxes.count() >= 4 and len(tops) < boxes.count()  # several on one row, not one per line


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_console_fits_a_laptop_screen(page, cast, live_server, language):
    from dataprotection.audit import record_event

    for index in range(30):
        record_event("member.revealed", actor=cast.owner, organization=cast.organization, target=cast.member)
        MemberFactory(organization=cast.organization, department=cast.sales, name=f"Console Person {index}")
    sign_in(page, cast.staff)
    use_language(page, live_server, language)
    page.set_viewport_size(LAPTOP)
    for path in (
        "/ops/",
        "/ops/dataprotection/auditevent/",
        "/ops/dataprotection/anonymizationjob/",
        "/ops/requests/datasubjectrequest/",
        "/ops/organizations/member/",
        "/ops/consent/deletionnotice/",
        "/ops/accounts/user/",
    ):
        page.goto(path)
        assert horizontal_overflow(page) <= 0, f"{path} scrolls sideways at 1366 px ({language})"
        results = page.locator("#changelist .results")
        if results.count():
            assert results.evaluate("e => e.scrollWidth - e.clientWidth") <= 0, f"{path}: the list scrolls sideways"
