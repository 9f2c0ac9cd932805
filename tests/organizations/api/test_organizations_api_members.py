"""The roster API (the REST API; ORG-4, ORG-5, ORG-6, ORG-7, ORG-10): cursor-paginated list
with the roster page's filters and masking, masked detail, audited reveal, correction
and creation through the roster form, services and the import's row checks."""

from __future__ import annotations

import pytest

from dataprotection.models import AuditEvent
from organizations.models import AttestationKind, Member, MemberStatus, Right, UploadAttestation
from organizations.services.grants import grant_rights
from tests.factories import MemberFactory
from tests.organizations.api.conftest import api_client_as, base, error_of
from tests.organizations.test_roster_views import ID_NUMBER, MOBILE, collect, populate

pytestmark = pytest.mark.django_db


def members_url(cast, query: str = "") -> str:
    return base(cast) + "members/" + (f"?{query}" if query else "")


# --------------------------------------------------------------------------- list


def test_list_masks_mobile_and_id_number_like_the_roster_page(cast, owner_api, roster):
    """ORG-10: the list never carries a sensitive value in clear."""
    response = owner_api.get(members_url(cast))
    assert response.status_code == 200
    body = response.content.decode()
    assert MOBILE not in body and ID_NUMBER not in body
    row = next(row for row in response.json()["results"] if row["id"] == cast.member.pk)
    assert row["mobile"] == "+86139****5678"
    assert row["id_number"].startswith("1101") and "*" in row["id_number"]
    assert row["primary_department"] == "Sales East"
    assert row["employee_number"] == "S-1001"


def test_each_role_sees_exactly_its_subtree(cast, roster):
    """ORG-9: the Sales sub-administrator sees Sales and below, nothing else."""
    response = api_client_as(cast, "sub_admin").get(members_url(cast))
    ids = {row["id"] for row in response.json()["results"]}
    assert ids == {cast.member.pk, roster["sales"].pk}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=Sales%20Lead", {"sales"}),
        ("q=E-2001", {"engineering"}),
        ("q=13911110001", {"sales"}),  # a mobile number: exact, through the digest
        ("department={sales}", {"member", "sales"}),  # the subtree
        ("status=invited", set()),
    ],
)
def test_filters_search_as_the_roster_page(cast, owner_api, roster, query, expected):
    """ORG-7: search by name, employee number, mobile; department subtree; status."""
    response = owner_api.get(members_url(cast, query.format(sales=cast.sales.pk)))
    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {roster[key].pk for key in expected}


def test_department_filter_outside_scope_is_404(cast, roster):
    response = api_client_as(cast, "sub_admin").get(members_url(cast, f"department={cast.engineering.pk}"))
    assert response.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "cursor=not-a-cursor",
        "cursor=%FF%FE",
        "department=abc",
        "status=gone",
        "status=",
        "department=",
        "q=" + "x" * 101,
    ],
)
def test_bad_list_parameters_are_400(cast, owner_api, query):
    """Bad input: an invalid cursor or filter is a 400 with a message."""
    response = owner_api.get(members_url(cast, query))
    assert response.status_code == 400
    assert error_of(response)["message"]


@pytest.mark.parametrize("ordering", ["name", "-name", "-employee_number", "-id"])
def test_the_cursor_walks_any_ordering_once(cast, owner_api, roster, ordering):
    """Ordering: each member exactly once, in the order asked for (ties by id)."""
    MemberFactory(organization=cast.organization, name="Aaron Same", employee_number="")
    MemberFactory(organization=cast.organization, name="Aaron Same", employee_number="")
    seen = []
    url = members_url(cast, f"page_size=2&ordering={ordering}")
    while url:
        page = owner_api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    members = Member.objects.filter(organization=cast.organization)
    order = [ordering] if ordering.lstrip("-") == "id" else [ordering, "-id" if ordering.startswith("-") else "id"]
    assert seen == list(members.order_by(*order).values_list("id", flat=True))


def test_cursor_walks_the_whole_roster_once(cast, owner_api, roster):
    seen = []
    url = members_url(cast, "page_size=2")
    while url:
        page = owner_api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == seen and len(seen) == Member.objects.filter(organization=cast.organization).count()


# After the gate (one query for the owner, two for a sub-administrator -- the grants,
# unioned): the page of members with each one's primary department as a subquery.
LIST_QUERIES = {"owner": 2, "sub_admin": 3}


