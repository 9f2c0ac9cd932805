"""Roster pages (ORG-4, ORG-7, ORG-10): the permission matrix of every view, constant
query counts, search through keyed-hash digests, department subtree filtering, audited
reveals and masked edit trails, and bad input that writes nothing."""

from __future__ import annotations

import itertools
import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dataprotection.identifiers import id_number_check_digit, luhn_check_digit
from dataprotection.models import AuditEvent
from organizations.context_processors import cached_shutdown_notices
from organizations.models import (
    ApprovalRecord,
    AttendancePunch,
    BiometricTemplate,
    CollectionSetting,
    DriveFile,
    ExternalContactCard,
    FamilyContact,
    Member,
    MemberDepartment,
    Organization,
    OrganizationKind,
    Right,
    ScheduleEntry,
    UploadAttestation,
    WorkLog,
)
from organizations.services.grants import grant_rights
from organizations.services.lookups import id_number_digest, mobile_digest
from tests.factories import AdministratorFactory, DepartmentFactory, MemberFactory, UserFactory

pytestmark = pytest.mark.django_db


MOBILE = "+8613912345678"
ID_NUMBER = "11010119900307123" + id_number_check_digit("11010119900307123")
BANK_CARD = "622202123456789012" + luhn_check_digit("622202123456789012")
_SEQUENCE = itertools.count(200)


def make_id_number(sequence: int) -> str:
    first17 = f"11010119850615{sequence % 1000:03d}"
    return first17 + id_number_check_digit(first17)


ROLES = ("owner", "sub_admin", "out_of_scope_sub_admin", "other_org_admin", "member_user", "staff", "anonymous")


def sensitive_member(department, **kwargs) -> Member:
    """A roster entry with encrypted sensitive values and their lookup digests."""
    mobile = kwargs.pop("mobile", MOBILE)
    id_number = kwargs.pop("id_number", None) or make_id_number(next(_SEQUENCE))
    return MemberFactory(
        organization=department.organization,
        department=department,
        mobile=mobile,
        mobile_digest=mobile_digest(mobile),
        id_number=id_number,
        id_number_digest=id_number_digest(id_number),
        bank_card=kwargs.pop("bank_card", BANK_CARD),
        **kwargs,
    )


# Fields the roster tests fill beyond the ones collected by default (ORG-5).
EXTENDED_FIELDS = ("grade", "labor_contract_status", "hired_on", "id_number", "bank_card")


def collect(organization, *fields: str, purpose: str = "Payroll and HR records") -> None:
    """Turn fields on in the organization's collection settings (ORG-5)."""
    for field in fields:
        CollectionSetting.objects.update_or_create(
            organization=organization, field=field, defaults={"enabled": True, "purpose": purpose}
        )


def client_for(client, cast, role):
    if role != "anonymous":
        client.force_login(getattr(cast, role))
    return client


def visible_ids(response) -> set[int]:
    return {member.pk for member in response.context["members"]}


def roster_url(cast, **query) -> str:
    url = reverse("organizations:roster", args=[cast.organization.pk])
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


def member_url(cast, name="member", member=None, **kwargs) -> str:
    member = member or cast.member
    return reverse(f"organizations:{name}", kwargs={"org_id": cast.organization.pk, "member_id": member.pk, **kwargs})


@pytest.fixture
def roster(cast):
    """Members in each part of the tree; ``cast.member`` (Sales East) gets sensitive values.
    The organization collects the fields the tests fill (ORG-5)."""
    collect(cast.organization, *EXTENDED_FIELDS)
    Member.objects.filter(pk=cast.member.pk).update(
        mobile=MOBILE,
        mobile_digest=mobile_digest(MOBILE),
        id_number=ID_NUMBER,
        id_number_digest=id_number_digest(ID_NUMBER),
        bank_card=BANK_CARD,
        employee_number="S-1001",
        position="Account manager",
    )
    cast.member.refresh_from_db()
    return {
        "member": cast.member,
        "root": sensitive_member(cast.root, name="Root Person", mobile="+8613911110000"),
        "sales": sensitive_member(cast.sales, name="Sales Lead", employee_number="S-1002", mobile="+8613911110001"),
        "engineering": sensitive_member(
            cast.engineering, name="Engineer", employee_number="E-2001", mobile="+8613911110002"
        ),
    }


# --------------------------------------------------------------------------- permission matrix

