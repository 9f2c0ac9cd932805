"""Browser journey for "who accessed my data" (SEC-2), in Debian's chromium via
Playwright: the owner reveals a member's ID number on the roster; the member signs in,
follows the link on their profile and sees who revealed it, in which role, and when --
never the value, nor the owner's address."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dataprotection import audit
from dataprotection.identifiers import id_number_check_digit
from dataprotection.models import AuditEvent
from organizations.models import CollectionSetting, Member, Organization
from organizations.services.lookups import id_number_digest
from tests.browser.pages import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.realservices]

ID_NUMBER = "33010619880512345" + id_number_check_digit("33010619880512345")


def test_member_sees_the_owners_reveal_on_who_accessed_my_data(page, cast, monkeypatch):
    # What organizations registers from its AppConfig.ready(): organization names.
    monkeypatch.setattr(
        audit,
        "_organization_namers",
        [lambda ids: dict(Organization.objects.filter(pk__in=ids).values_list("pk", "name"))],
    )
    CollectionSetting.objects.create(organization=cast.organization, field="id_number", enabled=True, purpose="Payroll")
    Member.objects.filter(pk=cast.member.pk).update(id_number=ID_NUMBER, id_number_digest=id_number_digest(ID_NUMBER))

    sign_in(page, cast.owner)
    page.goto(f"/orgs/{cast.organization.pk}/roster/{cast.member.pk}/")
    page.get_by_role("button", name="Reveal ID card number").click()
    expect(page.locator("#sensitive-id_number")).to_contain_text(ID_NUMBER)
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, cast.member_user)
    page.get_by_role("link", name="Who accessed my data").click()
    expect(page.get_by_role("heading", name="Who accessed my data")).to_be_visible()
    rows = page.locator("#access-log tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_contain_text("Owner")
    expect(row).to_contain_text("administrator of Hangzhou Example Co.")
    expect(row).to_contain_text("Revealed a hidden field of your organization record")
    event = AuditEvent.objects.get(action="member.revealed", subject_user=cast.member_user)
    expect(row).to_contain_text(timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M"))
    expect(page.locator("main")).not_to_contain_text(ID_NUMBER)
    expect(page.locator("main")).not_to_contain_text("127.0.0.1")