@pytest.mark.parametrize("role", ["owner", "sub_admin"])
@pytest.mark.parametrize(("members", "departments", "grants", "page_size"), [(5, 3, 2, 2), (60, 30, 20, 50)])
def test_list_query_count_is_constant(cast, django_assert_num_queries, role, members, departments, grants, page_size):
    """The REST API: the member list costs the same whatever the page size, the number of
    departments and of grants; filtering by department adds one query (the department)."""
    populate(cast, members, departments, grants)
    client = api_client_as(cast, role)
    with django_assert_num_queries(LIST_QUERIES[role]):
        response = client.get(members_url(cast, f"page_size={page_size}"))
    assert len(response.json()["results"]) == page_size
    with django_assert_num_queries(LIST_QUERIES[role] + 1):
        response = client.get(members_url(cast, f"page_size={page_size}&department={cast.sales.pk}&q=T-00"))
    assert response.status_code == 200


# --------------------------------------------------------------------------- detail and reveal


def test_detail_masks_sensitive_fields_and_omits_fields_not_collected(cast, owner_api, roster):
    """ORG-5, ORG-10: collected fields only, sensitive ones masked."""
    data = owner_api.get(members_url(cast) + f"{cast.member.pk}/").json()
    assert data["fields"]["mobile"] == "+86139****5678"
    assert data["fields"]["id_number"] != ID_NUMBER and "*" in data["fields"]["id_number"]
    assert "home_address" not in data["fields"]  # not collected by default
    assert set(data["masked_fields"]) == {"mobile", "id_number", "bank_card"}
    assert data["can_reveal"] is True and data["departments"][0]["name"] == "Sales East"


def test_reveal_returns_one_value_and_audits_the_field_only(cast, owner_api, roster):
    """ORG-10: the clear value once, never cached; one member.revealed event without it."""
    response = owner_api.post(members_url(cast) + f"{cast.member.pk}/reveal/", {"field": "id_number"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"field": "id_number", "value": ID_NUMBER}
    assert response["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(action="member.revealed")
    assert event.metadata == {"field": "id_number"} and ID_NUMBER not in str(event.metadata)


@pytest.mark.parametrize(
    ("body", "field"), [({"field": "home_address"}, "field"), ({"field": "name"}, "field"), ({}, "field")]
)
def test_reveal_of_a_field_not_collected_or_not_sensitive_is_400(cast, owner_api, roster, body, field):
    response = owner_api.post(members_url(cast) + f"{cast.member.pk}/reveal/", body, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    assert not AuditEvent.objects.filter(action="member.revealed").exists()


def test_reveal_with_view_sensitive_on_the_subtree(cast, roster):
    grant_rights(cast.sub_admin, [Right.VIEW_SENSITIVE], cast.sales)
    client = api_client_as(cast, "sub_admin")
    assert (
        client.post(members_url(cast) + f"{cast.member.pk}/reveal/", {"field": "mobile"}, format="json").json()["value"]
        == MOBILE
    )


# --------------------------------------------------------------------------- PATCH


def patch(client, cast, member, body):
    return client.patch(members_url(cast) + f"{member.pk}/", body, format="json")


def test_patch_corrects_the_member_and_writes_one_event(cast, owner_api, roster):
    """ORG-7: only the fields sent change; one member.updated event."""
    response = patch(owner_api, cast, cast.member, {"position": "Director", "grade": "P7"})
    assert response.status_code == 200, response.content
    assert response.json()["fields"]["position"] == "Director"
    member = Member.objects.get(pk=cast.member.pk)
    assert (member.position, member.grade, member.employee_number) == ("Director", "P7", "S-1001")
    event = AuditEvent.objects.get(action="member.updated")
    assert sorted(event.changes) == ["grade", "position"]


def test_patch_of_a_field_not_collected_is_400_naming_it(cast, owner_api, roster):
    """ORG-5: a field that is off cannot be written."""
    response = patch(owner_api, cast, cast.member, {"home_address": "Somewhere 1", "position": "X"})
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["home_address"]
    assert Member.objects.get(pk=cast.member.pk).position == "Account manager"


def test_patch_of_sensitive_fields_needs_view_sensitive(cast, roster):
    """ORG-10: the Sales sub-administrator edits the roster but not sensitive values."""
    response = patch(api_client_as(cast, "sub_admin"), cast, cast.member, {"bank_card": "6222021234567890128"})
    assert response.status_code == 403


def test_patch_beyond_basic_fields_of_a_member_who_has_not_joined_needs_the_attestation(cast, owner_api, roster):
    """ORG-6, ORG-8: without ``attested`` nothing is written; with it one attestation."""
    invited = roster["sales"]
    Member.objects.filter(pk=invited.pk).update(status=MemberStatus.INVITED, user=None)
    refused = patch(owner_api, cast, invited, {"grade": "P5"})
    assert refused.status_code == 400
    assert "attested" in error_of(refused)["fields"]
    accepted = patch(owner_api, cast, invited, {"grade": "P5", "attested": True})
    assert accepted.status_code == 200
    assert UploadAttestation.objects.get(kind=AttestationKind.MANUAL).fields == ["grade"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"shoe_size": "42"}, "shoe_size"),
        ({"position": ["a", "list"]}, "position"),
        ({"position": {"a": 1}}, "position"),
        ({"position": "x" * 5000}, "position"),
        ({"status": "deleted"}, "status"),
        ({"mobile": "12345"}, "mobile"),
        ({"employee_number": "E-2001"}, "employee_number"),  # taken by the engineer
        ({"name": ""}, "name"),
        ({"hired_on": "yesterday"}, "hired_on"),
    ],
)
def test_bad_patch_is_400_naming_the_field_and_writes_nothing(cast, owner_api, roster, body, field):
    """Bad input: wrong types, unknown fields, huge values, invalid values."""
    response = patch(owner_api, cast, cast.member, body)
    assert response.status_code == 400, response.content
    assert field in error_of(response)["fields"]
    assert not AuditEvent.objects.filter(action="member.updated").exists()


