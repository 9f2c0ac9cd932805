"""The page audit every browser test runs (tests/browser/audit.py): a page still being
checked when the test moves on holds the test only briefly and is checked at the end,
so a slow check never makes a test's click time out, and no page goes unchecked."""

from __future__ import annotations

import contextlib

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser import audit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_page_left_before_its_check_finished_is_checked_at_the_end(page, page_audit, browser):
    def slow_script(route):
        # The layout's script arrives late, so the sign-in page's load event -- and
        # its check -- comes after the test has already moved on.
        with contextlib.suppress(PlaywrightError):  # its request is cancelled meanwhile
            page.wait_for_timeout((audit.HOLD_SECONDS + 3) * 1000)
            route.fallback()

    page.route("**/static/js/layout.js", slow_script, times=1)
    page.goto("/accounts/sign-in/", wait_until="commit")
    while page not in page.context._custodia_audit["pending"]:  # the document has started
        page.wait_for_timeout(25)
    page.goto("/healthz")
    page.unroute_all(behavior="wait")  # the late script's handler ends within the test

    assert [visit.url.rsplit("/", 2)[-2] for visit in page_audit.deferred] == ["sign-in"]
    assert "/accounts/sign-in/" not in page_audit.checked_pages

    page_audit.finish_open_pages(browser)

    assert page_audit.deferred == []
    assert "/accounts/sign-in/" in page_audit.checked_pages
    assert not [problem for problem in page_audit.problems if problem.startswith("not checked")]