# Expected status per role: list, detail, edit (GET), reveal (POST id_number).
MATRIX = {
    "owner": (200, 200, 200, 200),
    "sub_admin": (200, 200, 200, 403),  # in scope; edit_roster but no view_sensitive
    "out_of_scope_sub_admin": (200, 404, 404, 404),  # administers Engineering only
    "other_org_admin": (404, 404, 404, 404),
    "member_user": (404, 404, 404, 404),
    "staff": (404, 404, 404, 404),
    "anonymous": (302, 302, 302, 302),
}


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix_of_every_roster_view(client, cast, role):
    """ORG-9 gate on ORG-7/ORG-10 pages: 404 out of scope, 403 without the right,
    anonymous visitors sent to sign in."""
    collect(cast.organization, "id_number")
    client = client_for(client, cast, role)
    responses = (
        client.get(roster_url(cast)),
        client.get(member_url(cast)),
        client.get(member_url(cast, "member_edit")),
        client.post(member_url(cast, "member_reveal", field="id_number")),
    )
    assert tuple(response.status_code for response in responses) == MATRIX[role]
    if role == "anonymous":
        login = reverse("accounts:login")
        assert all(response["Location"].startswith(login) for response in responses)
    expected_reveals = 1 if role == "owner" else 0
    assert AuditEvent.objects.filter(action="member.revealed").count() == expected_reveals


def test_edit_post_without_edit_roster_is_403_and_writes_nothing(client, cast):
    viewer = UserFactory(name="Viewer")
    AdministratorFactory(organization=cast.organization, user=viewer, scope=[cast.sales])
    grant_rights(viewer, [Right.VIEW_ROSTER], cast.sales)
    client.force_login(viewer)
    assert client.get(member_url(cast)).status_code == 200
    assert client.get(member_url(cast, "member_edit")).status_code == 403
    response = client.post(member_url(cast, "member_edit"), {"name": "Renamed", "status": "active"})
    assert response.status_code == 403
    cast.member.refresh_from_db()
    assert cast.member.name == "Member"
    assert not AuditEvent.objects.filter(action="member.updated").exists()


def test_reveal_is_post_only(client, cast):
    client.force_login(cast.owner)
    assert client.get(member_url(cast, "member_reveal", field="id_number")).status_code == 405
    assert not AuditEvent.objects.exists()


# --------------------------------------------------------------------------- list: scope, search, filter


def test_each_role_sees_exactly_its_subtree(client, cast, roster):
    expected = {
        "owner": {m.pk for m in roster.values()},
        "sub_admin": {roster["member"].pk, roster["sales"].pk},
        "out_of_scope_sub_admin": {roster["engineering"].pk},
    }
    for role, ids in expected.items():
        client.force_login(getattr(cast, role))
        assert visible_ids(client.get(roster_url(cast))) == ids, role


def test_list_shows_masked_values_never_clear(client, cast, roster):
    client.force_login(cast.owner)
    content = client.get(roster_url(cast)).content.decode()
    assert "+86139****5678" in content
    assert "1101**********" + ID_NUMBER[-4:] in content
    assert MOBILE not in content and ID_NUMBER not in content and BANK_CARD not in content
    assert "Sales East" in content  # the primary department column
    assert member_url(cast) in content  # each row links to the detail page


@pytest.mark.parametrize("typed", [MOBILE, "139 1234 5678", "139-1234-5678"])
def test_search_by_mobile_uses_the_digest_and_no_plaintext_sql(client, cast, roster, typed):
    """ORG-10: the number is hashed before it reaches the database."""
    client.force_login(cast.owner)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(roster_url(cast, q=typed.replace("+", "%2B").replace(" ", "+")))
    assert visible_ids(response) == {roster["member"].pk}
    sql = "\n".join(query["sql"] for query in captured.captured_queries)
    assert mobile_digest(MOBILE) in sql
    # Keyed digests and session keys are random-looking hex: they may contain "5678" by
    # chance (the keys differ per run), so look for the number outside them.
    readable = re.sub(r"[0-9a-f]{32,}", "<hex>", sql)
    for fragment in ("13912345678", "1234 5678", "1234-5678", "5678"):
        assert fragment not in readable


def test_search_by_id_number_uses_the_digest(client, cast, roster):
    client.force_login(cast.owner)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(roster_url(cast, q=ID_NUMBER.lower()))
    assert visible_ids(response) == {roster["member"].pk}
    assert all(ID_NUMBER not in query["sql"] and ID_NUMBER[6:14] not in query["sql"] for query in captured)


def test_search_by_id_number_with_bad_check_digit_finds_nobody_and_sends_no_plaintext(client, cast, roster):
    wrong = ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1")
    client.force_login(cast.owner)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(roster_url(cast, q=wrong))
    assert visible_ids(response) == set()
    assert all(wrong not in query["sql"] for query in captured)


def test_search_by_name_and_employee_number(client, cast, roster):
    client.force_login(cast.owner)
    assert visible_ids(client.get(roster_url(cast, q="lead"))) == {roster["sales"].pk}
    assert visible_ids(client.get(roster_url(cast, q="S-100"))) == {roster["member"].pk, roster["sales"].pk}
    assert visible_ids(client.get(roster_url(cast, q="S-1002"))) == {roster["sales"].pk}
    assert visible_ids(client.get(roster_url(cast, q="1002"))) == set()  # prefix, not contains


def test_search_stays_within_scope(client, cast, roster):
    client.force_login(cast.sub_admin)
    assert visible_ids(client.get(roster_url(cast, q="E-2001"))) == set()
    assert visible_ids(client.get(roster_url(cast, q="+8613911110002"))) == set()


