"""Browser journey for a significant policy change (CON-6, EN VIII) in Debian's chromium
via Playwright: a person signs in after a significant version was published, is shown
the notice before anything else, acknowledges it and lands on the page they wanted; the
earlier version is still readable at its own address."""

from __future__ import annotations

from datetime import date, timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from consent.models import PolicyAcknowledgement, PolicyVersion
from consent.services.policies import add_draft_text, publish_policy_version
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def test_a_significant_change_is_acknowledged_at_the_next_sign_in(page):
    """CON-6: the notice comes first, says what changed, links the full text; after "I
    have read the changes" the person is on the page they asked for and the
    acknowledgement is recorded. The previous version stays readable."""
    if not PolicyVersion.objects.filter(edition="mainland", version="2019-03").exists():
        # An earlier transactional test flushed the rows the migration loaded: load again.
        import_module("consent.migrations.0003_policy_texts").add_published_policies(apps, None)
    person = UserFactory(name="Reader", date_joined=timezone.now() - timedelta(days=90))
    text = add_draft_text(
        edition="mainland",
        version_label="2030-01",
        language="en",
        part="main",
        title="Privacy policy 2030",
        body="We now share attendance data with your payroll provider.\nYou can object at any time.",
        effective_on=date(2030, 1, 1),
        significant=True,
        changes=["recipients"],
        summary="Attendance data now goes to your payroll provider.",
    )
    version = publish_policy_version(text.version)

    page.goto("/accounts/profile/edit/")
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    page.get_by_label("Mobile number").fill(person.phone)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Our privacy policy has changed", level=1)).to_be_visible()
    notice = page.get_by_test_id("pending-version")
    expect(notice).to_contain_text("Mainland China edition, version 2030-01")
    expect(notice).to_contain_text("The main recipients of sharing, transfer or public disclosure change")
    expect(notice).to_contain_text("Attendance data now goes to your payroll provider.")
    full_text = notice.get_by_role("link", name="Read the full text")
    expect(full_text).to_have_attribute("href", "/policies/mainland/2030-01/")

    page.goto("/orgs/")  # anything else still leads back to the notice
    expect(page.get_by_role("heading", name="Our privacy policy has changed", level=1)).to_be_visible()
    page.goto("/accounts/profile/edit/")
    expect(page.get_by_role("heading", name="Our privacy policy has changed", level=1)).to_be_visible()

    page.get_by_role("button", name="I have read the changes").click()
    expect(page.get_by_role("heading", name="Edit profile", level=1)).to_be_visible()
    expect(page.get_by_text("Thank you. We recorded that you have read the changes.")).to_be_visible()
    assert page.url.endswith("/accounts/profile/edit/")
    ack = PolicyAcknowledgement.objects.get(user=person)
    assert ack.version == version

    page.goto("/policies/")
    expect(page.get_by_test_id("current-mainland")).to_contain_text("Current version 2030-01")
    page.get_by_test_id("older-mainland").get_by_role("link", name="2019-03").click()
    expect(page.get_by_test_id("old-version-notice")).to_be_visible()
    expect(page.get_by_test_id("language-fallback")).to_be_visible()
    expect(page.get_by_test_id("policy-text")).to_contain_text("最近更新日期：2019年3月21日")
    assert page.url.endswith("/policies/mainland/2019-03/")
