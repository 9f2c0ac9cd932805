"""Every page has an icon: ``<link rel=icon>`` to the vendored files, and ``/favicon.ico``
(which the operations console's pages and some browsers ask for) answers with it,
not a 404."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_pages_link_an_icon_and_favicon_ico_is_served(page, db):
    missing = []
    page.on("response", lambda response: missing.append(response.url) if response.status == 404 else None)
    page.goto("/")
    page.goto("/accounts/sign-in/")
    assert missing == []
    hrefs = page.locator("link[rel=icon]").evaluate_all("links => links.map(link => link.getAttribute('href'))")
    assert len(hrefs) == 2
    for href in hrefs:
        assert page.request.get(href).ok, href
    icon = page.request.get("/favicon.ico")
    assert icon.ok and icon.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert icon.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file
