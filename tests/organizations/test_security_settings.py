"""The organization's security settings page (SEC-1): the owner decides whether every
administrator needs two-factor authentication; the gate's check adds no query."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dataprotection.models import AuditEvent
from organizations.context_processors import cached_shutdown_notices
from organizations.models import Organization
from tests.organizations.matrix import ROLES, client_as, org_url
from tests.organizations.test_roster_views import ROSTER_QUERIES

pytestmark = pytest.mark.django_db

EXPECTED = {
    "owner": 200,
    "sub_admin": 403,
    "out_of_scope_sub_admin": 403,
    "other_org_admin": 404,
    "member_user": 404,
    "anonymous": 302,
}


def ticked(response) -> bool:
    return bool(re.search(r'name="require_admin_two_factor"[^>]*checked', response.content.decode()))


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(client, cast, role):
    """SEC-1: owner only; sub-administrators 403, outsiders 404, visitors to sign-in;
    a POST by anyone but the owner changes nothing."""
    client_as(client, cast, role)
    url = org_url("security", cast)
    assert client.get(url).status_code == EXPECTED[role]
    response = client.post(url, {})  # unticked: turn the requirement off
    assert response.status_code == (302 if role == "owner" else EXPECTED[role])
    required = Organization.objects.get(pk=cast.organization.pk).require_admin_two_factor
    assert required is (role != "owner")


def test_the_owner_switches_the_requirement_off_and_on(client, cast):
    """SEC-1: audited; the page shows the current value."""
    client.force_login(cast.owner)
    url = org_url("security", cast)
    assert ticked(client.get(url))  # on by default
    client.post(url, {})
    organization = Organization.objects.get(pk=cast.organization.pk)
    assert organization.require_admin_two_factor is False
    event = AuditEvent.objects.get(action="organization.two_factor_requirement_changed")
    assert event.metadata == {"before": True, "after": False} and event.organization_id == organization.pk
    assert not ticked(client.get(url))
    response = client.post(url, {"require_admin_two_factor": "on"}, follow=True)
    assert "Every administrator now needs two-factor authentication." in response.content.decode()
    assert Organization.objects.get(pk=organization.pk).require_admin_two_factor is True
    unchanged = client.post(url, {"require_admin_two_factor": "on"}, follow=True)
    assert "Nothing was changed." in unchanged.content.decode()
    assert AuditEvent.objects.filter(action="organization.two_factor_requirement_changed").count() == 2


def test_switching_it_on_gates_unverified_sub_admins(client, cast):
    """SEC-1: a sub-administrator signed in without a second factor keeps working while
    it is off, and is sent to enrollment as soon as the owner turns it on."""
    Organization.objects.filter(pk=cast.organization.pk).update(require_admin_two_factor=False)
    client.force_login(cast.sub_admin, second_factor=False)
    roster = org_url("roster", cast)
    assert client.get(roster).status_code == 200
    Organization.objects.filter(pk=cast.organization.pk).update(require_admin_two_factor=True)
    response = client.get(roster)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/two-factor/enroll/")


@pytest.mark.parametrize("role", ["owner", "sub_admin"])
def test_the_gate_adds_no_query_to_a_list_page(client, cast, role, django_assert_num_queries):
    """SEC-1: the second-factor check reads the session only: the roster page costs the
    queries pinned before two-factor authentication existed, none of them on devices."""
    client.force_login(getattr(cast, role))
    cached_shutdown_notices()  # the ANON-6 banners' list is cached for a minute: warm, as in steady state
    with CaptureQueriesContext(connection) as queries:
        assert client.get(org_url("roster", cast)).status_code == 200
    assert len(queries) == ROSTER_QUERIES[role]
    assert not any("otp_" in query["sql"] for query in queries.captured_queries)
