"""Children's roster entries in the operations console (SEC-3): staff see them only with
the explicit right, by each organization's own age threshold, and every look is audited."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from dataprotection.models import AuditEvent
from organizations.models.children import AUSTRALIA
from tests.factories import MemberFactory, OrganizationFactory, UserFactory


def years_ago(years: int, days: int = 0) -> date:
    """``years`` birthdays ago (a day clipped to 28 so no month end is crossed), ``days`` earlier."""
    today = timezone.localdate()
    return date(today.year - years, today.month, min(today.day, 28)) - timedelta(days=days)


@pytest.fixture
def roster(db):
    default_org = OrganizationFactory()
    australian_org = OrganizationFactory(children_jurisdiction=AUSTRALIA)
    return {
        "child": MemberFactory(organization=default_org, name="Child Thirteen", birthday=years_ago(13)),
        "adult": MemberFactory(organization=default_org, name="Grown Up", birthday=years_ago(30)),
        "au_fourteen": MemberFactory(organization=australian_org, name="Aussie Fourteen", birthday=years_ago(14, 10)),
        "cn_fourteen": MemberFactory(organization=default_org, name="Mainland Fourteen", birthday=years_ago(14, 10)),
    }


def staff(*permissions: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="organizations", codename__in=permissions)
    )
    return user


def test_staff_without_the_right_see_no_child_by_each_organizations_threshold(client, roster):
    """SEC-3: under 14, or under 15 where the organization is Australian, is hidden from
    the console list and the change page (404) without ``view_children``."""
    client.force_login(staff("view_member"))
    page = client.get(reverse("admin:organizations_member_changelist")).content.decode()
    assert "Grown Up" in page and "Mainland Fourteen" in page
    assert "Child Thirteen" not in page and "Aussie Fourteen" not in page
    response = client.get(reverse("admin:organizations_member_change", args=[roster["child"].pk]))
    assert response.status_code == 302  # the admin's "does not exist" redirect, nothing shown
    assert not AuditEvent.objects.filter(action="child.viewed").exists()


def test_staff_with_the_right_see_children_and_every_look_is_audited(client, roster):
    """SEC-3: with the explicit right the child is listed; opening the record writes
    ``child.viewed`` naming the staff member; an adult's record writes nothing."""
    viewer = staff("view_member", "view_children")
    client.force_login(viewer)
    page = client.get(reverse("admin:organizations_member_changelist")).content.decode()
    assert "Child Thirteen" in page and "Aussie Fourteen" in page
    assert client.get(reverse("admin:organizations_member_change", args=[roster["child"].pk])).status_code == 200
    assert client.get(reverse("admin:organizations_member_change", args=[roster["adult"].pk])).status_code == 200
    event = AuditEvent.objects.get(action="child.viewed")
    assert event.actor == viewer and event.target_id == str(roster["child"].pk)
    assert event.metadata["page"] == "console"