def test_department_filter_includes_the_subtree(client, cast, roster):
    client.force_login(cast.owner)
    sales = visible_ids(client.get(roster_url(cast, department=cast.sales.pk)))
    assert sales == {roster["member"].pk, roster["sales"].pk}
    assert visible_ids(client.get(roster_url(cast, department=cast.sales_east.pk))) == {roster["member"].pk}
    assert visible_ids(client.get(roster_url(cast, department=cast.root.pk))) == {m.pk for m in roster.values()}
    combined = client.get(roster_url(cast, department=cast.sales.pk, q="lead"))
    assert visible_ids(combined) == {roster["sales"].pk}


def test_department_outside_scope_is_404(client, cast, roster):
    other_department = DepartmentFactory(name="Elsewhere")  # another organization
    client.force_login(cast.sub_admin)
    assert client.get(roster_url(cast, department=cast.engineering.pk)).status_code == 404
    assert client.get(roster_url(cast, department=cast.root.pk)).status_code == 404  # above the grant
    assert client.get(roster_url(cast, department=other_department.pk)).status_code == 404
    assert client.get(roster_url(cast, department="sales")).status_code == 404
    assert client.get(roster_url(cast, department=cast.sales_east.pk)).status_code == 200


def test_department_select_lists_only_departments_in_scope(client, cast):
    client.force_login(cast.sub_admin)
    choices = dict(client.get(roster_url(cast)).context["department_choices"])
    assert set(choices) == {cast.sales.pk, cast.sales_east.pk}


