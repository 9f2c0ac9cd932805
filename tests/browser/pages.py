"""Steps shared by the browser journeys."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.factories import TEST_PASSWORD


def sign_in(page, user) -> None:
    """Sign ``user`` in with the test password and land on their profile."""
    page.goto("/accounts/sign-in/")
    page.get_by_label("Mobile number").fill(user.phone)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My profile")).to_be_visible()
