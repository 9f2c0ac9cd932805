"""The permission matrix of every organization API endpoint and method (ORG-9):
the roles of tests/organizations/matrix.py plus a read-only token and a token
restricted to another organization. Out of scope: 404; in scope without the right:
403; no credentials: 401; a read-only token cannot write."""

from __future__ import annotations

import pytest

from organizations.models import Administrator
from tests.organizations.api.conftest import API_ROLES, api_client_as, base

# Everyone outside the organization, whatever the endpoint.
OUTSIDE = {"anonymous": 401, "member_user": 404, "other_org_admin": 404, "other_org_token": 404}


def expect(owner, sub_admin, out_of_scope, *, write: bool) -> dict:
    return {
        **OUTSIDE,
        "owner": owner,
        "sub_admin": sub_admin,
        "out_of_scope_sub_admin": out_of_scope,
        "read_token": 403 if write else owner,
    }


def _sub_admin_row(cast) -> int:
    return Administrator.objects.get(organization=cast.organization, user=cast.sub_admin).pk


# (name, method, path under the organization, body, expected statuses)
CASES = [
    ("detail", "get", lambda c: "", None, expect(200, 200, 200, write=False)),
    ("departments", "get", lambda c: "departments/", None, expect(200, 200, 200, write=False)),
    (
        "department create",
        "post",
        lambda c: "departments/",
        lambda c: {"name": "Sales North", "parent": c.sales.pk},
        expect(201, 201, 400, write=True),  # a parent it cannot see is a bad input
    ),
    ("department", "get", lambda c: f"departments/{c.sales_east.pk}/", None, expect(200, 200, 404, write=False)),
    (
        "department update",
        "patch",
        lambda c: f"departments/{c.sales_east.pk}/",
        lambda c: {"name": "East"},
        expect(200, 200, 404, write=True),
    ),
    (
        "department delete",
        "delete",
        lambda c: f"departments/{c.engineering.pk}/",
        None,
        expect(204, 404, 204, write=True),
    ),
    ("members", "get", lambda c: "members/", None, expect(200, 200, 200, write=False)),
    (
        "member create",
        "post",
        lambda c: "members/",
        lambda c: {"name": "New person", "mobile": "+8613900000001", "department": c.sales_east.pk},
        expect(201, 201, 400, write=True),
    ),
    ("member", "get", lambda c: f"members/{c.member.pk}/", None, expect(200, 200, 404, write=False)),
    (
        "member update",
        "patch",
        lambda c: f"members/{c.member.pk}/",
        lambda c: {"position": "Lead"},
        expect(200, 200, 404, write=True),
    ),
    (
        "member reveal",
        "post",
        lambda c: f"members/{c.member.pk}/reveal/",
        lambda c: {"field": "mobile"},
        expect(200, 403, 404, write=True),
    ),
    (
        "members bulk",
        "post",
        lambda c: "members/bulk/",
        lambda c: {
            "attestation": {"confirmed": True},
            "mode": "all_or_nothing",
            "rows": [{"name": "Bulk person", "mobile": "+8613900000002", "department": "Sales/Sales East"}],
        },
        expect(200, 200, 422, write=True),
    ),
    ("administrators", "get", lambda c: "administrators/", None, expect(200, 403, 403, write=False)),
    (
        "administrator appoint",
        "post",
        lambda c: "administrators/",
        lambda c: {"phone": c.member_user.phone, "rights": ["view_roster"], "departments": [c.sales.pk]},
        expect(201, 403, 403, write=True),
    ),
    (
        "administrator",
        "get",
        lambda c: f"administrators/{_sub_admin_row(c)}/",
        None,
        expect(200, 403, 403, write=False),
    ),
    (
        "administrator update",
        "patch",
        lambda c: f"administrators/{_sub_admin_row(c)}/",
        lambda c: {"rights": ["view_roster"]},
        expect(200, 403, 403, write=True),
    ),
    (
        "administrator remove",
        "delete",
        lambda c: f"administrators/{_sub_admin_row(c)}/",
        None,
        expect(204, 403, 403, write=True),
    ),
    ("disband status", "get", lambda c: "disband/", None, expect(200, 403, 403, write=False)),
    # A wrong code: the owner passes the gate and is refused on the code (400).
    (
        "disband start",
        "post",
        lambda c: "disband/",
        lambda c: {"code": "000000", "confirm_name": c.organization.name},
        expect(400, 403, 403, write=True),
    ),
    ("disband code", "post", lambda c: "disband/code/", None, expect(202, 403, 403, write=True)),
    ("disband cancel", "post", lambda c: "disband/cancel/", None, expect(409, 403, 403, write=True)),
    ("audit events", "get", lambda c: "audit-events/", None, expect(200, 403, 403, write=False)),
]


@pytest.mark.parametrize("role", API_ROLES)
@pytest.mark.parametrize(("name", "method", "path", "body", "expected"), CASES, ids=[case[0] for case in CASES])
def test_permission_matrix(cast, role, name, method, path, body, expected):
    """ORG-9: every endpoint and method answers each role as the pages do."""
    client = api_client_as(cast, role)
    kwargs = {"format": "json"}
    if body is not None:
        kwargs["data"] = body(cast)
    response = getattr(client, method)(base(cast) + path(cast), **kwargs)
    assert response.status_code == expected[role], (role, response.content[:500])


@pytest.mark.parametrize("role", API_ROLES)
def test_organization_list_matrix(cast, role):
    """ORG-1: the list shows only what the caller administers; anonymous 401;
    a token restricted to another organization lists nothing of this one."""
    response = api_client_as(cast, role).get("/api/v1/organizations/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    names = [row["name"] for row in response.json()["results"]]
    expected = {
        "owner": ["Hangzhou Example Co."],
        "sub_admin": ["Hangzhou Example Co."],
        "out_of_scope_sub_admin": ["Hangzhou Example Co."],
        "other_org_admin": ["Other Org"],
        "member_user": [],
        "read_token": ["Hangzhou Example Co."],
        "other_org_token": ["Owner's second org"],
    }[role]
    assert names == expected
