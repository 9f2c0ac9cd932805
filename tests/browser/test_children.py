"""Browser journey for children's data (SEC-3) in Debian's chromium via Playwright: a
child's record cannot be exported."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from organizations.models import Administrator
from tests.browser.pages import sign_in
from tests.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_a_childs_record_cannot_be_exported(page, cast):
    """SEC-3: the owner, even as the designated children's data officer, exports the
    roster: the page says a child's record is left out and why, and the downloaded
    file has every adult and no child."""
    today = timezone.localdate()
    MemberFactory(
        organization=cast.organization,
        department=cast.sales,
        name="Little Kid",
        birthday=date(today.year - 9, today.month, min(today.day, 28)),
    )
    cast.organization.children_data_officer = Administrator.objects.get(user=cast.owner)
    cast.organization.save(update_fields=["children_data_officer"])
    sign_in(page, cast.owner)
    page.goto(f"/orgs/{cast.organization.pk}/roster/")
    expect(page.locator("#roster")).to_contain_text("Little Kid")  # the officer may view it
    page.get_by_role("link", name="Exports leave children's records out: see how many").click()
    expect(page.get_by_role("heading", name="Export the roster", level=1)).to_be_visible()
    expect(page.locator("#children-left-out")).to_contain_text(
        "1 child's record is left out: children's data is never downloaded in bulk."
    )
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    body = open(info.value.path(), encoding="utf-8-sig").read()  # noqa: SIM115
    names = [row["name"] for row in csv.DictReader(io.StringIO(body))]
    assert names == ["Member"]
    assert "Little Kid" not in body
