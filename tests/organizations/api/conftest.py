"""Fixtures of the organization API tests (the REST API): an API client for each role of the
permission matrix (tests/organizations/matrix.py), plus the owner's read-only token and
the owner's write token restricted to another organization."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.api.tokens import create_api_token
from accounts.models import TokenScope
from organizations.models import AdministratorRole
from tests.factories import AdministratorFactory, OrganizationFactory, verified_session
from tests.organizations.matrix import ROLES
from tests.organizations.test_roster_views import roster  # noqa: F401 (the roster tests' fixture, shared)

API_ROLES = (*ROLES, "read_token", "other_org_token")


def api_client_as(cast, role: str) -> APIClient:
    client = APIClient()
    if role == "read_token":
        secret, _token = create_api_token(
            cast.owner, minted_by=verified_session(), name="reader", scope=TokenScope.READ
        )
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    elif role == "other_org_token":
        # The owner also owns a second organization; the token is restricted to it.
        other = OrganizationFactory(name="Owner's second org")
        AdministratorFactory(organization=other, user=cast.owner, role=AdministratorRole.OWNER)
        secret, _token = create_api_token(
            cast.owner, minted_by=verified_session(), name="other", scope=TokenScope.WRITE, organization_id=other.pk
        )
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    elif role != "anonymous":
        client.force_authenticate(getattr(cast, role))
    return client


@pytest.fixture
def owner_api(cast) -> APIClient:
    return api_client_as(cast, "owner")


def base(cast) -> str:
    return f"/api/v1/organizations/{cast.organization.pk}/"


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]