def test_patch_of_a_body_that_is_not_an_object_is_400(cast, owner_api, roster):
    assert patch(owner_api, cast, cast.member, ["position"]).status_code == 400


# --------------------------------------------------------------------------- create


NEW = {"name": "New Person", "mobile": "13900001111", "employee_number": "N-1"}


def test_create_adds_an_invited_entry_in_the_department(cast, owner_api):
    """ORG-7: a new entry through the import's checks, status invited, placed."""
    response = owner_api.post(members_url(cast), {**NEW, "department": cast.sales.pk}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    member = Member.objects.get(pk=data["id"])
    assert (member.name, member.mobile, member.status) == ("New Person", "+8613900001111", MemberStatus.INVITED)
    assert data["departments"] == [{"department": cast.sales.pk, "name": "Sales", "is_primary": True}]
    assert AuditEvent.objects.filter(action="roster.upserted").count() == 1


def test_create_beyond_basic_fields_needs_the_attestation(cast, owner_api):
    """ORG-6: a new entry has not consented; the grade needs the attestation."""
    collect(cast.organization, "grade")
    refused = owner_api.post(members_url(cast), {**NEW, "grade": "P5"}, format="json")
    assert refused.status_code == 400 and "attested" in error_of(refused)["fields"]
    accepted = owner_api.post(members_url(cast), {**NEW, "grade": "P5", "attested": True}, format="json")
    assert accepted.status_code == 201
    assert UploadAttestation.objects.get().kind == AttestationKind.MANUAL


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "No mobile"}, "mobile"),
        ({**NEW, "mobile": MOBILE}, "mobile"),  # already on the roster: no silent update
        ({**NEW, "home_address": "X"}, "home_address"),  # not collected
        ({**NEW, "status": "active"}, "status"),  # not accepted on create
        ({**NEW, "department": 999999}, "department"),
        ({**NEW, "id_number": "123", "attested": True}, "id_number"),
    ],
)
def test_bad_create_is_400_and_writes_nothing(cast, owner_api, roster, body, field):
    before = Member.objects.count()
    response = owner_api.post(members_url(cast), body, format="json")
    assert response.status_code == 400, response.content
    assert field in error_of(response)["fields"]
    assert Member.objects.count() == before


def test_create_replays_an_idempotency_key_and_refuses_it_for_another_body(cast, owner_api):
    """The REST API: the same key answers the first answer again and writes nothing more;
    the same key with another body is a 422."""
    headers = {"HTTP_IDEMPOTENCY_KEY": "hr-sync-1"}
    first = owner_api.post(members_url(cast), NEW, format="json", **headers)
    again = owner_api.post(members_url(cast), NEW, format="json", **headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Member.objects.filter(name="New Person").count() == 1
    other = owner_api.post(members_url(cast), {**NEW, "name": "Someone else"}, format="json", **headers)
    assert other.status_code == 422
    assert error_of(other)["code"] == "idempotency_key_reused"
