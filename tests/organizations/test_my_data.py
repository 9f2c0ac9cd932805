"""A member sees which organization holds what about them and who changed it (ORG-4,
ORG-7, SEC-2); sensitive values masked; nobody else's entries."""

from __future__ import annotations

import pytest

from dataprotection.audit import record_event
from organizations.context_processors import cached_shutdown_notices
from organizations.models import Member
from tests.factories import MemberFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def test_member_sees_own_entries_masked_with_events(client, cast):
    cast.member.mobile = "+8613912345678"
    cast.member.id_number = "11010519491231002X"
    cast.member.save()
    other = MemberFactory(organization=cast.organization, name="Somebody Else")
    record_event("member.updated", actor=cast.owner, subject=cast.member_user, target=cast.member,
                 organization=cast.organization, changes=["position"])  # fmt: skip
    record_event("member.updated", actor=cast.owner, target=other, organization=cast.organization,
                 changes=["grade"])  # fmt: skip
    second_org = OrganizationFactory(name="Second Org")
    MemberFactory(organization=second_org, user=cast.member_user, name="Member in second org")

    client.force_login(cast.member_user)
    response = client.get("/orgs/my-data/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Hangzhou Example Co." in body and "Second Org" in body
    assert "+86139****5678" in body and "+8613912345678" not in body
    assert "1101**********002X" in body and "11010519491231002X" not in body
    assert "Somebody Else" not in body
    start = body.index("Who viewed or changed it")
    events = body[start : body.index("</table>", start)]  # the first organization's events
    assert "Roster entry changed" in events and "member.updated" not in events  # a label, not a code
    assert "Position" in events and "Grade" not in events  # only events about this person
    assert "Owner" in body


def test_query_count_does_not_grow_with_entries(client, cast, django_assert_num_queries):
    client.force_login(cast.member_user)
    # session, user, entries with organizations, departments, events
    cached_shutdown_notices()  # the ANON-6 banners' list is cached for a minute: warm, as in steady state
    with django_assert_num_queries(5):
        client.get("/orgs/my-data/")
    for index in range(5):
        org = OrganizationFactory(name=f"Org {index}")
        MemberFactory(organization=org, user=cast.member_user)
        record_event("member.updated", actor=cast.owner, subject=cast.member_user, organization=org)
    with django_assert_num_queries(5):
        response = client.get("/orgs/my-data/")
    assert Member.objects.filter(user=cast.member_user).count() == 6
    assert response.content.decode().count('<section class="panel" aria-labelledby') == 6


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/orgs/my-data/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/sign-in/")