def test_department_options_mark_the_chosen_one_and_escape_names(client, cast):
    """ORG-7: the department filter and the bulk move list the departments in scope,
    indented under their parents, the filtered one selected, names escaped."""
    DepartmentFactory(organization=cast.organization, parent=cast.sales, name='<b>"Key" & Co</b>')
    client.force_login(cast.sub_admin)
    html = client.get(roster_url(cast, department=cast.sales_east.pk)).content.decode()
    filter_select = html.split('id="roster-department"', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{cast.sales_east.pk}" selected>\u2003Sales East</option>' in filter_select
    assert f'<option value="{cast.sales.pk}">Sales</option>' in filter_select
    assert filter_select.count(" selected") == 1
    assert "&lt;b&gt;&quot;Key&quot; &amp; Co&lt;/b&gt;" in filter_select and "<b>" not in filter_select
    move_select = html.split('id="roster-move-target"', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{cast.sales_east.pk}">\u2003Sales East</option>' in move_select
    assert " selected" not in move_select


def test_pagination_fifty_per_page(client, cast):
    MemberFactory.create_batch(54, organization=cast.organization, department=cast.sales)
    client.force_login(cast.owner)
    first = client.get(roster_url(cast))
    second = client.get(roster_url(cast, page=2))
    assert len(first.context["members"]) == 50 and first.context["has_next"]
    assert len(second.context["members"]) == 5 and not second.context["has_next"]
    assert visible_ids(first).isdisjoint(visible_ids(second))
    assert client.get(roster_url(cast, page="x")).status_code == 200  # a bad page number shows page 1


# --------------------------------------------------------------------------- query counts


def populate(cast, members: int, departments: int, grants: int) -> None:
    """``departments`` extra teams under Sales (half of them nested one level deeper),
    ``members`` spread over them, and ``grants`` subtree grants to the Sales sub-admin."""
    teams = []
    for index in range(departments):
        parent = teams[-1] if index % 2 and teams else cast.sales
        teams.append(DepartmentFactory(organization=cast.organization, parent=parent, name=f"Team {index}"))
    for index in range(members):
        sensitive_member(teams[index % len(teams)], mobile=f"+86139{index:08d}", employee_number=f"T-{index:04d}")
    rights = [Right.VIEW_ROSTER, Right.EDIT_ROSTER, Right.VIEW_SENSITIVE, Right.HANDLE_REQUESTS]
    for index in range(grants - 2):  # the cast already holds two (view and edit on Sales)
        grant_rights(cast.sub_admin, [rights[index % len(rights)]], teams[index % len(teams)])


# Queries for one roster page, whatever the page size, department count, grant count
# or sort column:
#  1. the session            2. the signed-in user
#  3. the administrator row with its organization (the gate)
#  [4. the administrator's grants, unioned -- sub-administrators only]
#  4/5. the departments in scope (for the select)
#  5/6. the total count of the filtered roster (ORG-7: "N members", page numbers) --
#       only when not counted since the roster last changed (``roster_total``)
#  6/7. the page of members with the primary department name as a subquery
ROSTER_QUERIES = {"owner": 6, "sub_admin": 7}
SORTS = ("name", "-employee_number", "position", "-department", "status")


@pytest.mark.parametrize("role", ["owner", "sub_admin"])
@pytest.mark.parametrize(("members", "departments", "grants"), [(5, 3, 2), (60, 30, 20)])
def test_roster_query_count_is_constant(client, cast, django_assert_num_queries, role, members, departments, grants):
    populate(cast, members, departments, grants)
    client.force_login(getattr(cast, role))
    cached_shutdown_notices()  # the ANON-6 banners' list is cached for a minute: warm, as in steady state
    with django_assert_num_queries(ROSTER_QUERIES[role]):
        response = client.get(roster_url(cast))
    assert len(response.context["members"]) == min(members + 1, 50)  # + cast.member
    with django_assert_num_queries(ROSTER_QUERIES[role]):
        filtered = client.get(roster_url(cast, department=cast.sales.pk, q="T-00"))
    assert filtered.status_code == 200
    for sort in SORTS:
        with django_assert_num_queries(ROSTER_QUERIES[role] - 1):  # the first page's total
            sorted_page = client.get(roster_url(cast, sort=sort, page=2))
        assert sorted_page.status_code == 200, sort


def count_queries(captured) -> int:
    return sum(1 for query in captured.captured_queries if "COUNT(*)" in query["sql"])


def test_roster_total_is_counted_again_only_after_a_change(client, cast):
    """ORG-7: the total is counted once per roster generation and query: a second view
    does not count again, any change of the roster does (an entry saved, a bulk action),
    and an administrator with another scope gets its own count."""
    from organizations.permissions import org_access
    from organizations.services.roster_bulk import remove_members

    MemberFactory.create_batch(3, organization=cast.organization, department=cast.engineering)
    client.force_login(cast.owner)
    with CaptureQueriesContext(connection) as first:
        assert client.get(roster_url(cast)).context["total"] == 4
    with CaptureQueriesContext(connection) as again:
        assert client.get(roster_url(cast)).context["total"] == 4
    assert (count_queries(first), count_queries(again)) == (1, 0)

    added = MemberFactory(organization=cast.organization, department=cast.sales)
    assert client.get(roster_url(cast)).context["total"] == 5
    remove_members(org_access(cast.owner, cast.organization.pk), [added.pk])
    assert client.get(roster_url(cast)).context["total"] == 4
    assert client.get(roster_url(cast, status="left")).context["total"] == 1

    client.force_login(cast.sub_admin)  # Sales only: the cached count is not theirs
    assert client.get(roster_url(cast)).context["total"] == 1


@pytest.mark.parametrize(
    ("action", "moves"), [("roster.imported", True), ("roster.members_moved", True), ("member.revealed", False)]
)
def test_roster_changing_events_move_the_generation_on(cast, action, moves):
    """ORG-7: the audit event of a service that changes the roster with queryset writes
    (no model signal) moves the organization's roster generation on; other events do not."""
    from dataprotection.audit import record_event

    before = Organization.objects.get(pk=cast.organization.pk).roster_generation
    record_event(action, actor=cast.owner, organization=cast.organization)
    after = Organization.objects.get(pk=cast.organization.pk).roster_generation
    assert (after > before) is moves


def test_a_placement_saved_moves_the_generation_on(cast):
    """ORG-7: a department placement saved anywhere (a form, the console) counts as a
    roster change of the department's organization."""
    before = Organization.objects.get(pk=cast.organization.pk).roster_generation
    MemberDepartment.objects.create(member=cast.member, department=cast.engineering, is_primary=False)
    assert Organization.objects.get(pk=cast.organization.pk).roster_generation > before


# Detail page: session, user, administrator, [grants], the member with its departments
# (two queries: the gate's get_member), the placements with their departments, the
# collection settings, the activity counts (one aggregate), then the latest records of
# each of the seven kinds of activity record (punches, approvals, work logs, schedule
# entries, drive files, contact cards, biometric templates).
DETAIL_QUERIES = {"owner": 15, "sub_admin": 16}


@pytest.mark.parametrize("role", ["owner", "sub_admin"])
@pytest.mark.parametrize(("departments", "grants"), [(3, 2), (30, 20)])
def test_detail_query_count_is_constant(client, cast, django_assert_num_queries, role, departments, grants):
    populate(cast, 0, departments, grants)
    client.force_login(getattr(cast, role))
    cached_shutdown_notices()  # the ANON-6 banners' list is cached for a minute: warm, as in steady state
    with django_assert_num_queries(DETAIL_QUERIES[role]):
        assert client.get(member_url(cast)).status_code == 200


# --------------------------------------------------------------------------- detail and reveal


def test_detail_masks_sensitive_values_and_offers_reveal_only_with_the_right(client, cast, roster):
    client.force_login(cast.owner)
    content = client.get(member_url(cast)).content.decode()
    assert "+86139****5678" in content and BANK_CARD[-4:] in content
    assert MOBILE not in content and ID_NUMBER not in content and BANK_CARD not in content
    assert content.count("/reveal/") == 3
    assert "Joined" in content and "Sales East" in content and "S-1001" in content

    client.force_login(cast.sub_admin)
    content = client.get(member_url(cast)).content.decode()
    assert "+86139****5678" in content and "/reveal/" not in content
    assert "Not joined yet" in client.get(member_url(cast, member=roster["sales"])).content.decode()

    grant_rights(cast.sub_admin, [Right.VIEW_SENSITIVE], cast.sales_east)
    assert client.get(member_url(cast)).content.decode().count("/reveal/") == 3
    assert "/reveal/" not in client.get(member_url(cast, member=roster["sales"])).content.decode()


def test_reveal_shows_one_value_and_writes_one_event_without_it(client, cast, roster):
    """ORG-10: every reveal is audited; the trail holds the field name, never the value."""
    client.force_login(cast.owner)
    response = client.post(member_url(cast, "member_reveal", field="id_number"), REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 200
    content = response.content.decode()
    assert ID_NUMBER in content
    assert MOBILE not in content and BANK_CARD not in content  # only the one value
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get()
    assert event.action == "member.revealed"
    assert event.metadata == {"field": "id_number"}
    assert (event.actor, event.subject_user, event.organization_id) == (
        cast.owner,
        cast.member_user,
        cast.organization.pk,
    )
    assert (event.target_type, event.target_id, event.ip_address) == (
        "organizations.member",
        str(cast.member.pk),
        "203.0.113.7",
    )
    stored = json.dumps([event.metadata, event.changes, event.target_id])
    assert ID_NUMBER not in stored and ID_NUMBER[-4:] not in stored


def test_reveal_with_view_sensitive_on_the_subtree(client, cast, roster):
    grant_rights(cast.sub_admin, [Right.VIEW_SENSITIVE], cast.sales)
    client.force_login(cast.sub_admin)
    response = client.post(member_url(cast, "member_reveal", field="bank_card"))
    assert response.status_code == 200 and BANK_CARD in response.content.decode()
    assert AuditEvent.objects.get().metadata == {"field": "bank_card"}
    # view_sensitive on Sales does not reach Engineering: out of scope entirely.
    engineering = member_url(cast, "member_reveal", member=roster["engineering"], field="bank_card")
    assert client.post(engineering).status_code == 404
    assert AuditEvent.objects.count() == 1


@pytest.mark.parametrize("field", ["name", "mobile_digest", "password", "ID_NUMBER"])
def test_reveal_of_a_field_not_allowed_is_404_and_writes_nothing(client, cast, roster, field):
    client.force_login(cast.owner)
    assert client.post(member_url(cast, "member_reveal", field=field)).status_code == 404
    assert not AuditEvent.objects.exists()


def test_reveal_of_a_member_without_account_has_no_subject(client, cast, roster):
    client.force_login(cast.owner)
    client.post(member_url(cast, "member_reveal", member=roster["sales"], field="mobile"))
    event = AuditEvent.objects.get()
    assert event.subject_user is None and event.target_id == str(roster["sales"].pk)


# --------------------------------------------------------------------------- edit


def edit_data(member: Member, **overrides) -> dict:
    data = {
        "name": member.name,
        "employee_number": member.employee_number,
        "position": member.position,
        "grade": member.grade,
        "labor_contract_status": member.labor_contract_status,
        "office_email": member.office_email,
        "office_phone": member.office_phone,
        "hired_on": member.hired_on.isoformat() if member.hired_on else "",
        "status": member.status,
    }
    data.update(overrides)
    return data


def snapshot(member: Member) -> dict:
    member = Member.objects.get(pk=member.pk)
    return {field.attname: getattr(member, field.attname) for field in Member._meta.concrete_fields}


def test_owner_edits_basic_and_sensitive_fields_with_a_masked_trail(client, cast, roster):
    new_mobile, new_id = "+8613700007777", "44030119851231456" + id_number_check_digit("44030119851231456")
    client.force_login(cast.owner)
    response = client.post(
        member_url(cast, "member_edit"),
        edit_data(
            cast.member,
            name="Member Renamed",
            grade="P6",
            hired_on="2024-03-01",
            labor_contract_status="regular",
            mobile="137 0000 7777",
            id_number=new_id.lower(),
        ),
        REMOTE_ADDR="198.51.100.4",
    )
    assert response.status_code == 302
    assert response["Location"] == member_url(cast)
    member = Member.objects.get(pk=cast.member.pk)
    assert (member.name, member.grade, member.hired_on.isoformat()) == ("Member Renamed", "P6", "2024-03-01")
    assert (member.mobile, member.id_number, member.bank_card) == (new_mobile, new_id, BANK_CARD)  # blank card kept
    assert member.mobile_digest == mobile_digest(new_mobile) and member.id_number_digest == id_number_digest(new_id)

    event = AuditEvent.objects.get()
    assert event.action == "member.updated"
    assert event.changes == sorted(["name", "grade", "hired_on", "labor_contract_status", "mobile", "id_number"])
    assert (event.organization_id, event.subject_user, event.ip_address) == (
        cast.organization.pk,
        cast.member_user,
        "198.51.100.4",
    )
    assert event.metadata["before"]["mobile"] == "+86139****5678"
    assert event.metadata["after"]["mobile"] == "+86137****7777"
    assert event.metadata["after"]["id_number"] == new_id[:4] + "*" * 10 + new_id[-4:]
    assert event.metadata["before"]["name"] == "Member" and event.metadata["after"]["name"] == "Member Renamed"
    assert event.metadata["after"]["hired_on"] == "2024-03-01"
    stored = json.dumps(event.metadata)
    for clear in (MOBILE, new_mobile, ID_NUMBER, new_id, "13700007777", "13912345678"):
        assert clear not in stored

    # the new number is found through the digest
    assert visible_ids(client.get(roster_url(cast, q="13700007777"))) == {member.pk}


def test_edit_form_hides_sensitive_inputs_without_view_sensitive(client, cast, roster):
    client.force_login(cast.sub_admin)
    content = client.get(member_url(cast, "member_edit")).content.decode()
    assert 'name="name"' in content and 'name="employee_number"' in content
    for field in ("mobile", "id_number", "bank_card"):
        assert f'name="{field}"' not in content
    client.force_login(cast.owner)
    content = client.get(member_url(cast, "member_edit")).content.decode()
    assert all(f'name="{field}"' in content for field in ("mobile", "id_number", "bank_card"))
    assert MOBILE not in content and ID_NUMBER not in content and BANK_CARD not in content  # inputs start empty


def test_sub_admin_edits_basic_fields(client, cast, roster):
    client.force_login(cast.sub_admin)
    response = client.post(member_url(cast, "member_edit"), edit_data(cast.member, position="Regional manager"))
    assert response.status_code == 302
    assert Member.objects.get(pk=cast.member.pk).position == "Regional manager"
    assert AuditEvent.objects.get().changes == ["position"]


def test_saving_without_changes_records_nothing(client, cast, roster):
    client.force_login(cast.owner)
    assert client.post(member_url(cast, "member_edit"), edit_data(cast.member)).status_code == 302
    assert not AuditEvent.objects.exists()


INVALID = {
    "bad ID check digit": (
        "owner",
        {"id_number": ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1")},
        "id_number",
    ),
    "bad bank card": ("owner", {"bank_card": BANK_CARD[:-1] + str((int(BANK_CARD[-1]) + 1) % 10)}, "bank_card"),
    "malformed mobile": ("owner", {"mobile": "12345"}, "mobile"),
    "duplicate employee number": ("owner", {"employee_number": "S-1002"}, "employee_number"),
    "missing name": ("owner", {"name": ""}, "name"),
    "bad email": ("owner", {"office_email": "not-an-email"}, "office_email"),
    "bad status": ("owner", {"status": "promoted"}, "status"),
    "sensitive field not allowed": ("sub_admin", {"mobile": "137 0000 7777"}, None),
}


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
def test_invalid_edit_shows_a_clear_error_and_writes_nothing(client, cast, roster, case):
    role, overrides, error_field = INVALID[case]
    before = snapshot(cast.member)
    client.force_login(getattr(cast, role))
    response = client.post(member_url(cast, "member_edit"), edit_data(cast.member, grade="changed", **overrides))
    assert response.status_code == 200
    form = response.context["form"]
    if error_field is None:
        assert form.non_field_errors()
    else:
        assert form.errors.get(error_field), form.errors
    assert re.search(r'class="errors', response.content.decode())
    assert snapshot(cast.member) == before
    assert not AuditEvent.objects.exists()


def test_duplicate_employee_number_elsewhere_is_allowed(client, cast, roster):
    """Unique within the organization only; blank numbers never clash."""
    MemberFactory(employee_number="X-1")  # another organization
    client.force_login(cast.owner)
    response = client.post(member_url(cast, "member_edit"), edit_data(cast.member, employee_number="X-1"))
    assert response.status_code == 302
    response = client.post(member_url(cast, "member_edit", member=roster["root"]), edit_data(roster["root"]))
    assert response.status_code == 302  # root's blank number matches others' blank numbers


# --------------------------------------------------------------------------- collection and consent (ORG-5, ORG-6)


def test_edit_form_offers_only_collected_fields(client, cast, roster):
    client.force_login(cast.owner)
    content = client.get(member_url(cast, "member_edit")).content.decode()
    assert 'name="grade"' in content and 'name="id_number"' in content
    for field in ("degree", "home_address", "school", "household_registration", "student_class"):
        assert f'name="{field}"' not in content
    collect(cast.organization, "degree", "home_address")
    content = client.get(member_url(cast, "member_edit")).content.decode()
    assert 'name="degree"' in content and 'name="home_address"' in content


@pytest.mark.parametrize("field, value", [("degree", "bachelor"), ("home_address", "Hangzhou"), ("school", "ZJU")])
def test_edit_refuses_a_field_that_is_not_collected(client, cast, roster, field, value):
    before = snapshot(cast.member)
    client.force_login(cast.owner)
    response = client.post(
        member_url(cast, "member_edit"), edit_data(cast.member, position="Changed", **{field: value})
    )
    assert response.status_code == 200
    assert "does not collect" in str(response.context["form"].non_field_errors())
    assert snapshot(cast.member) == before
    assert not AuditEvent.objects.exists()


def test_service_refuses_a_field_that_is_not_collected(cast):
    from django.core.exceptions import ValidationError

    from organizations.permissions import org_access
    from organizations.services.roster import update_member

    access = org_access(cast.owner, cast.organization.pk)
    with pytest.raises(ValidationError) as caught:
        update_member(access, cast.member, {"degree": "bachelor", "name": "Renamed"})
    assert caught.value.code == "not_collected"
    cast.member.refresh_from_db()
    assert (cast.member.degree, cast.member.name) == ("", "Member")


def test_extended_fields_of_an_unconsented_member_need_the_attestation(client, cast, roster):
    """ORG-6: roster["sales"] has not joined; its grade is beyond the basic fields."""
    sales = roster["sales"]
    before = snapshot(sales)
    client.force_login(cast.owner)
    content = client.get(member_url(cast, "member_edit", member=sales)).content.decode()
    assert 'name="attest"' in content and "gave explicit consent" in content
    response = client.post(member_url(cast, "member_edit", member=sales), edit_data(sales, grade="P7"))
    assert response.status_code == 200
    assert "explicit consent" in str(response.context["form"].errors["attest"])
    assert snapshot(sales) == before
    assert not AuditEvent.objects.exists() and not UploadAttestation.objects.exists()


def test_basic_fields_of_an_unconsented_member_need_no_attestation(client, cast, roster):
    sales = roster["sales"]
    client.force_login(cast.owner)
    response = client.post(member_url(cast, "member_edit", member=sales), edit_data(sales, position="Team lead"))
    assert response.status_code == 302
    assert Member.objects.get(pk=sales.pk).position == "Team lead"
    assert not UploadAttestation.objects.exists()


def test_attested_edit_writes_and_records_the_attestation(client, cast, roster):
    sales = roster["sales"]
    client.force_login(cast.owner)
    response = client.post(
        member_url(cast, "member_edit", member=sales),
        edit_data(sales, grade="P7", hired_on="2023-05-01", attest="on"),
    )
    assert response.status_code == 302
    sales.refresh_from_db()
    assert (sales.grade, sales.hired_on.isoformat()) == ("P7", "2023-05-01")
    attestation = UploadAttestation.objects.get()
    assert (attestation.kind, attestation.rows, attestation.fields) == ("manual", 1, ["grade", "hired_on"])
    assert (attestation.organization, attestation.attested_by) == (cast.organization, cast.owner)
    assert "explicit consent" in attestation.text
    assert AuditEvent.objects.get().metadata["attestation"] == attestation.pk


def test_consented_member_has_no_attestation_checkbox(client, cast, roster):
    client.force_login(cast.owner)
    assert 'name="attest"' not in client.get(member_url(cast, "member_edit")).content.decode()
    response = client.post(member_url(cast, "member_edit"), edit_data(cast.member, grade="P8"))
    assert response.status_code == 302 and not UploadAttestation.objects.exists()


NEW_SENSITIVE = {
    "home_address": ("浙江省杭州市西湖区文三路 90 号", "浙江省杭州市"),
    "emergency_contact_phone": ("+8613711112222", "+86137****2222"),
}


def test_new_sensitive_fields_are_edited_masked_revealed_and_audited(client, cast, roster):
    collect(cast.organization, "home_address", "emergency_contact_name", "emergency_contact_phone")
    client.force_login(cast.owner)
    response = client.post(
        member_url(cast, "member_edit"),
        edit_data(
            cast.member,
            emergency_contact_name="Li Lei",
            home_address=NEW_SENSITIVE["home_address"][0],
            emergency_contact_phone="137 1111 2222",
        ),
    )
    assert response.status_code == 302
    member = Member.objects.get(pk=cast.member.pk)
    assert member.home_address == NEW_SENSITIVE["home_address"][0]
    assert member.emergency_contact_phone == "+8613711112222"
    with connection.cursor() as cursor:
        cursor.execute("SELECT home_address FROM organizations_member WHERE id = %s", [member.pk])
        assert "文三路" not in cursor.fetchone()[0]  # encrypted at rest
    event = AuditEvent.objects.get()
    stored = json.dumps(event.metadata, ensure_ascii=False)
    assert "文三路" not in stored and "13711112222" not in stored

    content = client.get(member_url(cast)).content.decode()
    for clear, masked in NEW_SENSITIVE.values():
        assert masked in content and clear not in content
    assert "Li Lei" in content
    assert content.count("/reveal/") == 5
    for field, (clear, _masked) in NEW_SENSITIVE.items():
        response = client.post(member_url(cast, "member_reveal", field=field))
        assert response.status_code == 200 and clear in response.content.decode()
        assert AuditEvent.objects.filter(action="member.revealed").order_by("pk").last().metadata == {"field": field}

    client.force_login(cast.sub_admin)  # edit_roster on Sales, no view_sensitive
    content = client.get(member_url(cast, "member_edit")).content.decode()
    assert 'name="home_address"' not in content and 'name="emergency_contact_name"' in content
    assert client.post(member_url(cast, "member_reveal", field="home_address")).status_code == 403
    response = client.post(member_url(cast, "member_edit"), edit_data(cast.member, home_address="Elsewhere"))
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assert Member.objects.get(pk=cast.member.pk).home_address == NEW_SENSITIVE["home_address"][0]


def test_reveal_of_a_sensitive_field_that_is_not_collected_is_404(client, cast, roster):
    Member.objects.filter(pk=cast.member.pk).update(home_address="Xihu Road 90")
    client.force_login(cast.owner)
    assert client.post(member_url(cast, "member_reveal", field="home_address")).status_code == 404
    assert "Xihu Road" not in client.get(member_url(cast)).content.decode()
    assert not AuditEvent.objects.exists()


# --------------------------------------------------------------------------- activity records


def add_activity(cast, member: Member, count: int) -> None:
    now = timezone.now()
    org = cast.organization
    common = {"organization": org}
    AttendancePunch.objects.bulk_create(
        AttendancePunch(**common, member=member, punched_at=now - timedelta(hours=i), kind="in", address=f"Gate {i}")
        for i in range(count)
    )
    ApprovalRecord.objects.bulk_create(
        ApprovalRecord(
            **common, applicant=member, kind="leave", title=f"Leave {i}", submitted_at=now - timedelta(hours=i)
        )
        for i in range(count)
    )
    WorkLog.objects.bulk_create(
        WorkLog(**common, member=member, day=now.date() - timedelta(days=i), content=f"Log {i}") for i in range(count)
    )
    ScheduleEntry.objects.bulk_create(
        ScheduleEntry(**common, member=member, title=f"Meeting {i}", starts_at=now - timedelta(hours=i), ends_at=now)
        for i in range(count)
    )
    DriveFile.objects.bulk_create(
        DriveFile(
            **common,
            owner=member,
            name=f"file-{i}.pdf",
            size=1024,
            storage_ref=f"r{i}",
            uploaded_at=now - timedelta(hours=i),
        )
        for i in range(count)
    )
    ExternalContactCard.objects.bulk_create(
        ExternalContactCard(
            **common, owner=member, name=f"Contact {i}", phone="+8613700000000", created_at=now - timedelta(hours=i)
        )
        for i in range(count)
    )
    BiometricTemplate.objects.bulk_create(
        BiometricTemplate(**common, member=member, kind="face", template="SECRET-TEMPLATE") for i in range(count)
    )
    FamilyContact.objects.bulk_create(
        FamilyContact(**common, student=member, name=f"Parent {i}", relation="mother", phone="+8613755556666")
        for i in range(count)
    )


@pytest.mark.parametrize("role", ["owner", "sub_admin"])
@pytest.mark.parametrize("records", [1, 20])
def test_detail_query_count_is_constant_in_activity_records(client, cast, django_assert_num_queries, role, records):
    add_activity(cast, cast.member, records)
    client.force_login(getattr(cast, role))
    cached_shutdown_notices()  # the ANON-6 banners' list is cached for a minute: warm, as in steady state
    with django_assert_num_queries(DETAIL_QUERIES[role]):
        response = client.get(member_url(cast))
    activity = {kind["key"]: kind for kind in response.context["activity"]}
    assert "family_contacts" not in activity  # enterprises hold no family contacts
    for kind in ("punches", "approvals", "work_logs", "schedule", "drive_files", "contact_cards", "biometrics"):
        assert activity[kind]["count"] == records
        assert len(activity[kind]["records"]) == min(records, 5)


def test_detail_shows_activity_without_biometric_templates(client, cast):
    add_activity(cast, cast.member, 7)
    client.force_login(cast.owner)
    content = client.get(member_url(cast)).content.decode()
    assert "Gate 0" in content and "Gate 4" in content and "Gate 5" not in content  # latest five
    assert "The latest 5 of 7." in content
    assert "Leave 0" in content and "Log 0" in content and "Meeting 0" in content and "file-0.pdf" in content
    assert "Contact 0" in content and "Face" in content
    assert "SECRET-TEMPLATE" not in content and "13700000000" not in content
    assert "Parent 0" not in content


def test_school_detail_shows_family_contacts_masked(client, cast, django_assert_num_queries):
    cast.organization.kind = OrganizationKind.SCHOOL
    cast.organization.save()
    add_activity(cast, cast.member, 2)
    client.force_login(cast.owner)
    cached_shutdown_notices()  # the ANON-6 banners' list is cached for a minute: warm, as in steady state
    with django_assert_num_queries(DETAIL_QUERIES["owner"] + 1):  # + the family contacts
        content = client.get(member_url(cast)).content.decode()
    assert "Parent 0" in content and "+86137****6666" in content and "13755556666" not in content
